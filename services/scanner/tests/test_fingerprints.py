"""Fingerprints: equal for equal content under any name, different when a sampled block changes, taken in
the probe pool for new and changed files only, carried in ``media.probed`` and kept in the catalogue."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from librarrarian_contracts import MediaProbe, MediaProbed
from librarrarian_media import probe
from librarrarian_runtime import migrations
from librarrarian_scanner import fingerprint as fp
from librarrarian_scanner.probe import Prober
from librarrarian_scanner.scan import Scanner
from nats.aio.client import Client
from nats.js import JetStreamContext

from .stand_ins import MediaLog


def test_equal_content_has_one_fingerprint_whatever_its_name(tmp_path: Path, shared_media: Path) -> None:
    clip = Path(shutil.copy(shared_media / "bikes.mp4", tmp_path / "Original.mp4"))
    copy, link = tmp_path / "Renamed.mp4", tmp_path / "Linked.mp4"
    shutil.copyfile(clip, copy)
    os.link(clip, link)
    assert fp.fingerprint(clip) == fp.fingerprint(copy) == fp.fingerprint(link)
    assert fp.fingerprint(clip).startswith(f"v1:{clip.stat().st_size}:")


def test_a_change_in_a_sampled_block_or_in_size_changes_it(tmp_path: Path) -> None:
    size = 1_000_000
    original = tmp_path / "a.mkv"
    original.write_bytes(bytes(size))
    before = fp.fingerprint(original)
    for offset in fp.offsets(size):
        changed = tmp_path / f"at-{offset}.mkv"
        data = bytearray(size)
        data[offset + 10] = 1
        changed.write_bytes(bytes(data))
        assert fp.fingerprint(changed) != before
    longer = tmp_path / "longer.mkv"
    longer.write_bytes(bytes(size + 1))
    assert fp.fingerprint(longer) != before


def test_a_small_file_is_read_whole(tmp_path: Path) -> None:
    assert fp.offsets(100) == (0,)
    small, other = tmp_path / "a.mp4", tmp_path / "b.mp4"
    small.write_bytes(b"x" * 100_000)
    other.write_bytes(b"x" * 99_999 + b"y")  # differs in the last byte only
    assert fp.fingerprint(small) != fp.fingerprint(other)


class CountingReader:
    """The real probe, counting the files it was asked for (each is fingerprinted in the same step)."""

    def __init__(self) -> None:
        self.examined: list[Path] = []

    def __call__(self, path: Path) -> MediaProbe:
        self.examined.append(path)
        return probe(path)


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await migrations.connect_and_migrate(database_url, "scanner", "librarrarian_scanner.migrations")
    yield pool
    await pool.close()


async def test_scans_carry_fingerprints_and_a_rescan_takes_none(
    tmp_path: Path,
    shared_media: Path,
    pool: asyncpg.Pool,
    bus: tuple[Client, JetStreamContext],
    media: MediaLog,
) -> None:
    root = (tmp_path / "media").resolve()
    (root / "Movies").mkdir(parents=True)
    shutil.copyfile(shared_media / "bikes.mp4", root / "Movies" / "Bikes.mp4")
    os.link(root / "Movies" / "Bikes.mp4", root / "Movies" / "Bikes (renamed).mp4")
    reader = CountingReader()
    scanner = Scanner(
        pool, bus[1], (root,), Prober(workers=2, timeout_seconds=30, read=reader), settle_seconds=0
    )

    await scanner.scan()
    await media.scans(1)
    events = media.files(0)
    first, second = events["Bikes.mp4"], events["Bikes (renamed).mp4"]
    assert isinstance(first, MediaProbed) and isinstance(second, MediaProbed)
    assert first.fingerprint == second.fingerprint == fp.fingerprint(shared_media / "bikes.mp4")
    rows = await pool.fetch("SELECT path, fingerprint FROM files")
    assert {r["fingerprint"] for r in rows} == {first.fingerprint}
    assert len(reader.examined) == 2

    rescan = await scanner.scan()
    assert (rescan.seen, rescan.probed) == (2, 0)
    assert len(reader.examined) == 2  # unchanged files: neither probed nor read for a fingerprint
