"""Finding stale files under the media paths: temporary files (``.tmp_*``, among them an encode's output
that a crash left behind) and ``.lock`` files that nothing has touched for a long time.

The walk never follows a symlink and never leaves the media paths; it only reads. What it finds becomes a
cleanup job that waits for a user's approval.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from librarrarian_contracts import FileIdentity
from librarrarian_runtime import recycle

log = logging.getLogger(__name__)

TEMP_PREFIX = ".tmp_"
LOCK_SUFFIX = ".lock"


def stale_kind(name: str) -> str | None:
    """``temporary`` or ``lock`` for a name the cleanup may delete, None for every other file."""
    if name.startswith(TEMP_PREFIX) and len(name) > len(TEMP_PREFIX):
        return "temporary"
    if name.endswith(LOCK_SUFFIX) and len(name) > len(LOCK_SUFFIX):
        return "lock"
    return None


@dataclass(frozen=True)
class Stale:
    path: Path
    identity: FileIdentity
    why: str


def age_in_words(seconds: float) -> str:
    hours = seconds / 3600
    if hours < 48:
        return f"{hours:.0f} hours"
    return f"{hours / 24:.0f} days"


def find(
    roots: tuple[Path, ...],
    older_than_seconds: float,
    now: float,
    on_unreadable: Callable[[Path, OSError], None] = lambda _d, _e: None,
) -> Iterator[Stale]:
    """Every stale file under ``roots`` (resolved directories), untouched for ``older_than_seconds``."""
    pending = list(roots)
    while pending:
        directory = pending.pop()
        try:
            with os.scandir(directory) as entries:
                listed = list(entries)
        except OSError as error:
            on_unreadable(directory, error)
            continue
        for entry in listed:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue  # gone meanwhile
            if stat.S_ISDIR(st.st_mode):
                if entry.name == recycle.FOLDER:
                    continue  # kept originals: expired by their own rule (``recycle.expire``)
                pending.append(Path(entry.path))
                continue
            kind = stale_kind(entry.name)
            if kind is None or not stat.S_ISREG(st.st_mode):
                continue  # a symlink is never followed nor deleted: it may point anywhere
            age = now - st.st_mtime_ns / 1e9
            if age < older_than_seconds:
                continue
            yield Stale(
                Path(entry.path),
                FileIdentity(size=st.st_size, mtime_ns=st.st_mtime_ns, inode=st.st_ino),
                f"{kind} file untouched for {age_in_words(age)}",
            )
