"""Deleting one approved stale file, and only if it is still the stale file that was found.

Checked just before the unlink: the path lies inside the media paths with no symlink on the way, its name is
one the cleanup may delete (never a video, whatever a message says), and it is the same file, unchanged since
it was found (size, mtime, inode) and still untouched for the stale time. The unlink is made relative to
the directory opened once, and the directory is fsynced after it.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from librarrarian_contracts import FileIdentity
from librarrarian_runtime import failpoints
from librarrarian_runtime.media_paths import OutsideMediaPaths, contain

from .finder import stale_kind


class Refused(Exception):
    """The request asks for something the cleanup never deletes; the message says what."""


@dataclass(frozen=True)
class Outcome:
    removed: bool
    size: int = 0
    reason: str = ""


def remove(
    path: str,
    identity: FileIdentity,
    media_paths: tuple[Path, ...],
    older_than_seconds: float,
    now: float,
) -> Outcome:
    """Delete ``path`` if it is still the stale file ``identity`` describes. Raises ``Refused`` for a path
    outside the media paths or a name that is not a temporary or lock file, ``OSError`` when the
    deletion itself fails."""
    requested = Path(path)
    if not requested.is_absolute() or stale_kind(requested.name) is None:
        raise Refused(f"{path} is not a temporary or lock file: the cleanup does not delete it")
    try:
        directory = contain(requested.parent, media_paths)
    except OutsideMediaPaths:
        raise Refused(f"{path} is outside the media paths") from None
    if directory != requested.parent:
        raise Refused(f"{path} leads elsewhere through a symlink: the cleanup does not follow it")
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return Outcome(removed=True, reason="already gone")
    try:
        try:
            st = os.stat(requested.name, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            return Outcome(removed=True, reason="already gone")
        if not stat.S_ISREG(st.st_mode):
            return Outcome(removed=False, reason="no longer a regular file: kept")
        if (st.st_size, st.st_mtime_ns, st.st_ino) != (identity.size, identity.mtime_ns, identity.inode):
            return Outcome(removed=False, reason="changed since it was found: kept")
        if now - st.st_mtime_ns / 1e9 < older_than_seconds:
            return Outcome(removed=False, reason="in use again: kept")
        failpoints.reach("before-unlink")
        os.unlink(requested.name, dir_fd=fd)
        failpoints.reach("after-unlink")
        os.fsync(fd)
    finally:
        os.close(fd)
    return Outcome(removed=True, size=st.st_size)
