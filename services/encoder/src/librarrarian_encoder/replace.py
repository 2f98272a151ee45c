"""Putting a verified output in the original's place without ever losing the file (architecture §3.4).

The output is written beside the original (same file system, so the rename is atomic), flushed, verified,
and only then renamed over it. When the container changes (``.avi`` → ``.mkv``), the new file is in place
before the original is unlinked. A crash at any step leaves the original, or a verified output, or both.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from librarrarian_contracts import FileIdentity

from . import failpoints

TEMP_PREFIX = ".tmp_librarrarian-"


class SourceChanged(Exception):
    """The original is not the file the job was planned for (edited, replaced, or already transcoded)."""


class WouldOverwrite(Exception):
    """The output's final name belongs to another file."""


def temp_path(source: Path, job_id: int, attempt: int, delivery: int, suffix: str) -> Path:
    return source.parent / f"{TEMP_PREFIX}{job_id}-{attempt}-{delivery}-{source.stem}{suffix}"


def final_path(source: Path, suffix: str) -> Path:
    return source if suffix == source.suffix else source.with_suffix(suffix)


def identity_of(path: Path) -> FileIdentity | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return FileIdentity(size=st.st_size, mtime_ns=st.st_mtime_ns, inode=st.st_ino)


def check_target(source: Path, final: Path) -> None:
    if final != source and final.exists():
        raise WouldOverwrite(f"{final.name} already exists beside {source.name}; not overwriting it")


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def adopt_permissions(temp: Path, source: Path) -> None:
    """The output gets the original's mode (and owner, where allowed), as the user set them."""
    st = os.stat(source)
    os.chmod(temp, st.st_mode & 0o7777)
    with contextlib.suppress(PermissionError):  # not root: the file stays ours, as any file we create
        os.chown(temp, st.st_uid, st.st_gid)


def replace(source: Path, temp: Path, final: Path, expected: FileIdentity) -> None:
    if identity_of(source) != expected:
        raise SourceChanged(f"{source.name} changed since it was scanned")
    check_target(source, final)
    adopt_permissions(temp, source)
    os.replace(temp, final)
    fsync_dir(final.parent)
    failpoints.reach("after-rename")
    if final != source:
        os.unlink(source)
        fsync_dir(source.parent)


def finish(source: Path, final: Path, expected: FileIdentity) -> None:
    """An earlier attempt put its verified output in place and died before removing the original:
    remove it now, if it is still the file the job was planned for."""
    if identity_of(source) != expected:
        raise SourceChanged(f"{source.name} changed since it was scanned")
    os.unlink(source)
    fsync_dir(source.parent)
