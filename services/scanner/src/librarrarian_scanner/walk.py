"""Finding the videos under the media folders: what counts as a video, and what must be left alone."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from librarrarian_contracts import FileIdentity
from librarrarian_runtime.media_paths import is_contained

VIDEO_EXTENSIONS = frozenset(
    [
        ".mkv",
        ".mp4",
        ".m4v",
        ".mov",
        ".avi",
        ".wmv",
        ".asf",
        ".flv",
        ".webm",
        ".mpg",
        ".mpeg",
        ".m2v",
        ".ts",
        ".m2ts",
        ".mts",
        ".vob",
        ".ogv",
        ".ogm",
        ".3gp",
        ".3g2",
        ".divx",
        ".xvid",
        ".rm",
        ".rmvb",
        ".f4v",
        ".mxf",
    ]
)
# Partial downloads and other programs' temporary files: never touch them.
TEMPORARY_SUFFIXES = (".part", ".partial", ".tmp", ".temp", ".crdownload", ".download", ".!qb", ".!ut", "~")


@dataclass(frozen=True)
class Found:
    path: Path
    library: Path
    identity: FileIdentity


def is_candidate(name: str) -> bool:
    lowered = name.lower()
    if lowered.startswith("."):  # dotfiles: our own .tmp_* outputs, trash, other tools' hidden files
        return False
    if lowered.endswith(TEMPORARY_SUFFIXES):
        return False
    return os.path.splitext(lowered)[1] in VIDEO_EXTENSIONS


def is_locked(directory_names: set[str], name: str) -> bool:
    """Another program holds the file while a ``<name>.lock`` or ``<stem>.lock`` lies beside it."""
    stem = os.path.splitext(name)[0]
    return f"{name}.lock" in directory_names or f"{stem}.lock" in directory_names


def walk(roots: tuple[Path, ...], media_paths: tuple[Path, ...]) -> Iterator[Found]:
    """Every video file under ``roots``, resolved, inside ``media_paths``, not locked or partial."""
    for root in roots:
        library = next((m for m in media_paths if root == m or root.is_relative_to(m)), root)
        yield from _walk_dir(root, library, media_paths, set())


def _walk_dir(
    directory: Path, library: Path, media_paths: tuple[Path, ...], visited: set[tuple[int, int]]
) -> Iterator[Found]:
    try:
        stat = directory.stat()
        if (stat.st_dev, stat.st_ino) in visited:
            return  # a symlink loop
        visited.add((stat.st_dev, stat.st_ino))
        with os.scandir(directory) as scan:
            entries = list(scan)
    except OSError:
        return
    names = {e.name for e in entries}
    for entry in sorted(entries, key=lambda e: e.name):
        if entry.name.startswith("."):
            continue
        try:
            if entry.is_dir():
                target = Path(entry.path).resolve()
                if is_contained(target, media_paths):
                    yield from _walk_dir(target, library, media_paths, visited)
                continue
            if not is_candidate(entry.name) or is_locked(names, entry.name):
                continue
            resolved = Path(entry.path).resolve()
            if not is_contained(resolved, media_paths):
                continue  # a symlink that leaves the media paths
            st = resolved.stat()
        except OSError:
            continue  # vanished or unreadable meanwhile: the next scan sees it again
        yield Found(
            resolved, library, FileIdentity(size=st.st_size, mtime_ns=st.st_mtime_ns, inode=st.st_ino)
        )
