"""The scanner against real NATS and PostgreSQL on a real library: as a service, and ``Scanner.scan`` alone."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from librarrarian_contracts import (
    MediaProbed,
    MediaProbeFailed,
    StartScan,
    publish,
    topology,
)
from librarrarian_scanner import commands, service
from librarrarian_scanner.probe import Prober
from librarrarian_scanner.scan import RefusedRoot, Scanner
from librarrarian_scanner.settings import Settings
from librarrarian_testing import eventually, library
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from .stand_ins import Gate, MediaLog

Bus = tuple[Client, JetStreamContext]
# JetStream's advisory for a terminated message (topology has no helper for it yet).
TERMINATED = (
    f"$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.{topology.CONTROL.name}.{topology.SCANNER_CONTROL.durable}"
)


@pytest.fixture
def lib(tmp_path: Path, shared_media: Path) -> library.Library:
    return library.build(tmp_path / "media", shared_media)


@pytest.fixture
async def running(lib: library.Library, nats_url: str, database_url: str, bus: Bus) -> AsyncIterator[None]:
    """The service as a task, with the library as its only media path and no timer."""
    settings = Settings(
        nats_url=nats_url,
        database_url=database_url,
        media_paths=(lib.root.resolve(),),
        scan_interval_seconds=0,
        watch=False,  # these tests count scans; the watch has tests of its own
    )
    stopping = asyncio.Event()
    task = asyncio.create_task(service.run(settings, stopping))
    yield
    stopping.set()
    await asyncio.wait_for(task, 30)


async def catalogue_rows(database_url: str) -> dict[str, asyncpg.Record]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT * FROM scanner.files")
    finally:
        await conn.close()
    return {Path(r["path"]).name: r for r in rows}


@pytest.mark.usefixtures("running")
async def test_a_scan_reports_every_video_once_and_rescans_incrementally(
    lib: library.Library, media: MediaLog, bus: Bus, database_url: str
) -> None:
    _, js = bus
    root = lib.root.resolve()
    first = (await eventually(lambda: media.scans(1), timeout=60))[0]
    assert (first.seen, first.probed, first.unchanged, first.failed) == (5, 5, 0, 1)
    assert first.roots == (str(root),)
    events = media.files(0)
    assert sorted(events) == [
        "Already HEVC.mkv",
        "Big Buck Bunny.mp4",
        "Bikes S01E01.mkv",
        "Bikes S01E02.avi",
        "Broken.mp4",
    ]
    broken = events["Broken.mp4"]
    assert isinstance(broken, MediaProbeFailed)
    assert broken.error == "not a readable video: Invalid data found when processing input"
    bbb = events["Big Buck Bunny.mp4"]
    assert isinstance(bbb, MediaProbed) and bbb.library == str(root)
    assert (bbb.probe.video_codec, bbb.probe.width, bbb.probe.height) == ("h264", 1280, 720)
    st = lib.transcode["mp4"].stat()
    assert (bbb.identity.size, bbb.identity.mtime_ns, bbb.identity.inode) == (
        st.st_size,
        st.st_mtime_ns,
        st.st_ino,
    )
    hevc = events["Already HEVC.mkv"]
    assert isinstance(hevc, MediaProbed) and hevc.probe.video_codec == "hevc"

    rows = await catalogue_rows(database_url)
    assert sorted(rows) == sorted(events)
    assert rows["Broken.mp4"]["status"] == "error" and rows["Broken.mp4"]["probe"] is None
    assert rows["Broken.mp4"]["error"] == broken.error
    assert rows["Big Buck Bunny.mp4"]["status"] == "ok" and rows["Big Buck Bunny.mp4"]["error"] is None
    assert json.loads(rows["Big Buck Bunny.mp4"]["probe"])["video_codec"] == "h264"
    assert rows["Big Buck Bunny.mp4"]["inode"] == st.st_ino

    # Unchanged files are not probed again, a touched one is, a deleted one leaves the catalogue.
    assert lib.already_hevc is not None
    os.utime(lib.transcode["avi"], ns=(1_000_000_000, 1_000_000_000))
    lib.already_hevc.unlink()
    await publish(js, StartScan())
    second = (await eventually(lambda: media.scans(2), timeout=60))[1]
    assert (second.seen, second.probed, second.unchanged, second.failed) == (4, 1, 3, 0)
    assert list(media.files(1)) == ["Bikes S01E02.avi"]
    assert media.files(1)["Bikes S01E02.avi"].identity.mtime_ns == 1_000_000_000
    rows_after = await catalogue_rows(database_url)
    assert "Already HEVC.mkv" not in rows_after and len(rows_after) == 4
    assert rows_after["Bikes S01E02.avi"]["mtime_ns"] == 1_000_000_000
    # An unchanged file costs a rescan a stat and a comparison: its record is not written at all.
    assert rows_after["Big Buck Bunny.mp4"]["seen_at"] == rows["Big Buck Bunny.mp4"]["seen_at"]
    assert rows_after["Big Buck Bunny.mp4"]["probed_at"] == rows["Big Buck Bunny.mp4"]["probed_at"]

    # Force re-probes everything, failures included; a subfolder can be scanned alone.
    await publish(js, StartScan(force=True))
    third = (await eventually(lambda: media.scans(3), timeout=60))[2]
    assert (third.seen, third.probed, third.unchanged, third.failed) == (4, 4, 0, 1)
    assert len(media.files(2)) == 4
    await publish(js, StartScan(roots=(str(lib.root / "TV"),), force=True))
    fourth = (await eventually(lambda: media.scans(4), timeout=60))[3]
    assert (fourth.seen, fourth.probed) == (2, 2) and fourth.roots == (str(root / "TV"),)
    assert sorted(media.files(3)) == ["Bikes S01E01.mkv", "Bikes S01E02.avi"]
    assert len(await catalogue_rows(database_url)) == 4  # a partial scan forgets nothing outside it

    # A hard link made outside the library (a download client) changes the file's ctime, not its size or
    # mtime: the rescan still sees it changed, since the scheduler decides differently for it.
    os.link(lib.transcode["mp4"], lib.root.parent / "seeding.mp4")
    await publish(js, StartScan())
    fifth = (await eventually(lambda: media.scans(5), timeout=60))[4]
    assert (fifth.seen, fifth.probed, fifth.unchanged) == (4, 1, 3)
    linked = media.files(4)["Big Buck Bunny.mp4"]
    assert linked.identity.links == 2 and linked.identity.same_file(bbb.identity)
    assert (await catalogue_rows(database_url))["Big Buck Bunny.mp4"]["links"] == 2


@pytest.mark.usefixtures("running")
async def test_a_root_outside_the_media_paths_is_refused_and_terminated(
    lib: library.Library, media: MediaLog, bus: Bus, tmp_path: Path
) -> None:
    nc, js = bus
    terminated: list[Msg] = []

    async def on_terminated(msg: Msg) -> None:
        terminated.append(msg)

    advisories = await nc.subscribe(TERMINATED, cb=on_terminated)
    await eventually(lambda: media.scans(1), timeout=60)

    await publish(js, StartScan(roots=(str(tmp_path),)))  # the parent of the library
    await publish(js, StartScan(roots=(str(lib.root / ".." / ".."),)))
    await publish(js, StartScan(roots=(str(lib.root / "Movies" / "Nope"),)))  # inside, but not there
    await js.publish(topology.SCAN_START, b'{"type": "scan.start", "roots": 7}')
    await publish(js, StartScan(roots=(str(lib.root / "Movies"),)))  # a marker that is allowed

    scans = await eventually(lambda: media.scans(2), timeout=60)
    await eventually(lambda: len(terminated) == 4)
    assert len(scans) == 2 and scans[1].roots == (str((lib.root / "Movies").resolve()),)
    assert len(media.files(0)) == 5 and len(media.files(1)) == 0  # nothing changed since

    async def settled() -> bool:  # the allowed request is acknowledged once its scan has been reported
        info = await js.consumer_info(topology.CONTROL.name, topology.SCANNER_CONTROL.durable)
        return (info.num_pending, info.num_ack_pending) == (0, 0)

    await eventually(settled, message="every scan request acknowledged or terminated")
    await advisories.unsubscribe()


async def test_scheduled_scans_without_one_on_start(
    tmp_path: Path, shared_media: Path, nats_url: str, database_url: str, media: MediaLog
) -> None:
    root = tmp_path / "media"
    root.mkdir()
    shutil.copyfile(shared_media / "bikes.mp4", root / "Bikes.mp4")
    settings = Settings(
        nats_url=nats_url,
        database_url=database_url,
        media_paths=(root,),
        scan_on_start=False,
        scan_interval_seconds=0.3,
        watch=False,
    )
    stopping = asyncio.Event()
    task = asyncio.create_task(service.run(settings, stopping))
    try:
        first, second = (await eventually(lambda: media.scans(2), timeout=60))[:2]
    finally:
        stopping.set()
        await asyncio.wait_for(task, 30)
    assert (first.seen, first.probed, second.seen, second.probed) == (1, 1, 1, 0)


async def test_scan_as_a_function_keeps_the_files_of_a_media_path_that_went_away(
    lib: library.Library, pool: asyncpg.Pool, bus: Bus, media: MediaLog, tmp_path: Path
) -> None:
    movies, tv = (lib.root / "Movies").resolve(), (lib.root / "TV").resolve()
    scanner = Scanner(pool, bus[1], (movies, tv), Prober(workers=2, timeout_seconds=30))
    first = await scanner.scan()
    assert (first.seen, first.failed) == (5, 1) and set(first.roots) == {str(movies), str(tv)}
    await media.scans(1)
    assert {e.library for n, e in media.files(0).items() if n.startswith("Bikes")} == {str(tv)}

    unmounted = tmp_path / "unmounted"
    tv.rename(unmounted)
    second = await scanner.scan()
    assert (second.seen, second.probed, second.unchanged) == (3, 0, 3)
    assert await pool.fetchval("SELECT count(*) FROM files WHERE library = $1", str(tv)) == 2

    unmounted.rename(tv)  # back, unchanged: nothing to probe
    third = await scanner.scan()
    assert (third.seen, third.probed, third.unchanged) == (5, 0, 5)

    with pytest.raises(RefusedRoot, match="outside the media paths"):
        await scanner.scan([lib.root])  # the parent of both media paths
    with pytest.raises(RefusedRoot, match="outside the media paths"):
        await scanner.scan([movies / ".." / ".." / "elsewhere"])


async def test_a_stop_during_a_requested_scan_hands_the_command_back(
    lib: library.Library, pool: asyncpg.Pool, bus: Bus, media: MediaLog
) -> None:
    _, js = bus
    root = lib.root.resolve()
    gate = Gate()
    stuck = Scanner(pool, js, (root,), Prober(workers=1, timeout_seconds=60, read=gate.read))
    stopping = asyncio.Event()
    first = asyncio.create_task(commands.consume(js, stuck, stopping))
    await publish(js, StartScan(roots=(str(root / "TV"),)))
    try:
        await eventually(gate.entered.is_set, timeout=30)
        stopping.set()
        await asyncio.wait_for(first, 30)
    finally:
        gate.released.set()
    assert await media.scans(1) == []  # the abandoned scan published no summary

    # The next scanner up gets the same command at once (not after AckWait) and does it.
    scanner = Scanner(pool, js, (root,), Prober(workers=2, timeout_seconds=30))
    stopping = asyncio.Event()
    second = asyncio.create_task(commands.consume(js, scanner, stopping))
    try:
        done = (await eventually(lambda: media.scans(1), timeout=30))[0]
    finally:
        stopping.set()
        await asyncio.wait_for(second, 30)
    assert done.roots == (str(root / "TV"),)
    info = await js.consumer_info(topology.CONTROL.name, topology.SCANNER_CONTROL.durable)
    assert (info.num_pending, info.num_ack_pending) == (0, 0)
