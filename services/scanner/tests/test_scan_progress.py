"""Scans report their progress in the ``scans`` bucket, stop when cancelled (running or still queued), hold
files that are still being written, and go on past a file that hangs (real NATS, PostgreSQL and clips)."""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path

import asyncpg
import msgspec
import pytest
from librarrarian_contracts import (
    CancelScan,
    MediaProbe,
    MediaProbed,
    MediaProbeFailed,
    StartScan,
    publish,
    topology,
)
from librarrarian_contracts.scans import ScanStatus, scan_key
from librarrarian_media import probe
from librarrarian_scanner import service
from librarrarian_scanner.probe import Prober
from librarrarian_scanner.progress import ScanRun
from librarrarian_scanner.scan import Scanner
from librarrarian_scanner.settings import Settings
from librarrarian_testing import eventually
from librarrarian_testing.scanning import scan_entries
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError

from .stand_ins import Gate, MediaLog

Bus = tuple[Client, JetStreamContext]
LINKS = (
    20_000  # a few seconds of probing even at ~5,000 files/s: long enough to be seen running and cancelled
)


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
        folder = root / f"Show {i // 100:03d}"
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
    command = StartScan(force=True)
    await publish(js, command)

    async def probing() -> ScanStatus | None:
        found = await status(js, command.event_id)
        return found if found is not None and found.state == "probing" and found.probed >= 20 else None

    running = await eventually(probing, timeout=60)
    assert (running.trigger, running.seen, running.to_probe) == ("request", LINKS, LINKS)
    assert running.rate > 0 and running.eta_seconds is not None and running.eta_seconds > 0
    assert running.queued <= running.probed < LINKS and running.finished_at is None

    await publish(js, CancelScan(scan_id=command.event_id), topology.scan_cancel_subject(command.event_id))
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
    command = StartScan()
    await publish(js, CancelScan(scan_id=command.event_id), topology.scan_cancel_subject(command.event_id))
    await publish(js, command)
    (completed,) = await eventually(lambda: media.scans(1), timeout=60)
    assert completed.cancelled and (completed.seen, completed.probed) == (0, 0)
    assert await catalogued(database_url) == 0
    final = await status(js, command.event_id)
    assert final is not None and final.state == "cancelled"


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


async def test_a_file_that_hangs_mid_batch_fails_alone_and_the_scan_goes_on(
    tmp_path: Path, shared_media: Path, pool: asyncpg.Pool, bus: Bus, media: MediaLog
) -> None:
    root = (tmp_path / "media").resolve()
    root.mkdir()
    clip = shutil.copy(shared_media / "bikes.mp4", tmp_path / "clip.mp4")
    for i in range(12):
        os.link(clip, root / f"Episode {i:02d}.mp4")
    released = threading.Event()

    def read(path: Path) -> MediaProbe:
        if path.name == "Episode 05.mp4":
            released.wait(timeout=60)  # a share that stopped answering, for this file only
        return probe(path)

    scanner = Scanner(
        pool, bus[1], (root,), Prober(workers=2, timeout_seconds=0.5, read=read), settle_seconds=0
    )
    try:
        completed = await asyncio.wait_for(scanner.scan(), 30)
    finally:
        released.set()
    assert (completed.seen, completed.probed, completed.failed) == (12, 12, 1)
    await eventually(lambda: media.scans(1))
    events = media.files(0)
    failed = events.pop("Episode 05.mp4")
    assert isinstance(failed, MediaProbeFailed) and failed.error == "probe timed out after 0.5 s"
    assert len(events) == 11 and all(isinstance(e, MediaProbed) for e in events.values())
    entry = await status(bus[1], completed.scan_id)
    assert entry is not None and (entry.state, entry.probed, entry.errors, entry.queued) == (
        "done",
        12,
        1,
        12,
    )


