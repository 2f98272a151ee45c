"""The temporary outputs earlier attempts of a job left beside its original (an encoder killed mid-encode, a
machine that lost power): the next attempt removes them before it writes its own, instead of leaving a
partial film beside the original until the cleanup service offers it for deletion a day later.

Only what is certainly such an output is removed: a name of the form this job's outputs have
(``replace.temp_name``: the job's id, a drawn token, the original's stem, an output container's suffix),
holding a regular file with a single name that belongs to this process's user (an output is ours alone
until it takes the original's place; nobody else can make a file ours). A symlink, a folder, a file of
someone else's or one named for another job or another file is left alone. Every name is looked at and
unlinked relative to the job's open folder (``folder.py``), never through a path: a symlink at the name
would be removed itself, never followed.

An attempt presumed dead may still be running (a node paused past its lease): its output's name is then
gone when it asks for the commit, and it steps aside (``Pipeline.commit``)."""

from __future__ import annotations

import os
import re
import stat

from .ffmpeg import KEPT_CONTAINERS
from .folder import Folder
from .replace import TEMP_PREFIX, shortened

TOKEN = re.compile(r"[0-9a-f]{16}")  # replace.new_token's


def is_earlier_output(name: str, job_id: int, stem: str) -> bool:
    """Whether ``name`` is one this job's outputs are given, for an original named ``stem``."""
    head = f"{TEMP_PREFIX}{job_id}-"
    if not name.startswith(head):
        return False
    rest = name[len(head) :]
    token, dash, tail = rest[:16], rest[16:17], rest[17:]
    short = shortened(stem)
    if not (TOKEN.fullmatch(token) and dash == "-" and tail.startswith(short)):
        return False
    return tail[len(short) :].lower() in KEPT_CONTAINERS  # every output suffix is one of these


def remove(folder: Folder, job_id: int, stem: str) -> list[str]:
    """Unlink the job's earlier outputs in ``folder``; the names removed."""
    removed = []
    for name in os.listdir(folder.fd):
        if not is_earlier_output(name, job_id, stem):
            continue
        st = folder.lstat(name)
        if st is None or not stat.S_ISREG(st.st_mode) or st.st_nlink != 1 or st.st_uid != os.geteuid():
            continue
        try:
            folder.unlink(name)
        except FileNotFoundError:
            continue
        removed.append(name)
    if removed:
        folder.fsync()
    return removed
