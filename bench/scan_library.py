"""Libraries for the scanner's bench, made fast: real clips linked under many names, trees of empty files for
rescans, and many distinct tiny clips for a first scan that reaches the scheduler."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from librarrarian_media.ffmpeg_builds import candidates


def episode_path(root: Path, i: int, per_dir: int = 100, suffix: str = ".mkv") -> Path:
    """Show / season folders like a real library: ``per_dir`` episodes a season, ten seasons a show."""
    return (
        root
        / f"Show {i // (per_dir * 10):04d}"
        / f"Season {i // per_dir % 10:02d}"
        / f"Episode {i:07d}{suffix}"
    )


def _folders(root: Path, count: int, per_dir: int) -> Iterator[tuple[int, Path]]:
    for i in range(count):
        if i % per_dir == 0:
            folder = episode_path(root, i, per_dir).parent
            folder.mkdir(parents=True, exist_ok=True)
        yield i, folder


def linked_library(root: Path, sources: list[Path], count: int, per_dir: int = 100) -> None:
    """``count`` videos as hard links of the real clips ``sources``: each probe reads a real file. The links
    are of copies beside ``root`` (on its disk, each within the per-file link limit); ``copy2`` keeps the
    clips' times, a library that has been there a while, not files still being written."""
    copies = [Path(shutil.copy2(s, root.parent / f"{root.name}-{s.name}")) for s in sources]
    for i, folder in _folders(root, count, per_dir):
        source = copies[i % len(copies)]
        os.link(source, folder / f"Episode {i:07d}{source.suffix}")


def empty_library(root: Path, count: int, per_dir: int = 100) -> None:
    """``count`` empty ``.mkv`` files, ``per_dir`` to a folder: a rescan of unchanged files only ``stat``s
    them, so their content does not matter, and a million are made in seconds (one ``open`` each, no data
    written, one inode each like real files)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    for i, folder in _folders(root, count, per_dir):
        os.close(os.open(folder / f"Episode {i:07d}.mkv", flags, 0o644))


def tiny_clip(path: Path) -> Path:
    """A valid one-second 64×64 H.264 clip (a few kilobytes): small enough to copy a hundred thousand
    times, real enough that probing it is a real probe."""
    subprocess.run(
        [
            candidates()[0].path,
            "-hide_banner",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=64x64:rate=10:duration=1",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-y",
            str(path),
        ],
        check=True,
        capture_output=True,
    )
    return path


def distinct_library(root: Path, clip: Path, count: int, old_ns: int, per_dir: int = 100) -> None:
    """``count`` copies of ``clip``, each with eight bytes of its own after the clip's end: every file has its
    own content (a copy of a file already seen is recognised by its fingerprint and not queued again) and
    its own inode (a hard-linked file is not transcoded). Dated ``old_ns``: settled, not being written."""
    data = clip.read_bytes()
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    for i, folder in _folders(root, count, per_dir):
        fd = os.open(folder / f"Episode {i:07d}.mp4", flags, 0o644)
        try:
            os.write(fd, data + i.to_bytes(8, "big"))
            os.utime(fd, ns=(old_ns, old_ns))
        finally:
            os.close(fd)


def stat_walk(root: Path) -> list[tuple[str, int, int, int, int]]:
    """The floor of any rescan: a bare ``os.scandir`` walk with a ``stat`` of every file, nothing else.
    Returns (path, size, mtime_ns, inode, links) of each file."""
    files = []
    pending = [str(root)]
    while pending:
        with os.scandir(pending.pop()) as listing:
            for entry in listing:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)
                else:
                    st = entry.stat(follow_symlinks=False)
                    files.append((entry.path, st.st_size, st.st_mtime_ns, st.st_ino, st.st_nlink))
    return files
