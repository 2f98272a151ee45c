"""The index a rescan compares with: a change of size, mtime, inode or link count is seen and nothing else is
probed; a scanner started afresh reads the index back from the catalogue; an index behind the catalogue
(another replica recorded a file) is corrected from the catalogue, not trusted."""

from __future__ import annotations

import os
from pathlib import Path

import asyncpg
import pytest
from librarrarian_scanner.probe import Prober
from librarrarian_scanner.scan import Scanner
from librarrarian_testing import eventually
from nats.aio.client import Client
from nats.js import JetStreamContext

from .stand_ins import MediaLog

Bus = tuple[Client, JetStreamContext]
OLD_NS = 1_600_000_000_000_000_000  # files that have been there a while: settled, probed at once
NAMES = ("Size.mp4", "Mtime.mp4", "Inode.mp4", "Links.mp4", "Same.mp4")


@pytest.fixture
def root(tmp_path: Path, shared_media: Path) -> Path:
    """Five distinct real videos, dated long ago."""
    root = (tmp_path / "media").resolve()
    root.mkdir()
    clip = (shared_media / "bikes.mp4").read_bytes()
    for name in NAMES:
        write_old(root / name, clip + name.encode())
    return root


def write_old(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    os.utime(path, ns=(OLD_NS, OLD_NS))


def scanner_of(pool: asyncpg.Pool, bus: Bus, root: Path) -> Scanner:
    return Scanner(pool, bus[1], (root,), Prober(workers=2, timeout_seconds=30))


async def test_a_change_of_size_mtime_inode_or_links_is_probed_and_nothing_else(
    root: Path, tmp_path: Path, pool: asyncpg.Pool, bus: Bus, media: MediaLog
) -> None:
    scanner = scanner_of(pool, bus, root)
    first = await scanner.scan()
    assert (first.seen, first.probed) == (5, 5)

    with (root / "Size.mp4").open("ab") as grown:  # one byte more, the same mtime
        grown.write(b"\0")
    os.utime(root / "Size.mp4", ns=(OLD_NS, OLD_NS))
    os.utime(root / "Mtime.mp4", ns=(OLD_NS + 1, OLD_NS + 1))  # the same bytes, touched
    # The same bytes and times under a new inode: written beside it first, so its inode cannot be reused.
    write_old(root / "Inode.new", (root / "Inode.mp4").read_bytes())
    os.replace(root / "Inode.new", root / "Inode.mp4")
    os.link(root / "Links.mp4", tmp_path / "another name")  # only its link count changes

    second = await scanner.scan()
    assert (second.seen, second.probed, second.unchanged) == (5, 4, 1)
    await eventually(lambda: media.scans(2), timeout=30, message="both scans' summaries")
    assert set(media.files(1)) == {"Size.mp4", "Mtime.mp4", "Inode.mp4", "Links.mp4"}
    assert scanner.index.files == {str(root / name): identity(root / name) for name in NAMES}

    third = await scanner.scan()
    assert (third.seen, third.probed, third.unchanged) == (5, 0, 5)


async def test_a_scanner_started_afresh_reads_the_index_from_the_catalogue(
    root: Path, pool: asyncpg.Pool, bus: Bus
) -> None:
    await scanner_of(pool, bus, root).scan()
    (root / "Same.mp4").unlink()

    restarted = scanner_of(pool, bus, root)
    assert restarted.index.files is None  # nothing read before its first scan
    again = await restarted.scan()
    assert (again.seen, again.probed, again.unchanged) == (4, 0, 4)
    # The file that went is forgotten by the catalogue and the index alike.
    assert restarted.index.files == {str(root / n): identity(root / n) for n in NAMES if n != "Same.mp4"}
    assert await pool.fetchval("SELECT count(*) FROM files") == 4


async def test_an_index_behind_the_catalogue_is_corrected_not_trusted(
    root: Path, shared_media: Path, pool: asyncpg.Pool, bus: Bus
) -> None:
    one, other = scanner_of(pool, bus, root), scanner_of(pool, bus, root)
    await one.scan()
    write_old(root / "New.mp4", (shared_media / "bikes.mp4").read_bytes() + b"new")

    by_other = await other.scan()  # another replica: it records the new file
    assert (by_other.seen, by_other.probed) == (6, 1)
    assert one.index.files is not None and str(root / "New.mp4") not in one.index.files

    behind = await one.scan()  # new to its index, known to the catalogue: not probed again
    assert (behind.seen, behind.probed, behind.unchanged) == (6, 0, 6)
    assert one.index.files[str(root / "New.mp4")] == identity(root / "New.mp4")


def identity(path: Path) -> tuple[int, int, int, int]:
    st = path.stat()
    return (st.st_size, st.st_mtime_ns, st.st_ino, st.st_nlink)
