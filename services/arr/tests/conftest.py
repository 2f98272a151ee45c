"""Fixtures of the arr service's tests: the service itself on a real NATS server and a real database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from .arr_service import ArrService, service_settings, start


@pytest.fixture
def media(tmp_path: Path) -> Path:
    folder = tmp_path / "media"
    folder.mkdir()
    return folder.resolve()


@pytest.fixture
async def arr(
    bus: tuple[Client, JetStreamContext], nats_url: str, database_url: str, media: Path
) -> AsyncIterator[ArrService]:
    nc, js = bus
    running = await start(nc, js, service_settings(nats_url, database_url, media), media)
    try:
        yield running
    finally:
        await running.stop()
