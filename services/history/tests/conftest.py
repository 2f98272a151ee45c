"""Fixtures of the history's tests: a real history service on the test's own NATS and database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from librarrarian_contracts import topology
from librarrarian_contracts.views import Nothing, Stats
from librarrarian_history import service
from librarrarian_history.settings import Settings
from librarrarian_runtime.errors import ServiceError
from librarrarian_runtime.queries import ask
from librarrarian_testing import eventually
from nats.aio.client import Client
from nats.js import JetStreamContext


@pytest.fixture
async def history(
    bus: tuple[Client, JetStreamContext], nats_url: str, database_url: str
) -> AsyncIterator[Client]:
    """The history service, answering; yields the test's NATS connection."""
    stopping = asyncio.Event()
    task = asyncio.create_task(service.run(Settings(nats_url=nats_url, database_url=database_url), stopping))
    nc, _ = bus

    async def ready() -> bool:
        try:
            await ask(nc, topology.HISTORY_STATS, Nothing(), Stats, timeout=0.5)
        except ServiceError:
            return False
        return True

    await eventually(ready, timeout=20)
    yield nc
    stopping.set()
    await asyncio.wait_for(task, 20)
