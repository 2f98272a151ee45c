"""Fixtures of the scanner's tests: the MEDIA stream's events and the scanner's own database schema."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from librarrarian_runtime import migrations
from nats.aio.client import Client
from nats.js import JetStreamContext

from .stand_ins import MediaLog


@pytest.fixture
async def media(bus: tuple[Client, JetStreamContext]) -> AsyncIterator[MediaLog]:
    """Every event published on the MEDIA stream during the test."""
    log = MediaLog(bus[1])
    await log.start()
    yield log
    await log.stop()


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """The scanner's schema, migrated, for a ``Scanner`` used as a function."""
    pool = await migrations.connect_and_migrate(database_url, "scanner", "librarrarian_scanner.migrations")
    yield pool
    await pool.close()
