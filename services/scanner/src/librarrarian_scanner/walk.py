"""Finding the videos under the media folders: what counts as a video, and what must be left alone.

Pure apart from reading directories, so the rules are unit-tested on a real temporary tree.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from librarrarian_contracts import FileIdentity
from librarrarian_runtime.media_paths import OutsideMediaPaths, contain

VIDEO_EXTENSIONS = frozenset(
    {
        ".3g2",
        ".3gp",
        ".asf",
        ".avi",
        ".divx",
        ".f4v",
        ".flv",
        ".m2ts",
        ".m2v",
        ".m4v",
        ".mkv",
        ".mov",
        ".mp4",
        ".mpeg",
        ".mpg",
        ".mts",
        ".mxf",
        ".ogm",
        ".ogv",
        ".rm",
        ".rmvb",
        ".ts",
        ".vob",
        ".webm",
        ".wmv",
        ".xvid",
    }
)
# Partial downloads and other programs' work in progress: never touch them. Most end in a suffix of their
# own (``movie.mkv.part``); a few keep the video extension and mark the stem (yt-dlp's ``movie.temp.mkv``).
TEMPORARY_SUFFIXES = (".part", ".partial", ".tmp", ".temp", ".crdownload", ".download", ".!qb", ".!ut", "~")
TEMPORARY_STEM_SUFFIXES = (".part", ".partial", ".tmp", ".temp")
LOCK_SUFFIX = ".lock"


@dataclass(frozen=True)
class Found:
    path: Path  # resolved
    library: Path  # the media path it lies in
    identity: FileIdentity


def is_candidate(name: str) -> bool:
    """Whether a file name looks like a finished video of the library's own."""
    lowered = name.lower()
    if lowered.startswith("."):  # our own .tmp_* outputs and trash, other tools' hidden files
        return False
    if lowered.endswith(TEMPORARY_SUFFIXES):
        return False
    stem, extension = os.path.splitext(lowered)
    return extension in VIDEO_EXTENSIONS and not stem.endswith(TEMPORARY_STEM_SUFFIXES)


def is_locked(names_in_directory: set[str], name: str) -> bool:
    """Another program holds the file while a ``<name>.lock`` or ``<stem>.lock`` lies beside it."""
    stem = os.path.splitext(name)[0]
    return name + LOCK_SUFFIX in names_in_directory or stem + LOCK_SUFFIX in names_in_directory


def library_of(path: Path, media_paths: tuple[Path, ...]) -> Path:
    """The most specific media path holding ``path`` (media paths may nest)."""
    holders = [m for m in media_paths if path == m or path.is_relative_to(m)]
    if not holders:
        raise OutsideMediaPaths(f"{path} is outside the media paths")
    return max(holders, key=lambda m: len(m.parts))


def walk(
    roots: tuple[Path, ...],
    media_paths: tuple[Path, ...],
    on_unreadable: Callable[[Path, OSError], None] | None = None,
    on_escape: Callable[[Path], None] | None = None,
) -> Iterator[Found]:
    """Every video under ``roots`` that resolves inside ``media_paths``, once, not locked or partial.

    ``on_unreadable`` hears of directories that could not be listed (what lies below them is unknown,
    not gone); ``on_escape`` of entries whose symlinks lead outside the media paths.
    """
    visited_dirs: set[tuple[int, int]] = set()
    yielded: set[Path] = set()
    pending = list(reversed(roots))
    while pending:
        directory = pending.pop()
        try:
            info = directory.stat()
            if (info.st_dev, info.st_ino) in visited_dirs:
                continue  # reached twice through a symlink, or a symlink loop
            visited_dirs.add((info.st_dev, info.st_ino))
            with os.scandir(directory) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError as error:
            if on_unreadable is not None:
                on_unreadable(directory, error)
            continue
        names = {e.name for e in entries}
        subdirectories = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_dir():  # follows symlinks; where they lead is checked below
                    target = _contained(Path(entry.path), media_paths, on_escape)
                    if target is not None:
                        subdirectories.append(target)
                    continue
                if not is_candidate(entry.name) or is_locked(names, entry.name):
                    continue
                resolved = _contained(Path(entry.path), media_paths, on_escape)
                if resolved is None or resolved in yielded:
                    continue
                st = resolved.stat()
            except OSError:
                continue  # vanished or unreadable meanwhile: the next scan sees it again
            if not stat.S_ISREG(st.st_mode):
                continue  # a FIFO or device named like a video would block the probe forever
            yielded.add(resolved)
            yield Found(
                resolved,
                library_of(resolved, media_paths),
                FileIdentity(size=st.st_size, mtime_ns=st.st_mtime_ns, inode=st.st_ino),
            )
        pending.extend(reversed(subdirectories))


def _contained(
    path: Path, media_paths: tuple[Path, ...], on_escape: Callable[[Path], None] | None
) -> Path | None:
    try:
        return contain(path, media_paths)
    except RuntimeError:  # a symlink loop (Python 3.11 reports it so): nothing to find there
        return None
    except OutsideMediaPaths:
        if on_escape is not None:
            on_escape(path)
        return None
