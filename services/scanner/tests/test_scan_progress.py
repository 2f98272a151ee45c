"""Scans report their progress in the ``scans`` bucket, stop when cancelled (running or still queued), and
hold files that are still being written (real NATS, PostgreSQL and clips)."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import msgspec
import pytest
from librarrarian_contracts import ScanCancelRequested, ScanRequested, publish, topology
from librarrarian_contracts.scans import ScanStatus, scan_key
from librarrarian_runtime import migrations
from librarrarian_scanner import service
from librarrarian_scanner.probe import Prober
from librarrarian_scanner.scan import Scanner
from librarrarian_scanner.settings import Settings
from librarrarian_testing import eventually
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError

from .test_scanner import MediaLog, media

__all__ = ["media"]

Bus = tuple[Client, JetStreamContext]
LINKS = 1500


async def status(js: JetStreamContext, scan_id: str) -> ScanStatus | None:
    kv = await js.key_value(topology.SCANS.name)
    try:
        value = (await kv.get(scan_key(scan_id))).value
    except KeyNotFoundError:
        return None
    return msgspec.json.decode(value, type=ScanStatus) if value else None


async def catalogued(database_url: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM scanner.files"))
    finally:
        await conn.close()


@pytest.fixture
def big_library(tmp_path: Path, shared_media: Path) -> Iterator[Path]:
    """``LINKS`` hard links of one clip in show folders: a library too big to probe before a cancel.
    The links are of a copy in the test's own folder: on the same disk (the shared clips may not be), and
    a file has a limited number of links. Removed afterwards."""
    root = (tmp_path / "media").resolve()
    clip = shutil.copy(shared_media / "bikes.mp4", tmp_path / "clip.mp4")
    for i in range(LINKS):
        folder = root / f"Show {i // 100:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        os.link(clip, folder / f"Episode {i:05d}.mp4")
    yield root
    shutil.rmtree(root)


@pytest.fixture
async def scanner_service(big_library: Path, nats_url: str, database_url: str) -> AsyncIterator[Path]:
    settings = Settings(
        nats_url=nats_url,
        database_url=database_url,
        media_paths=(big_library,),
        scan_on_start=False,
        scan_interval_seconds=0,
        watch=False,
        probe_workers=1,
    )
    stopping = asyncio.Event()
    task = asyncio.create_task(service.run(settings, stopping))
    yield big_library
    stopping.set()
    await asyncio.wait_for(task, 30)


async def test_a_running_scan_reports_progress_and_stops_when_cancelled(
    scanner_service: Path, bus: Bus, media: MediaLog, database_url: str
) -> None:
    _, js = bus
    command = ScanRequested(force=True)
    await publish(js, command)

    async def probing() -> ScanStatus | None:
        found = await status(js, command.event_id)
        return found if found is not None and found.state == "probing" and found.probed >= 20 else None

    running = await eventually(probing, timeout=60)
    assert (running.trigger, running.seen, running.to_probe) == ("request", LINKS, LINKS)
    assert running.rate > 0 and running.eta_seconds is not None and running.eta_seconds > 0
    assert running.queued <= running.probed < LINKS and running.finished_at is None

    await publish(
        js, ScanCancelRequested(scan_id=command.event_id), topology.scan_cancel_subject(command.event_id)
    )
    (completed,) = await eventually(lambda: media.scans(1), timeout=60)
    final = await status(js, command.event_id)
    assert final is not None and final.state == "cancelled" and final.finished_at is not None
    assert completed.cancelled and completed.scan_id == command.event_id
    assert running.probed <= completed.probed < LINKS // 2
    assert final.probed == final.queued == completed.probed
    # It stopped probing: what it did is recorded, and nothing more comes.
    assert await catalogued(database_url) == completed.probed
    info = await js.consumer_info(topology.CONTROL.name, topology.SCANNER_CONTROL.durable)
    assert info.num_ack_pending == 0  # a cancelled scan's command is done with
    assert await catalogued(database_url) == completed.probed


async def test_a_scan_cancelled_before_its_turn_never_starts(
    scanner_service: Path, bus: Bus, media: MediaLog, database_url: str
) -> None:
    _, js = bus
    command = ScanRequested()
    await publish(
        js, ScanCancelRequested(scan_id=command.event_id), topology.scan_cancel_subject(command.event_id)
    )
    await publish(js, command)
    (completed,) = await eventually(lambda: media.scans(1), timeout=60)
    assert completed.cancelled and (completed.seen, completed.probed) == (0, 0)
    assert await catalogued(database_url) == 0
    final = await status(js, command.event_id)
    assert final is not None and final.state == "cancelled"


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await migrations.connect_and_migrate(database_url, "scanner", "librarrarian_scanner.migrations")
    yield pool
    await pool.close()


async def test_a_file_still_being_written_is_held_until_it_holds_still(
    tmp_path: Path, shared_media: Path, pool: asyncpg.Pool, bus: Bus, media: MediaLog
) -> None:
    _, js = bus
    root = (tmp_path / "media").resolve()
    root.mkdir()
    shutil.copyfile(shared_media / "bigbuckbunny.mp4", root / "Finished.mp4")
    os.utime(root / "Finished.mp4", ns=(1_000_000_000, 1_000_000_000))
    growing = root / "Downloading.mp4"
    shutil.copyfile(shared_media / "bikes.mp4", growing)
    scanner = Scanner(pool, js, (root,), Prober(workers=2, timeout_seconds=30), settle_seconds=1.0)
    writing = asyncio.Event()

    async def keep_writing() -> None:
        while not writing.is_set():
            with growing.open("ab") as out:
                out.write(b"\0" * 4096)
            await asyncio.sleep(0.1)

    writer = asyncio.create_task(keep_writing())
    try:
        first = await scanner.scan()
    finally:
        writing.set()
        await writer
    assert (first.seen, first.probed) == (2, 1)
    await eventually(lambda: media.scans(1))
    assert sorted(media.files(0)) == ["Finished.mp4"]
    entry = await status(js, first.scan_id)
    assert entry is not None and (entry.state, entry.held, entry.probed) == ("done", 1, 1)
    assert await pool.fetchval("SELECT count(*) FROM files WHERE path = $1", str(growing)) == 0

    # Once it holds still, the next scan takes it (its mtime is still recent: it waits the settle time).
    second = await scanner.scan()
    assert (second.seen, second.probed, second.unchanged) == (2, 1, 1)
    await eventually(lambda: media.scans(2))
    assert list(media.files(1)) == ["Downloading.mp4"]