async def test_files_handed_over_in_several_calls_show_as_one_entry_until_cancelled(
    tmp_path: Path, shared_media: Path, pool: asyncpg.Pool, bus: Bus, media: MediaLog
) -> None:
    _, js = bus
    root = (tmp_path / "media").resolve()
    root.mkdir()
    clip = shutil.copy(shared_media / "bikes.mp4", tmp_path / "clip.mp4")
    files = [root / f"Episode {i}.mp4" for i in range(6)]
    for path in files:
        os.link(clip, path)
    gate = Gate()
    scanner = Scanner(
        pool, js, (root,), Prober(workers=1, timeout_seconds=30, read=gate.read), settle_seconds=0
    )
    run = ScanRun(uuid.uuid4().hex, "plex", ())

    gate.released.set()
    first = await scanner.scan_files(files[:2], run=run)
    second = await scanner.scan_files([files[2], root / "gone.mp4", root / "notes.txt"], run=run)
    assert first.scan_id == second.scan_id == run.scan_id
    assert (first.probed, second.seen, second.probed) == (2, 1, 1)
    entry = await status(js, run.scan_id)
    assert entry is not None and (entry.trigger, entry.state, entry.roots) == ("plex", "done", (str(root),))
    assert (entry.seen, entry.to_probe, entry.probed, entry.queued) == (3, 3, 3, 3)

    nothing = await scanner.scan_files([root / "gone.mp4"])  # no video found: no entry
    assert nothing.seen == 0 and await status(js, nothing.scan_id) is None

    # Cancelled (as a scan.cancel from the Tools page does) while a hand-over runs: it stops before its
    # next file, and the hand-overs after it probe nothing.
    gate.released.clear()
    third = asyncio.create_task(scanner.scan_files(files[3:5], run=run))
    await eventually(lambda: gate.inside == 1)
    assert scanner.cancel(run.scan_id)
    gate.released.set()
    stopped = await third
    assert (stopped.probed, stopped.cancelled) == (1, True)
    last = await scanner.scan_files(files[5:], run=run)
    assert (last.seen, last.probed, last.cancelled) == (1, 0, True)
    entry = await status(js, run.scan_id)
    assert entry is not None and (entry.state, entry.probed, entry.queued) == ("cancelled", 4, 4)
    await eventually(lambda: media.scans(5))
    assert await pool.fetchval("SELECT count(*) FROM files") == 4


async def test_a_scan_waiting_its_turn_keeps_its_entry_current(
    tmp_path: Path, shared_media: Path, pool: asyncpg.Pool, bus: Bus
) -> None:
    """A watch batch behind a long scan says so, and is not taken for a scan whose scanner went away
    (the dashboard calls an entry not rewritten for 30 s interrupted)."""
    _, js = bus
    root = (tmp_path / "media").resolve()
    (root / "Movies").mkdir(parents=True)
    shutil.copyfile(shared_media / "bikes.mp4", root / "Movies" / "Old.mp4")
    os.utime(root / "Movies" / "Old.mp4", ns=(1_000_000_000, 1_000_000_000))
    gate = Gate()
    scanner = Scanner(pool, js, (root,), Prober(workers=1, timeout_seconds=30, read=gate.read))
    long_scan = asyncio.create_task(scanner.scan())
    try:
        await eventually(lambda: gate.inside == 1)
        new = root / "Movies" / "New.mp4"
        shutil.copyfile(shared_media / "bikes.mp4", new)
        batch = asyncio.create_task(scanner.scan_files([new]))
        (waiting,) = await eventually(lambda: scan_entries(js, "watch"))
        assert waiting.state == "queued"
        rewritten = await eventually(
            lambda: _rewritten_since(js, waiting.updated_at), timeout=5, message="the queued entry rewritten"
        )
        assert rewritten.state == "queued"
    finally:
        gate.released.set()
    await asyncio.wait_for(long_scan, 30)
    await asyncio.wait_for(batch, 30)
    (done,) = await scan_entries(js, "watch")
    assert (done.state, done.seen, done.probed) == ("done", 1, 1)


async def _rewritten_since(js: JetStreamContext, when: datetime) -> ScanStatus | None:
    entries = [e for e in await scan_entries(js, "watch") if e.updated_at > when]
    return entries[0] if entries else None
