"""Fixtures of the scheduler's tests: a real scheduler on the test's own NATS and database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from librarrarian_scheduler.settings import Settings
from nats.aio.client import Client
from nats.js import JetStreamContext

from .scheduler_client import StateEvents, running_scheduler


@pytest.fixture
async def scheduler(
    bus: tuple[Client, JetStreamContext], nats_url: str, database_url: str
) -> AsyncIterator[None]:
    """A scheduler that retries a failed attempt once, at once."""
    settings = Settings(nats_url=nats_url, database_url=database_url, max_attempts=2, retry_delay_seconds=0)
    async with running_scheduler(bus[0], settings):
        yield


@pytest.fixture
async def state_events(bus: tuple[Client, JetStreamContext]) -> StateEvents:
    """The job state events published from the start of the test on."""
    return await StateEvents().start(bus[0])
