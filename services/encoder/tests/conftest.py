"""Fixtures of the encoder's tests: the scheduler it asks for commits (a fake that records every report), a
library of real clips in the test's own folder, and encoders on the test's NATS."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from librarrarian_encoder.clock import Clock
from librarrarian_encoder.settings import Settings
from librarrarian_testing import library
from nats.aio.client import Client
from nats.js import JetStreamContext

from .encoder_client import NODE, Scheduler, node_settings, node_status, running_encoder


@pytest.fixture
async def scheduler(bus: tuple[Client, JetStreamContext]) -> AsyncIterator[Scheduler]:
    fake = await Scheduler().start(*bus)
    yield fake
    await fake.stop()


@pytest.fixture
async def media(tmp_path: Path, shared_media: Path) -> library.Library:
    return library.build(tmp_path / "media", shared_media)


@pytest.fixture
async def node_starter(
    bus: tuple[Client, JetStreamContext], nats_url: str, media: library.Library, tmp_path: Path
) -> AsyncIterator[Callable[..., Awaitable[Settings]]]:
    """Starts the encoder ``NODE`` on the test's library (with changes to its settings, on ``clock``'s time
    when given), returns once it is in the ``nodes`` bucket, and stops it after the test."""
    async with contextlib.AsyncExitStack() as running:

        async def start(clock: Clock | None = None, **changes: object) -> Settings:
            settings = node_settings(nats_url, media.root, NODE, grace_seconds=5)
            settings = dataclasses.replace(settings, **changes)  # type: ignore[arg-type]
            await running.enter_async_context(running_encoder(settings, clock=clock))
            await node_status(bus[1], NODE)
            return settings

        yield start
