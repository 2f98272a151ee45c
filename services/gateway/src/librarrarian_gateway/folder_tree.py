"""The subfolders of a folder inside the media paths, for picking library folders instead of typing them.

Whatever is asked, nothing outside the media paths is listed or named: the path must be absolute, without
NUL or ``..``; the folder is opened first and its real place (what the open descriptor points to, so a
symlink swapped in meanwhile changes nothing) must lie inside a media path; a subfolder that is a symlink is
listed only when it leads to a folder inside them, and by where it leads. Dot folders are left out, and a
listing stops after ``limit`` subfolders (``truncated``) or after looking at ``scan_limit`` entries.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from librarrarian_runtime.media_paths import is_contained

LIMIT = 500
SCAN_LIMIT = 20_000


class Refused(ValueError):
    """The path is not one this lists (the message says why, without naming anything outside)."""


class Unlistable(OSError):
    """The folder does not exist, is not a folder, or cannot be read."""


@dataclass(frozen=True)
class Subfolder:
    name: str
    path: str


@dataclass(frozen=True)
class Listing:
    path: str | None  # None: the media paths themselves
    parent: str | None  # None at a media path (or at the top)
    folders: list[Subfolder] = field(default_factory=list)
    truncated: bool = False


def top(roots: Iterable[Path]) -> Listing:
    return Listing(
        path=None, parent=None, folders=[Subfolder(name=str(root), path=str(root)) for root in roots]
    )


def checked(text: str) -> str:
    if "\x00" in text:
        raise Refused("a path must not hold NUL")
    if not text.startswith("/"):
        raise Refused("the path must be absolute")
    if ".." in text.split("/"):
        raise Refused("the path must not go up with '..'")
    return text


def subfolders(
    text: str, roots: tuple[Path, ...], limit: int = LIMIT, scan_limit: int = SCAN_LIMIT
) -> Listing:
    """The folder at ``text`` (inside ``roots``) and its subfolders, by name."""
    path = checked(text)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as error:
        if not is_contained(path, roots):
            raise Refused("the path is outside the media paths") from None
        raise Unlistable(error.errno, f"cannot list it: {error.strerror}") from None
    try:
        real = _real(fd, path)
        if not is_contained(real, roots):
            raise Refused("the path is outside the media paths")
        found, truncated = _scan(fd, real, roots, limit, scan_limit)
    finally:
        os.close(fd)
    at_root = any(real == root for root in roots)
    return Listing(
        path=str(real),
        parent=None if at_root else str(real.parent),
        folders=sorted(found, key=lambda f: f.name.casefold()),
        truncated=truncated,
    )


def _real(fd: int, path: str) -> Path:
    """Where the open folder really is: from the descriptor where the system says (Linux), else resolved."""
    proc = f"/proc/self/fd/{fd}"
    if os.path.exists(proc):
        return Path(os.readlink(proc))
    return Path(path).resolve()


def _scan(
    fd: int, real: Path, roots: tuple[Path, ...], limit: int, scan_limit: int
) -> tuple[list[Subfolder], bool]:
    found: list[Subfolder] = []
    with os.scandir(fd) as entries:
        for looked, entry in enumerate(entries):
            if looked >= scan_limit or len(found) >= limit:
                return found, True
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    found.append(Subfolder(name=entry.name, path=str(real / entry.name)))
                elif entry.is_symlink():
                    target = Path(os.path.realpath(real / entry.name))
                    if is_contained(target, roots) and stat.S_ISDIR(os.stat(target).st_mode):
                        found.append(Subfolder(name=entry.name, path=str(target)))
            except OSError:
                continue  # gone meanwhile, or a dangling link: nothing to pick
    return found, False
