"""How often the scanner scans is the ``scanner.timing`` setting: ``SCAN_INTERVAL_SECONDS`` is only its
first-start default, and a change applies to the running scanner without a restart."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import msgspec
import pytest
from librarrarian_contracts import topology
from librarrarian_contracts.scans import ScanStatus
from librarrarian_contracts.settings import SCANNER_TIMING_KEY, ScannerTiming
from librarrarian_runtime import kv_entries
from librarrarian_scanner import service
from librarrarian_scanner.settings import Settings
from librarrarian_testing import eventually
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError


@asynccontextmanager
async def scanning(nats_url: str, database_url: str, root: Path, interval: float) -> AsyncIterator[None]:
    """A scanner whose environment says ``SCAN_INTERVAL_SECONDS=interval``, for the block's length."""
    settings = Settings(
        nats_url=nats_url,
        database_url=database_url,
        media_paths=(root,),
        scan_on_start=False,
        scan_interval_seconds=interval,
        watch=False,
    )
    stopping = asyncio.Event()
    task = asyncio.create_task(service.run(settings, stopping))
    try:
        yield
    finally:
        stopping.set()
        await asyncio.wait_for(task, 30)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    media = (tmp_path / "media").resolve()
    media.mkdir()
    return media


async def stored(js: JetStreamContext) -> ScannerTiming | None:
    kv = await js.key_value(topology.SETTINGS.name)
    try:
        entry = await kv.get(SCANNER_TIMING_KEY)
    except KeyNotFoundError:
        return None
    return msgspec.json.decode(entry.value or b"", type=ScannerTiming)


async def scheduled_scans(js: JetStreamContext) -> int:
    found = 0
    for _, value in await kv_entries.values(js, topology.SCANS):
        status = msgspec.json.decode(value, type=ScanStatus)
        found += status.trigger == "schedule"
    return found


async def test_the_environment_seeds_the_interval_and_a_change_applies_without_a_restart(
    bus: tuple[Client, JetStreamContext], nats_url: str, database_url: str, root: Path
) -> None:
    _, js = bus
    async with scanning(nats_url, database_url, root, interval=0):
        seeded = await eventually(lambda: stored(js), message="the scanner started")
        assert seeded == ScannerTiming(scan_interval_seconds=0)  # from the environment
        assert await scheduled_scans(js) == 0
        kv = await js.key_value(topology.SETTINGS.name)
        await kv.put(SCANNER_TIMING_KEY, msgspec.json.encode(ScannerTiming(scan_interval_seconds=0.2)))
        await eventually(lambda: _at_least(js, 2), timeout=30, message="scheduled scans after the change")


async def _at_least(js: JetStreamContext, count: int) -> bool:
    return await scheduled_scans(js) >= count


async def test_the_environment_does_not_override_a_stored_interval(
    bus: tuple[Client, JetStreamContext], nats_url: str, database_url: str, root: Path
) -> None:
    _, js = bus
    kv = await js.key_value(topology.SETTINGS.name)
    await kv.put(SCANNER_TIMING_KEY, msgspec.json.encode(ScannerTiming(scan_interval_seconds=0.2)))
    async with scanning(nats_url, database_url, root, interval=0):
        await eventually(
            lambda: _at_least(js, 1), timeout=30, message="a scheduled scan on the stored interval"
        )
        assert await stored(js) == ScannerTiming(scan_interval_seconds=0.2)
