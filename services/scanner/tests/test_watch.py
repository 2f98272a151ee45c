"""The file watch: new files are reported within seconds, but only once they stop changing and are unlocked;
each burst of them shows as one entry in the ``scans`` bucket."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

import pytest
from librarrarian_contracts import MediaProbed
from librarrarian_contracts.codec import media_decoder
from librarrarian_contracts.scans import ScanStatus
from librarrarian_scanner import service
from librarrarian_scanner.scan import Scanner
from librarrarian_scanner.settings import Settings
from librarrarian_scanner.watch import Watcher
from librarrarian_testing import eventually
from librarrarian_testing.scanning import scan_entries
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext


@pytest.fixture
async def probed(bus: tuple[Client, JetStreamContext]) -> AsyncIterator[list[MediaProbed]]:
    seen: list[MediaProbed] = []

    async def on_event(msg: Msg) -> None:
        event = media_decoder.decode(msg.data)
        if isinstance(event, MediaProbed):
            seen.append(event)

    sub = await bus[1].subscribe("media.>", ordered_consumer=True, cb=on_event)
    yield seen
    await sub.unsubscribe()


@pytest.fixture
async def library_root(
    tmp_path: Path, nats_url: str, database_url: str, bus: tuple[Client, JetStreamContext]
) -> AsyncIterator[Path]:
    """A running scanner watching an empty library. It is yielded once the start scan is done: the watch
    is set up before that scan can end (both start together, and the scan takes many round trips)."""
    root = (tmp_path / "media").resolve()
    (root / "Movies").mkdir(parents=True)
    settings = Settings(
        nats_url=nats_url,
        database_url=database_url,
        media_paths=(root,),
        scan_interval_seconds=0,
        watch_settle_seconds=1.0,
    )
    stopping = asyncio.Event()
    task = asyncio.create_task(service.run(settings, stopping))
    await eventually(lambda: _start_scan_done(bus[1]), timeout=30, message="the start scan done")
    yield root
    stopping.set()
    await asyncio.wait_for(task, 30)


async def _start_scan_done(js: JetStreamContext) -> bool:
    return any(e.state == "done" for e in await scan_entries(js, "schedule"))


def names(events: list[MediaProbed]) -> list[str]:
    return [Path(e.path).name for e in events]


async def test_a_new_file_is_reported_once_it_has_settled(
    library_root: Path, probed: list[MediaProbed], shared_media: Path
) -> None:
    target = library_root / "Movies" / "Bikes (2020).mp4"
    data = (shared_media / "bikes.mp4").read_bytes()
    # Copied slowly, like a download: nothing may be reported while it grows.
    with target.open("wb") as handle:
        for start in range(0, len(data), len(data) // 6):
            handle.write(data[start : start + len(data) // 6])
            handle.flush()
            await asyncio.sleep(0.4)
            assert "Bikes (2020).mp4" not in names(probed), "probed while still being written"
    events = await eventually(
        lambda: [e for e in probed if Path(e.path).name == "Bikes (2020).mp4"], timeout=15
    )
    assert len(events) == 1 and events[0].identity.size == len(data)


async def test_a_folder_moved_into_the_library_is_looked_into(
    library_root: Path, probed: list[MediaProbed], shared_media: Path, tmp_path: Path
) -> None:
    """A download client moves a finished folder in whole: the watch hears of the folder only, not of the
    videos in it (nor of its subfolders'), and must look inside."""
    download = tmp_path / "downloads" / "Bikes (2020)"
    (download / "Extras").mkdir(parents=True)
    shutil.copyfile(shared_media / "bikes.mp4", download / "Bikes (2020).mp4")
    (download / "Extras" / "Trailer.mkv").write_bytes((shared_media / "bikes.mp4").read_bytes() + b"\0")
    (download / ".hidden.mkv").write_bytes(b"")
    os.rename(download, library_root / "Movies" / "Bikes (2020)")
    await eventually(
        lambda: {"Bikes (2020).mp4", "Trailer.mkv"} <= set(names(probed)), timeout=15, message="probed"
    )
    assert ".hidden.mkv" not in names(probed)


async def test_a_locked_file_waits_for_its_lock_to_go(
    library_root: Path, probed: list[MediaProbed], shared_media: Path
) -> None:
    lock = library_root / "Movies" / "Import.mkv.lock"
    lock.write_text("")
    shutil.copyfile(shared_media / "bikes.mp4", library_root / "Movies" / "Import.mkv")
    # A file written at the same moment without a lock: once it is reported, the locked one would have been.
    (library_root / "Movies" / "Free.mkv").write_bytes((shared_media / "bikes.mp4").read_bytes() + b"\0")
    await eventually(lambda: "Free.mkv" in names(probed), timeout=15)
    assert "Import.mkv" not in names(probed)
    lock.unlink()
    await eventually(lambda: "Import.mkv" in names(probed), timeout=15)


async def test_a_burst_of_new_files_shows_as_one_watch_entry(
    library_root: Path,
    probed: list[MediaProbed],
    shared_media: Path,
    bus: tuple[Client, JetStreamContext],
) -> None:
    js = bus[1]
    data = (shared_media / "bikes.mp4").read_bytes()
    (library_root / "Movies" / "One.mp4").write_bytes(data)
    await eventually(lambda: "One.mp4" in names(probed), timeout=15)

    async def done(seen: int) -> list[ScanStatus]:
        entries = await scan_entries(js, "watch")  # the start scan has an entry of its own
        return entries if [(e.state, e.seen) for e in entries] == [("done", seen)] else []

    (first,) = await eventually(lambda: done(1), timeout=15)
    assert first.trigger == "watch" and first.roots == (str(library_root),)
    assert (first.to_probe, first.probed, first.queued, first.errors) == (1, 1, 1, 0)
    assert first.finished_at is not None

    # More files soon after, one unreadable: the same burst, the same entry.
    (library_root / "Movies" / "Two.mp4").write_bytes(data + b"\0")  # a file of its own, not a copy
    (library_root / "Movies" / "Broken.mkv").write_bytes(b"\x1a\x45\xdf\xa3" + os.urandom(4096))
    (entry,) = await eventually(lambda: done(3), timeout=15)
    assert (entry.scan_id, entry.started_at) == (first.scan_id, first.started_at)
    assert (entry.to_probe, entry.probed, entry.queued, entry.errors) == (3, 3, 3, 1)


def test_a_noted_file_waits_from_its_last_change_and_is_looked_at_only_when_due(tmp_path: Path) -> None:
    """The settle loop wakes when the first file is due, not on a tick: noting a file records its size and
    mtime at once, a change noted later starts its wait again, and a file that changed without a note is
    caught when it is due and waits once more."""
    watcher = Watcher(cast(Scanner, None), (tmp_path,), settle_seconds=60.0)  # the scanner is not reached
    path = tmp_path / "Growing.mkv"
    path.write_bytes(b"x")
    assert watcher.next_due() is None
    watcher.expect(path)
    size, mtime, since = watcher.pending[path]
    assert (size, mtime) == (1, path.stat().st_mtime_ns)
    assert 0 < (watcher.next_due() or 0) <= 60.0
    assert watcher.settled() == [] and watcher.pending[path][2] == since  # not due: not even looked at

    watcher.expect(path)  # told again, nothing changed since the note: the wait goes on
    assert watcher.pending[path][2] == since
    with path.open("ab") as handle:
        handle.write(b"y")
    watcher.expect(path)  # it changed: its wait starts again, from now
    assert watcher.pending[path][:2] == (2, path.stat().st_mtime_ns) and watcher.pending[path][2] >= since

    # Its wait over as noted, but it grew without a note: not ready, and it waits again.
    watcher.pending[path] = (1, mtime, since - 60.0)
    assert watcher.settled() == [] and watcher.pending[path][0] == 2
    # Its wait over and unchanged: ready, and no longer pending.
    watcher.pending[path] = (*watcher.pending[path][:2], since - 60.0)
    assert watcher.settled() == [path] and path not in watcher.pending and watcher.next_due() is None

    path.unlink()
    watcher.expect(path)  # gone before it was noted: nothing to wait for
    assert path not in watcher.pending
