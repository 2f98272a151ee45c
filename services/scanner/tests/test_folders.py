"""Library folders: a type each, ``none`` left out, each checked against the media paths, and a change in
the ``scanner.folders`` setting applied by the running scanner without a restart."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest
from librarrarian_contracts import MediaProbed, StartScan, publish, topology
from librarrarian_contracts.settings import FOLDERS_KEY, LibraryFolder, ScannerFolders
from librarrarian_scanner import service
from librarrarian_scanner.folders import Folder, Folders
from librarrarian_scanner.settings import Settings
from librarrarian_testing import eventually
from nats.aio.client import Client
from nats.js import JetStreamContext

from .stand_ins import MediaLog


def test_unset_each_media_path_is_one_mixed_folder(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    folders = Folders.resolve(ScannerFolders(), (a, b))
    assert set(folders.folders) == {Folder(a, "mixed"), Folder(b, "mixed")}
    assert folders.roots() == (a, b) or folders.roots() == (b, a)


def test_the_most_specific_folder_decides_and_none_leaves_a_subtree_out(tmp_path: Path) -> None:
    media = tmp_path / "media"
    (media / "TV" / "Extras").mkdir(parents=True)
    setting = ScannerFolders(
        folders=(
            LibraryFolder(path=str(media), type="movies"),
            LibraryFolder(path=str(media / "TV"), type="tv"),
            LibraryFolder(path=str(media / "TV" / "Extras"), type="none"),
            LibraryFolder(path=str(tmp_path / "elsewhere"), type="tv"),  # outside: left out
            LibraryFolder(path=str(media / ".." / ".."), type="tv"),  # resolves outside: left out
        )
    )
    folders = Folders.resolve(setting, (media,))
    assert {f.path for f in folders.folders} == {media, media / "TV", media / "TV" / "Extras"}
    assert folders.scanned(media / "Film.mkv") == Folder(media, "movies")
    assert folders.scanned(media / "TV" / "Show" / "e1.mkv") == Folder(media / "TV", "tv")
    assert folders.scanned(media / "TV" / "Extras" / "x.mkv") is None
    assert folders.scanned(media / "TVShows" / "x.mkv") == Folder(media, "movies")  # a prefix is not a parent
    assert folders.roots() == (media, media / "TV")


def test_a_folder_that_is_no_path_is_left_out_not_fatal(tmp_path: Path) -> None:
    media = tmp_path / "media"
    (media / "TV").mkdir(parents=True)
    setting = ScannerFolders(
        folders=(
            LibraryFolder(path=str(media / "TV"), type="tv"),
            LibraryFolder(path=str(media) + "/Mov\x00ies", type="movies"),  # a NUL byte: no path at all
        )
    )
    assert Folders.resolve(setting, (media,)).folders == (Folder(media / "TV", "tv"),)


def _clip(shared_media: Path, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shared_media / "bikes.mp4", path)


@pytest.fixture
async def scanner_running(
    tmp_path: Path, shared_media: Path, nats_url: str, database_url: str
) -> AsyncIterator[Path]:
    root = (tmp_path / "media").resolve()
    _clip(shared_media, root / "Movies" / "Film.mp4")
    _clip(shared_media, root / "TV" / "Show" / "S01E01.mp4")
    _clip(shared_media, root / "Clips" / "Video.mp4")
    _clip(shared_media, root / "Downloads" / "Unsorted.mp4")
    settings = Settings(
        nats_url=nats_url,
        database_url=database_url,
        media_paths=(root,),
        scan_on_start=False,
        scan_interval_seconds=0,
        watch=False,
        watch_settle_seconds=0,
    )
    stopping = asyncio.Event()
    task = asyncio.create_task(service.run(settings, stopping))
    yield root
    stopping.set()
    await asyncio.wait_for(task, 30)


async def test_folder_types_reach_the_events_and_a_change_applies_without_a_restart(
    scanner_running: Path, bus: tuple[Client, JetStreamContext], media: MediaLog
) -> None:
    _, js = bus
    root = scanner_running
    # Unset: the media path is one mixed folder, everything is scanned.
    await publish(js, StartScan())
    await eventually(lambda: media.scans(1), timeout=60)
    first = media.files(0)
    assert sorted(first) == ["Film.mp4", "S01E01.mp4", "Unsorted.mp4", "Video.mp4"]
    assert {(e.library, e.media_type) for e in first.values() if isinstance(e, MediaProbed)} == {
        (str(root), "mixed")
    }

    kv = await js.key_value(topology.SETTINGS.name)
    setting = ScannerFolders(
        folders=(
            LibraryFolder(path=str(root / "Movies"), type="movies"),
            LibraryFolder(path=str(root / "TV"), type="tv"),
            LibraryFolder(path=str(root / "Clips"), type="music_videos"),
            LibraryFolder(path=str(root / "Downloads"), type="none"),
        )
    )
    await kv.put(FOLDERS_KEY, msgspec.json.encode(setting))
    wanted = {str(root / "Movies"), str(root / "TV"), str(root / "Clips")}
    scans = 1
    while True:  # the scanner follows the key: a scan soon starts from the new folders
        await publish(js, StartScan(force=True))
        scans += 1
        latest = (await eventually(lambda: media.scans(scans), timeout=60))[-1]  # noqa: B023
        if set(latest.roots) == wanted:
            break
        assert scans < 20, latest.roots
    events = media.files(scans - 1)
    assert sorted(events) == ["Film.mp4", "S01E01.mp4", "Video.mp4"]  # Downloads: type none
    kinds = {name: (e.library, e.media_type) for name, e in events.items() if isinstance(e, MediaProbed)}
    assert kinds == {
        "Film.mp4": (str(root / "Movies"), "movies"),
        "S01E01.mp4": (str(root / "TV"), "tv"),
        "Video.mp4": (str(root / "Clips"), "music_videos"),
    }

    # A scan of one subdirectory, and one inside a folder of type none: nothing there is probed.
    await publish(js, StartScan(roots=(str(root / "TV" / "Show"),), force=True))
    await publish(js, StartScan(roots=(str(root / "Downloads"),), force=True))
    third, fourth = (await eventually(lambda: media.scans(scans + 2), timeout=60))[scans : scans + 2]
    assert (third.seen, fourth.seen) == (1, 0)
    assert list(media.files(scans)) == ["S01E01.mp4"] and media.files(scans + 1) == {}


async def test_a_scanner_started_with_a_nul_byte_in_its_folders_scans_the_others(
    tmp_path: Path,
    shared_media: Path,
    nats_url: str,
    database_url: str,
    bus: tuple[Client, JetStreamContext],
    media: MediaLog,
) -> None:
    """Such a setting could only be written past the API; it must not stop the scanner at every start."""
    _, js = bus
    root = (tmp_path / "media").resolve()
    _clip(shared_media, root / "TV" / "S01E01.mp4")
    kv = await js.key_value(topology.SETTINGS.name)
    bad = ScannerFolders(
        folders=(
            LibraryFolder(path=str(root / "TV"), type="tv"),
            LibraryFolder(path=f"{root}/Mov\x00ies", type="movies"),
        )
    )
    await kv.put(FOLDERS_KEY, msgspec.json.encode(bad))
    settings = Settings(
        nats_url=nats_url,
        database_url=database_url,
        media_paths=(root,),
        scan_on_start=False,
        scan_interval_seconds=0,
        watch=False,
        watch_settle_seconds=0,
    )
    stopping = asyncio.Event()
    task = asyncio.create_task(service.run(settings, stopping))
    try:
        await publish(js, StartScan())
        (scan,) = await eventually(lambda: media.scans(1), timeout=60)
        assert scan.roots == (str(root / "TV"),) and not task.done()
        assert list(media.files(0)) == ["S01E01.mp4"]
    finally:
        stopping.set()
        await asyncio.wait_for(task, 30)
