"""The stale age and the interval are the ``cleanup`` setting: ``STALE_AFTER_HOURS`` and
``CLEANUP_INTERVAL_HOURS`` are only its first-start defaults, and a change applies to the running service
without a restart (real NATS; the scans' summaries are read off the bus)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import msgspec
from librarrarian_cleanup import service
from librarrarian_cleanup.settings import Settings
from librarrarian_contracts import CleanupScanCompleted, FindStaleFiles, publish, topology
from librarrarian_contracts.settings import CLEANUP_KEY, CleanupSettings
from librarrarian_testing import eventually
from librarrarian_testing.files import aged
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError


class Summaries:
    """Every ``cleanup.scan_completed`` published while the test runs."""

    def __init__(self) -> None:
        self.seen: list[CleanupScanCompleted] = []

    async def on_msg(self, msg: Msg) -> None:
        self.seen.append(msgspec.json.decode(msg.data, type=CleanupScanCompleted))


@asynccontextmanager
async def cleaning(nats_url: str, media: Path, **environment: float) -> AsyncIterator[None]:
    settings = Settings(nats_url=nats_url, media_paths=(media,), node="tidy", **environment)  # type: ignore[arg-type]
    stopping = asyncio.Event()
    task = asyncio.create_task(service.run(settings, stopping))
    try:
        yield
    finally:
        stopping.set()
        await asyncio.wait_for(task, 30)


async def stored(js: JetStreamContext) -> CleanupSettings | None:
    kv = await js.key_value(topology.SETTINGS.name)
    try:
        entry = await kv.get(CLEANUP_KEY)
    except KeyNotFoundError:
        return None
    return msgspec.json.decode(entry.value or b"", type=CleanupSettings)


async def put(js: JetStreamContext, value: CleanupSettings) -> None:
    kv = await js.key_value(topology.SETTINGS.name)
    await kv.put(CLEANUP_KEY, msgspec.json.encode(value))


async def test_the_age_and_the_interval_change_without_a_restart(
    bus: tuple[Client, JetStreamContext], nats_url: str, tmp_path: Path
) -> None:
    nc, js = bus
    media = (tmp_path / "media").resolve()
    aged(media / "Movie" / ".tmp_librarrarian-Movie.mkv", 3)  # three days old
    summaries = Summaries()
    sub = await nc.subscribe(topology.CLEANUP_SCAN_COMPLETED, cb=summaries.on_msg)
    try:
        async with cleaning(nats_url, media, stale_after_hours=24, interval_hours=0):
            seeded = await eventually(lambda: stored(js), message="the service started")
            assert seeded == CleanupSettings(stale_after_hours=24, interval_hours=0)  # from the environment

            assert (await look(js, summaries)).found == 1  # older than a day

            await put(js, CleanupSettings(stale_after_hours=100, interval_hours=0))  # about four days
            # Three days old is not stale any more, from the first look after the change arrived.
            await eventually(lambda: _finds_none(js, summaries), message="a look with the new age")

            # An interval where there was none: it looks on its own, again and again.
            await put(js, CleanupSettings(stale_after_hours=48, interval_hours=0.0001))
            asked = len(summaries.seen)
            await eventually(
                lambda: len(summaries.seen) >= asked + 3, timeout=30, message="looks on the interval"
            )
            assert summaries.seen[-1].found == 1
    finally:
        await sub.unsubscribe()


async def look(js: JetStreamContext, summaries: Summaries) -> CleanupScanCompleted:
    """Ask for a look; its summary."""
    before = len(summaries.seen)
    await publish(js, FindStaleFiles())
    return await eventually(lambda: summaries.seen[before] if len(summaries.seen) > before else None)


async def _finds_none(js: JetStreamContext, summaries: Summaries) -> bool:
    return (await look(js, summaries)).found == 0


async def test_the_environment_does_not_override_a_stored_setting(
    bus: tuple[Client, JetStreamContext], nats_url: str, tmp_path: Path
) -> None:
    nc, js = bus
    media = (tmp_path / "media").resolve()
    media.mkdir()
    chosen = CleanupSettings(stale_after_hours=72, interval_hours=0.0001)
    await put(js, chosen)
    summaries = Summaries()
    sub = await nc.subscribe(topology.CLEANUP_SCAN_COMPLETED, cb=summaries.on_msg)
    try:
        async with cleaning(nats_url, media, stale_after_hours=24, interval_hours=0):
            await eventually(
                lambda: len(summaries.seen) >= 2, timeout=30, message="looks on the stored interval"
            )
            assert await stored(js) == chosen
    finally:
        await sub.unsubscribe()
