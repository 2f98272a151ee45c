"""The load's files: one tiny real H.264 clip, made once, and as many distinct copies of it as a run needs.

Each copy differs from the others only in a fixed-width tag in the container's metadata, rewritten in place of
the original's tag, so a thousand copies take milliseconds, not a thousand ffmpeg runs. The scanner reads a
small file whole for its fingerprint, so every copy is a file of its own, not a duplicate of another."""

from __future__ import annotations

import os
from pathlib import Path

from librarrarian_testing.clips import ffmpeg

TAG = b"load-tag-000000000"  # the placeholder; each copy carries its number in its place
SECONDS = 1.0
SIZE = "160x90"


BAND = 100_000_000  # tags of one batch: band * BAND + number, so no two batches share a copy


def tag_of(number: int, band: int = 0) -> bytes:
    tag = f"load-tag-{band * BAND + number:09d}".encode()
    assert len(tag) == len(TAG)
    return tag


def make_clip(folder: Path) -> bytes:
    """The clip's bytes: a second of test pattern at 160x90 in Matroska, with the placeholder tag once."""
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / "clip.mkv"
    ffmpeg(
        "-f", "lavfi", "-i", f"testsrc2=size={SIZE}:rate=25:duration={SECONDS}",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
        "-metadata", f"comment={TAG.decode()}", out,
    )  # fmt: skip
    data = out.read_bytes()
    if data.count(TAG) != 1:
        raise RuntimeError(f"the clip holds its tag {data.count(TAG)} times, not once")
    return data


def copies(clip: bytes, folder: Path, count: int, band: int, name: str = "Clip") -> list[Path]:
    """``count`` distinct copies of ``clip`` in ``folder`` (made elsewhere, then moved in whole by the
    caller, so that the scanner never sees one half-written); ``band``: the batch's, so that no copy of
    one batch is the same content as one of another (the scheduler would skip it as a duplicate)."""
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for number in range(1, count + 1):
        path = folder / f"{name} {number:05d}.mkv"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            os.write(fd, clip.replace(TAG, tag_of(number, band)))
        finally:
            os.close(fd)
        made.append(path)
    return made
