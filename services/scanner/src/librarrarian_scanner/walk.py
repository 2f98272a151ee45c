"""Finding the videos under the media folders: what counts as a video, and what must be left alone.

Pure apart from reading directories, so the rules are unit-tested on a real temporary tree.
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from librarrarian_contracts import FileIdentity
from librarrarian_contracts.settings import MediaType, ScannerFolders
from librarrarian_runtime.media_paths import OutsideMediaPaths, contain

from .folders import Folders

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
    library: Path  # the library folder it lies in (by default, its media path)
    identity: FileIdentity
    media_type: MediaType = "mixed"  # the folder's type


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
    folders: Folders | None = None,
    stop: threading.Event | None = None,
) -> Iterator[Found]:
    """Every video under ``roots`` that resolves inside ``media_paths`` and lies in a scanned library
    folder (default: each media path), once, not locked or partial.

    ``on_unreadable`` hears of directories that could not be listed (what lies below them is unknown,
    not gone); ``on_escape`` of entries whose symlinks lead outside the media paths. ``stop`` ends the
    walk at the next directory (a cancelled scan).
    """
    if folders is None:
        folders = Folders.resolve(ScannerFolders(), media_paths)
    visited_dirs: set[tuple[int, int]] = set()
    yielded: set[str] = set()
    # (directory, known): "known" directories are resolved and inside the media paths, so an entry in one
    # that is not a symlink is too, and need not be resolved again (one syscall per path component saved,
    # which is most of a rescan's time).
    pending = [(root, _is_resolved_inside(root, media_paths)) for root in reversed(roots)]
    while pending:
        if stop is not None and stop.is_set():
            return
        directory, known = pending.pop()
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
                plain = known and not entry.is_symlink()
                if entry.is_dir():  # follows symlinks; where they lead is checked below
                    if plain:
                        target: Path | None = Path(entry.path)
                    else:
                        target = _contained(Path(entry.path), media_paths, on_escape)
                    if target is not None and folders.scanned(target) is not None:
                        subdirectories.append(target)
                    continue
                if not is_candidate(entry.name) or is_locked(names, entry.name):
                    continue
                # Paths are built from the directory's (parsing only the name): at 100,000 files, parsing
                # whole paths is a good part of a rescan.
                resolved = (
                    directory / entry.name if plain else _contained(Path(entry.path), media_paths, on_escape)
                )
                if resolved is None:
                    continue
                text = entry.path if plain else str(resolved)
                if text in yielded:
                    continue
                folder = folders.scanned(text)
                if folder is None:
                    continue  # in a folder of type none, or in none of the library folders
                st = entry.stat() if plain else resolved.stat()
            except OSError:
                continue  # vanished or unreadable meanwhile: the next scan sees it again
            if not stat.S_ISREG(st.st_mode):
                continue  # a FIFO or device named like a video would block the probe forever
            yielded.add(text)
            yield Found(
                resolved,
                folder.path,
                FileIdentity(size=st.st_size, mtime_ns=st.st_mtime_ns, inode=st.st_ino, links=st.st_nlink),
                folder.type,
            )
        pending.extend((d, True) for d in reversed(subdirectories))  # resolved and contained above


def _is_resolved_inside(root: Path, media_paths: tuple[Path, ...]) -> bool:
    try:
        return contain(root, media_paths) == root
    except (OutsideMediaPaths, RuntimeError, OSError):
        return False


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
