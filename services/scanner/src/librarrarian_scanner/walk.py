"""Finding the videos under the media folders: what counts as a video, and what must be left alone.

Pure apart from reading directories, so the rules are unit-tested on a real temporary tree.
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path

from librarrarian_contracts import FileIdentity
from librarrarian_contracts.settings import MediaType, ScannerFolders
from librarrarian_runtime.media_paths import OutsideMediaPaths, contain

from .folders import Folders

Identity = tuple[int, int, int, int]  # size, mtime_ns, inode, links


def identity_key(identity: FileIdentity) -> Identity:
    return (identity.size, identity.mtime_ns, identity.inode, identity.links)


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
by_name = attrgetter("name")


@dataclass(frozen=True)
class Found:
    path: Path  # resolved
    library: Path  # the library folder it lies in (by default, its media path)
    identity: FileIdentity
    media_type: MediaType = "mixed"  # the folder's type


def is_candidate(name: str) -> bool:
    """Whether a file name looks like a finished video of the library's own."""
    # No splitext and one lower() of a few characters: this runs for every file of every rescan. A name not
    # starting with a dot has its extension from its last dot; a video extension ends in none of the
    # temporary suffixes, so only the stem's are left to check.
    dot = name.rfind(".")
    if dot <= 0 or name[0] == ".":  # our own .tmp_* outputs and trash, other tools' hidden files
        return False
    if name[dot:].lower() not in VIDEO_EXTENSIONS:
        return False
    return not name[:dot].lower().endswith(TEMPORARY_STEM_SUFFIXES)


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
    *,
    known: Mapping[str, Identity] | None = None,
    present: set[str] | None = None,
    counted: Callable[[int], None] | None = None,
) -> Iterator[Found]:
    """Every video under ``roots`` that resolves inside ``media_paths`` and lies in a scanned library
    folder (default: each media path), once, not locked or partial.

    ``on_unreadable`` hears of directories that could not be listed (what lies below them is unknown,
    not gone); ``on_escape`` of entries whose symlinks lead outside the media paths. ``stop`` ends the
    walk at the next directory (a cancelled scan).

    A rescan passes ``known`` (path → identity, the index): a file whose stat matches its entry is not
    yielded, only added to ``present`` like every file found. Unchanged files so cost a ``stat`` and a
    lookup: no path object, no event, no record. ``counted`` hears how many files were found so far, after
    each directory.
    """
    if folders is None:
        folders = Folders.resolve(ScannerFolders(), media_paths)
    if present is None:
        present = set()
    lookup = (known or {}).get
    visited_dirs: set[tuple[int, int]] = set()
    # (directory, known): "known" directories are resolved and inside the media paths, so an entry in one
    # that is not a symlink is too, and need not be resolved again (one syscall per path component saved,
    # which is most of a rescan's time).
    pending = [(root, _is_resolved_inside(root, media_paths)) for root in reversed(roots)]
    while pending:
        if stop is not None and stop.is_set():
            return
        directory, inside = pending.pop()
        try:
            info = directory.stat()
            if (info.st_dev, info.st_ino) in visited_dirs:
                continue  # reached twice through a symlink, or a symlink loop
            visited_dirs.add((info.st_dev, info.st_ino))
            with os.scandir(directory) as listing:
                entries = sorted(listing, key=by_name)
        except OSError as error:
            if on_unreadable is not None:
                on_unreadable(directory, error)
            continue
        # The names are needed only where a lock lies: most folders have none.
        names = {e.name for e in entries} if any(e.name.endswith(LOCK_SUFFIX) for e in entries) else set()
        # Library folders are directories: every plain file here lies in the directory's folder.
        here = folders.scanned(directory) if inside else None
        subdirectories = []
        for entry in entries:
            name = entry.name
            if name[0] == ".":
                continue
            try:
                plain = inside and not entry.is_symlink()
                if entry.is_dir():  # follows symlinks; where they lead is checked below
                    if plain:
                        target: Path | None = Path(entry.path)
                    else:
                        target = _contained(Path(entry.path), media_paths, on_escape)
                    if target is not None and folders.scanned(target) is not None:
                        subdirectories.append(target)
                    continue
                if not is_candidate(name) or (names and is_locked(names, name)):
                    continue
                if plain:
                    if here is None:
                        continue  # in a folder of type none, or in none of the library folders
                    text = entry.path
                    if text in present:
                        continue
                    st = entry.stat()
                    folder = here
                    resolved = None
                else:
                    resolved = _contained(Path(entry.path), media_paths, on_escape)
                    if resolved is None:
                        continue
                    text = str(resolved)
                    if text in present:
                        continue
                    scanned = folders.scanned(text)
                    if scanned is None:
                        continue
                    folder = scanned
                    st = resolved.stat()
            except OSError:
                continue  # vanished or unreadable meanwhile: the next scan sees it again
            if not stat.S_ISREG(st.st_mode):
                continue  # a FIFO or device named like a video would block the probe forever
            present.add(text)
            identity = (st.st_size, st.st_mtime_ns, st.st_ino, st.st_nlink)
            if lookup(text) == identity:
                continue
            yield Found(
                resolved if resolved is not None else directory / name,
                folder.path,
                FileIdentity(size=identity[0], mtime_ns=identity[1], inode=identity[2], links=identity[3]),
                folder.type,
            )
        pending.extend((d, True) for d in reversed(subdirectories))  # resolved and contained above
        if counted is not None:
            counted(len(present))


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
