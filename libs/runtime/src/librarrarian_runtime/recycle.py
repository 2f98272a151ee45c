"""The recycle folder: originals kept for a while after their output took their place.

Each media path (``MEDIA_PATHS`` entry) has its own ``.librarrarian-recycle`` folder at its top, so a kept
original is a second name of the same file (a hard link: no copy, no byte moved) on the file system the
library lies on. The folder is made by us, mode 0700, and used only through a descriptor opened without
following a symlink; a symlink or someone else's folder at its name makes it unusable (the job then keeps the
original in place rather than deleting it). The scanner and the cleanup's stale-file search skip it.

An entry is the original itself, named ``<job>-<token>``, and a sidecar ``<job>-<token>.json`` (written
first) saying where it came from, which file replaced it and when. Keeping is a link made before the output
is renamed over the original, so there is no instant without the file under its name. A restore (``restore``)
keeps the output as ``<job>-<token>.output`` first, then puts the original back under its name (a rename
over the output, or a new link and the output's removal when the container changed), refusing when the file
there is not the output recorded. A kill at any moment leaves the original or the output under the name and
the other in the recycle folder. Expiry (``expire``) removes the regular files older than the kept days.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import msgspec
from librarrarian_contracts import FileIdentity

from . import failpoints

FOLDER = ".librarrarian-recycle"
SIDECAR = ".json"
KEPT_OUTPUT = ".output"
DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
DAY = 86_400.0


class Unavailable(Exception):
    """The recycle folder cannot be used (a symlink or someone else's folder at its name, another file
    system): nothing was kept, and the original must not be deleted."""


class Refused(Exception):
    """A restore that would lose a file: the message says why; nothing was changed."""


class Record(msgspec.Struct, frozen=True, kw_only=True):
    """The sidecar: the original's place (relative to the media path, so a node that mounts the library
    elsewhere finds it), the output that took it, and when."""

    job_id: int
    path: str  # as the job named it, for people
    relative: str  # the original's path under the media path
    final: str  # the output's path under the media path (another suffix when the container changed)
    original: FileIdentity
    output: FileIdentity
    recycled_at: float


@dataclass(frozen=True)
class Entry:
    root: Path
    name: str
    record: Record
    size: int


_decoder = msgspec.json.Decoder(Record)


def root_of(path: Path, roots: Iterable[Path]) -> Path:
    for root in roots:
        if path == root or path.is_relative_to(root):
            return root
    raise Unavailable(f"{path} is outside the media paths")


def open_folder(root: Path, *, create: bool) -> int | None:
    """The recycle folder of ``root``, opened (made first when ``create``); None when there is none."""
    top = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        if create:
            with contextlib.suppress(FileExistsError):
                os.mkdir(FOLDER, 0o700, dir_fd=top)
        try:
            fd = os.open(FOLDER, DIRECTORY, dir_fd=top)
        except FileNotFoundError:
            return None
        except OSError as error:
            if error.errno in (errno.ELOOP, errno.ENOTDIR):
                raise Unavailable(f"{root / FOLDER} is not a folder (a symlink?); not using it") from None
            raise
    finally:
        os.close(top)
    st = os.fstat(fd)
    if st.st_uid != os.geteuid() or st.st_mode & 0o022:
        os.close(fd)
        raise Unavailable(f"{root / FOLDER} is someone else's or writable by others; not using it")
    return fd


def keep(
    root: Path,
    folder_fd: int,
    source: str,
    original: os.stat_result,
    *,
    job_id: int,
    path: str,
    relative: PurePosixPath,
    final: str,
    output: FileIdentity,
) -> str:
    """Link the original ``source`` (in the open folder ``folder_fd``) into the recycle folder; the entry's
    name. Called before the output is renamed over it. ``Unavailable`` when it cannot be kept."""
    fd = open_folder(root, create=True)
    assert fd is not None
    try:
        name = f"{job_id}-{secrets.token_hex(8)}"
        record = Record(
            job_id=job_id,
            path=path,
            relative=str(relative),
            final=str(relative.with_name(final)),
            original=_identity(original),
            output=output,
            recycled_at=time.time(),
        )
        _write(fd, name + SIDECAR, msgspec.json.encode(record))
        try:
            os.link(source, name, src_dir_fd=folder_fd, dst_dir_fd=fd, follow_symlinks=False)
        except OSError as error:
            os.unlink(name + SIDECAR, dir_fd=fd)
            if error.errno == errno.EXDEV:
                raise Unavailable(f"{root / FOLDER} is on another file system than {path}") from None
            raise
        linked = os.stat(name, dir_fd=fd, follow_symlinks=False)
        if (linked.st_dev, linked.st_ino) != (original.st_dev, original.st_ino):
            # The name was swapped between the check and the link: what we linked is not the original.
            os.unlink(name, dir_fd=fd)
            os.unlink(name + SIDECAR, dir_fd=fd)
            raise Unavailable(f"{path} changed while it was being kept")
        os.fsync(fd)
        return name
    finally:
        os.close(fd)


def forget_earlier(root: Path, job_id: int, original: os.stat_result, folder_fd: int) -> int:
    """Entries an earlier attempt of ``job_id`` made of the original still in place. One killed before its
    output took a name leaves a second name of the untouched original: removed, so that it is not taken
    for a hard link nor kept twice. One killed after a container change put the output in place (the
    original's removal still to do) is the kept original of that replace: it stays. How many stay (names
    of the original that are the recycle folder's, not a hard link of the user's)."""
    try:
        fd = open_folder(root, create=False)
    except Unavailable:
        return 0
    if fd is None:
        return 0
    staying, removed = 0, False
    try:
        for name in os.listdir(fd):
            if not name.startswith(f"{job_id}-") or name.endswith((SIDECAR, KEPT_OUTPUT)):
                continue
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != (original.st_dev, original.st_ino):
                continue
            record = _read(fd, name + SIDECAR)
            if record is not None:
                output = _stat(folder_fd, PurePosixPath(record.final).name)
                if output is not None and output.st_ino == record.output.inode:
                    staying += 1  # the output is in place: this is the original's kept copy
                    continue
            os.unlink(name, dir_fd=fd)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name + SIDECAR, dir_fd=fd)
            removed = True
        if removed:
            os.fsync(fd)
    finally:
        os.close(fd)
    return staying


def replaced_earlier(
    root: Path,
    job_id: int,
    original: FileIdentity,
    relative: PurePosixPath,
    output: os.stat_result,
    final: str,
) -> str | None:
    """The entry an earlier attempt of ``job_id`` made when its output (``output``, now named ``final``)
    took the place of the original at ``relative``, the attempt having died before reporting it. Its sidecar
    is the proof: written before the rename, it names the original the job was planned for and the output
    that replaced it (no tag inside the file needed; an MP4 keeps none). The entry's path, or None."""
    try:
        fd = open_folder(root, create=False)
    except Unavailable:
        return None
    if fd is None:
        return None
    try:
        for name in os.listdir(fd):
            if not name.startswith(f"{job_id}-") or name.endswith((SIDECAR, KEPT_OUTPUT)):
                continue
            kept = _regular(fd, name)
            record = _read(fd, name + SIDECAR)
            if kept is None or record is None or record.job_id != job_id:
                continue
            if not (record.original.same_file(original) and _identity(kept).same_file(original)):
                continue
            if (record.relative, record.final) == (str(relative), str(relative.with_name(final))) and (
                record.output.same_file(_identity(output))
            ):
                return str(root / FOLDER / name)
    finally:
        os.close(fd)
    return None


