"""The folder of a job's original, opened once and held for the whole job: reached from its media path one
folder at a time without following a symlink, and every name in it then used relative to it, never by a path.
Whoever can write in the library may rename that folder or swap it (or any name in it) for a symlink while a
job runs; no read, write, rename or unlink of ours is redirected by that: they all stay in the folder opened."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable
from pathlib import Path

from librarrarian_runtime.media_paths import OutsideMediaPaths

DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# Read-only, never through a symlink; non-blocking so that a FIFO planted at the name cannot hang the open
# (it is refused as not a regular file right after).
READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
# A new file, or nothing: never an existing file, never through a symlink (even a dangling one).
CREATE = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class Redirected(Exception):
    """A folder on the way to the file is a symlink, or not the folder the job opened any more."""


class NotAFile(Exception):
    """The name holds something else than a regular file (a FIFO, a device, a folder)."""


class Folder:
    """An open folder inside the media paths, and the names in it."""

    def __init__(self, path: Path, fd: int, roots: tuple[Path, ...]) -> None:
        self.path = path  # where it was when opened: for messages, and to check it is still there
        self.fd = fd
        self.roots = roots

    @classmethod
    def open(cls, path: Path, roots: Iterable[Path]) -> Folder:
        """``path`` (resolved, inside one of ``roots``), reached from that root with no symlink on the way.
        ``FileNotFoundError`` when it is gone, ``Redirected`` when a folder on the way is a symlink."""
        roots = tuple(roots)
        return cls(path, _walk(path, roots), roots)

    def __enter__(self) -> Folder:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def still_reached(self) -> bool:
        """Whether the folder's path, walked again as when it was opened, still leads to this folder."""
        try:
            fd = _walk(self.path, self.roots)
        except (OSError, Redirected):
            return False
        try:
            return _same(os.fstat(fd), os.fstat(self.fd))
        finally:
            os.close(fd)

    def lstat(self, name: str) -> os.stat_result | None:
        """What the name holds itself (a symlink is not followed), or None when nothing is there."""
        try:
            return os.stat(name, dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return None

    def open_file(self, name: str) -> int:
        """The regular file at ``name``, opened to read. ``OSError`` (``ELOOP`` for a symlink) or
        ``NotAFile`` when the name holds anything else."""
        fd = os.open(name, READ, dir_fd=self.fd)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise NotAFile(f"{name} is not a regular file")
            os.set_blocking(fd, True)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def create(self, name: str) -> int:
        """A new, empty file at ``name``, readable and writable by us only until it takes its place.
        ``FileExistsError`` when anything (a file, a symlink) has that name."""
        return os.open(name, CREATE, 0o600, dir_fd=self.fd)

    def holds(self, name: str, fd: int) -> bool:
        """Whether ``name`` is still the very file ``fd`` holds (not renamed, not swapped)."""
        st = self.lstat(name)
        return st is not None and _same(st, os.fstat(fd))

    def rename(self, source: str, target: str) -> None:
        """Atomic; a symlink at either name is renamed or replaced itself, never followed."""
        os.rename(source, target, src_dir_fd=self.fd, dst_dir_fd=self.fd)

    def unlink(self, name: str) -> None:
        os.unlink(name, dir_fd=self.fd)

    def fsync(self) -> None:
        """The folder's entries (a rename, an unlink) on disk."""
        os.fsync(self.fd)


def _walk(path: Path, roots: tuple[Path, ...]) -> int:
    """Open ``path`` from the root it lies in, one folder at a time, following no symlink below the root
    (the root is the administrator's, as ``MEDIA_PATHS`` gave it, resolved at start)."""
    root = next((r for r in roots if path == r or path.is_relative_to(r)), None)
    if root is None:
        raise OutsideMediaPaths(f"{path} is outside the media paths")
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in path.relative_to(root).parts:
            try:
                child = os.open(part, DIRECTORY, dir_fd=fd)
            except OSError as error:
                if error.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise
                raise Redirected(f"{part} on the way to {path} is not a folder (a symlink?)") from None
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def _same(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)
