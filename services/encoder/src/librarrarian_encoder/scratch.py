"""Private temporary folders of this node's own: a quality search's samples, a segment's source and video, the
segments a job joins. Each is named with its kind and this process's id and removed after use, so a node that
was killed mid-way has its leftovers removed at its next start (``remove_leftovers``)."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

SEARCH = "librarrarian-search-"
SEGMENT = "librarrarian-segment-"
KINDS = (SEARCH, SEGMENT)


@contextlib.contextmanager
def folder(kind: str) -> Iterator[Path]:
    """A new private folder (mode 0700) for one piece of work, removed after it."""
    path = make(kind)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def make(kind: str) -> Path:
    """A new private folder named for ``kind`` and this process; the caller removes it."""
    if kind not in KINDS:
        raise ValueError(f"not a kind of scratch folder: {kind!r}")
    return Path(tempfile.mkdtemp(prefix=f"{kind}{os.getpid()}-"))


def remove_leftovers(root: Path | None = None) -> int:
    """Remove the folders of processes that are gone; how many."""
    root = root or Path(tempfile.gettempdir())
    removed = 0
    for kind in KINDS:
        for path in root.glob(f"{kind}*"):
            pid = path.name.removeprefix(kind).split("-", 1)[0]
            if not pid.isdigit() or _alive(int(pid)):
                continue
            try:
                st = path.lstat()
            except OSError:
                continue
            # Only a real folder of this user's: a shared temporary folder is anyone's to plant names in, and
            # a symlink named like ours must not lead the removal elsewhere.
            if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
                continue
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