def _existing(roots: Iterable[Path]) -> Iterator[tuple[Path, int]]:
    """Each root's recycle folder that exists and is usable, open (closed once the caller moves on)."""
    for root in roots:
        try:
            fd = open_folder(root, create=False)
        except (Unavailable, OSError):
            continue
        if fd is None:
            continue
        try:
            yield root, fd
        finally:
            os.close(fd)


def entries(roots: Iterable[Path]) -> Iterator[Entry]:
    """Every kept original with its record (an unreadable or foreign sidecar is skipped)."""
    for root, fd in _existing(roots):
        for name in sorted(os.listdir(fd)):
            if not name.endswith(SIDECAR):
                continue
            entry = name.removesuffix(SIDECAR)
            st = _regular(fd, entry)
            record = _read(fd, name)
            if st is not None and record is not None:
                yield Entry(root, entry, record, st.st_size)


def held(roots: Iterable[Path]) -> int:
    """Bytes the recycle folders hold (their regular files, sidecars aside)."""
    total = 0
    for _, fd in _existing(roots):
        for name in os.listdir(fd):
            st = _regular(fd, name)
            if st is not None and not name.endswith(SIDECAR):
                total += st.st_size
    return total


def expire(roots: Iterable[Path], days: float, now: float) -> list[str]:
    """Remove the regular files of the recycle folders kept longer than ``days`` (by their change time: the
    moment they were linked there). A symlink or folder planted inside is left alone, never followed."""
    removed = []
    for root, fd in _existing(roots):
        gone = 0
        for name in os.listdir(fd):
            st = _regular(fd, name)
            if st is not None and now - st.st_ctime > days * DAY:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(name, dir_fd=fd)
                removed.append(str(root / FOLDER / name))
                gone += 1
        if gone:
            os.fsync(fd)
    return removed


def find(roots: Iterable[Path], job_id: int) -> Entry:
    """The newest kept original of ``job_id``."""
    found = [e for e in entries(roots) if e.record.job_id == job_id]
    if not found:
        raise Refused(f"job {job_id} has no original in the recycle folder")
    return max(found, key=lambda e: e.record.recycled_at)


def restore(root: Path, name: str) -> Record:
    """Put the kept original ``name`` back under its name, the output that took its place going into the
    recycle folder first and then away. Refused (nothing changed) when the file under the output's name is
    not the output recorded, or the kept original is not the file recorded."""
    fd = open_folder(root, create=False)
    if fd is None:
        raise Refused(f"{root} has no recycle folder")
    try:
        record = _read(fd, name + SIDECAR)
        if record is None:
            raise Refused(f"{name} has no readable record")
        relative, final = PurePosixPath(record.relative), PurePosixPath(record.final)
        folder = _walk(root, relative.parent)
        try:
            _restore(fd, folder, name, record, relative.name, final.name)
        finally:
            os.close(folder)
        for leftover in (name + KEPT_OUTPUT, name + SIDECAR):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(leftover, dir_fd=fd)
        os.fsync(fd)
        return record
    finally:
        os.close(fd)


def _restore(fd: int, folder: int, name: str, record: Record, source: str, final: str) -> None:
    kept = _stat(fd, name)
    if kept is None:
        # An earlier restore renamed it back and was stopped before tidying up: done if the original is there.
        there = _stat(folder, source)
        if there is not None and there.st_ino == record.original.inode:
            return
        raise Refused(f"the kept original of {record.path} is gone")
    if not stat.S_ISREG(kept.st_mode) or not _identity(kept).same_file(record.original):
        raise Refused(f"the kept original of {record.path} changed in the recycle folder; not restoring it")
    output = _stat(folder, final)
    if output is None or not stat.S_ISREG(output.st_mode) or not _identity(output).same_file(record.output):
        raise Refused(f"{record.final} changed since it was transcoded; not restoring over it")
    # The output, kept too (a second name) until the original is back: a kill leaves it recoverable.
    with contextlib.suppress(FileExistsError):  # an earlier restore, stopped, made it already
        os.link(final, name + KEPT_OUTPUT, src_dir_fd=folder, dst_dir_fd=fd, follow_symlinks=False)
    linked = _stat(fd, name + KEPT_OUTPUT)
    if linked is None or linked.st_ino != output.st_ino:
        raise Refused(f"{record.final} changed while it was being restored; not restoring over it")
    os.fsync(fd)
    failpoints.reach("restore-output-kept")
    if final == source:
        again = _stat(folder, final)
        if again is None or again.st_ino != output.st_ino:
            raise Refused(f"{record.final} changed while it was being restored; not restoring over it")
        os.rename(name, source, src_dir_fd=fd, dst_dir_fd=folder)  # atomic: the name now holds the original
        os.fsync(folder)
    else:
        there = _stat(folder, source)
        if there is None:
            os.link(name, source, src_dir_fd=fd, dst_dir_fd=folder, follow_symlinks=False)
        elif there.st_ino != kept.st_ino:  # (the same inode: an earlier restore linked it back already)
            raise Refused(f"{record.relative} is taken by another file; not restoring over it")
        os.fsync(folder)
        failpoints.reach("restore-after-link")
        again = _stat(folder, final)
        if again is not None and again.st_ino == output.st_ino:
            os.unlink(final, dir_fd=folder)
        os.unlink(name, dir_fd=fd)
        os.fsync(folder)
    failpoints.reach("restore-after-rename")


def _walk(root: Path, relative: PurePosixPath) -> int:
    """The original's folder, from the media path, one folder at a time, following no symlink."""
    if relative.is_absolute() or ".." in relative.parts:
        raise Refused(f"{relative} does not lie under {root}")
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in relative.parts:
            try:
                child = os.open(part, DIRECTORY, dir_fd=fd)
            except OSError as error:
                if error.errno in (errno.ELOOP, errno.ENOTDIR, errno.ENOENT):
                    raise Refused(f"{part} on the way to {relative} is gone or not a folder") from None
                raise
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def _stat(fd: int, name: str) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _regular(fd: int, name: str) -> os.stat_result | None:
    st = _stat(fd, name)
    return st if st is not None and stat.S_ISREG(st.st_mode) else None


def _read(fd: int, name: str) -> Record | None:
    try:
        sidecar = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=fd)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(sidecar).st_mode):
            return None
        with os.fdopen(os.dup(sidecar), "rb") as file:
            data = file.read(65_536)
        return _decoder.decode(data)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        return None
    finally:
        os.close(sidecar)


def _write(fd: int, name: str, data: bytes) -> None:
    out = os.open(name, CREATE, 0o600, dir_fd=fd)
    try:
        os.write(out, data)
        os.fsync(out)
    finally:
        os.close(out)


def _identity(st: os.stat_result) -> FileIdentity:
    return FileIdentity(size=st.st_size, mtime_ns=st.st_mtime_ns, inode=st.st_ino, links=st.st_nlink)
