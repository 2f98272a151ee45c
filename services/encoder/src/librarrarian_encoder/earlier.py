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
gone when it asks for the commit, and it steps aside (``Pipeline.commit``).

An attempt may also have died after its verified output took its final name but before it reported it:
``replaced`` and ``is_our_output`` recognise that output (by the attempt's recycle entry, or by the job's tag
inside the file), or ``granted_output`` (by the identity its commit was granted for), so the next attempt
finishes the job instead of encoding again or failing it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import stat
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import av
from librarrarian_contracts import Transcode
from librarrarian_media import reading
from librarrarian_runtime import recycle
from librarrarian_runtime.errors import ServiceError
from nats.aio.client import Client

from . import commits, ffmpeg
from . import verify as verification
from .ffmpeg import KEPT_CONTAINERS
from .folder import Folder, NotAFile
from .job import Job, Leftover, Outcome
from .replace import TEMP_PREFIX, shortened

if TYPE_CHECKING:
    from .opening import Changed  # which reads this module

log = logging.getLogger(__name__)

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


def give_up(folder: Folder, job_id: int, stem: str) -> None:
    """The job ends here, its original gone or another file: what its earlier attempts left goes too (no
    later attempt will come for it), and the folder is closed."""
    with folder, contextlib.suppress(OSError):
        for name in remove(folder, job_id, stem):
            log.info("job %d: removed %s, an earlier attempt's unfinished output", job_id, name)


def replaced(job: Job, source: Path, roots: tuple[Path, ...], folder: Folder) -> Leftover | None:
    """The file under the original's name is this job's output, put there by an earlier attempt that died
    before reporting it (the same container, so the rename was its last step): recognised by that attempt's
    recycle entry, or, with no recycle folder, by the job's tag inside the file and a verification."""
    recycled = recycled_entry(job, source, source.name, roots, folder)
    if recycled is None and not is_our_output(folder, source.name, job.request):
        return None
    log.warning(
        "job %d: an earlier attempt put its verified output in place of %s and died before reporting it",
        job.id,
        source.name,
    )
    return Leftover(**job.carried(), source=source, final=source, folder=folder, recycled=recycled)


def recycled_entry(job: Job, source: Path, final: str, roots: tuple[Path, ...], folder: Folder) -> str | None:
    """The recycle entry of the original an earlier attempt kept before its output took the name ``final``."""
    with contextlib.suppress(OSError, recycle.Unavailable):
        output = folder.lstat(final)
        if output is None:
            return None
        root = recycle.root_of(source, roots)
        relative = PurePosixPath(source.relative_to(root))
        return recycle.replaced_earlier(root, job.id, job.request.identity, relative, output, final)
    return None


async def granted_output(nc: Client, job: Job, changed: Changed) -> Leftover | Outcome:
    """Another file than the one scanned is under the original's name, and neither a recycle entry nor a tag
    says it is this job's output. It still is when it is the very file (inode, size, mtime) an earlier
    delivery of this job was granted the commit for, and it passes verification: that delivery renamed
    it and died before reporting (an MP4 keeps no tag of ours; without a recycle folder nothing else says
    so). Otherwise the job fails: the next scan queues the new file. Either way this delivery asks for the
    commit first, so that its report counts (a holder presumed dead would otherwise keep the job running)."""
    decision = await commits.take_over(nc, job)
    if isinstance(decision, ServiceError):
        changed.folder.close()
        return job.failed(f"could not ask the scheduler to commit: {decision}")
    found, source = changed.found, changed.source
    if (
        decision.granted
        and any(found.same_file(output) for output in decision.outputs)
        and await asyncio.to_thread(is_our_output, changed.folder, source.name, job.request, tagged=False)
    ):
        log.warning(
            "job %d: an earlier delivery put its verified output in place of %s and died before reporting it",
            job.id,
            source.name,
        )
        return Leftover(**job.carried(), source=source, final=source, folder=changed.folder)
    give_up(changed.folder, job.id, source.stem)
    return job.failed("the file changed since it was scanned; the next scan queues it again", retryable=False)


def is_our_output(folder: Folder, name: str, request: Transcode, *, tagged: bool = True) -> bool:
    """``name`` is this job's verified output, left by an attempt that died between putting it in place and
    reporting it: a regular file (a symlink is not followed) that carries the job's tag (an MKV does; an
    MP4 keeps no tag of ours: ``tagged=False`` when its identity already says it) and passes
    verification."""
    try:
        fd = folder.open_file(name)
    except (OSError, NotAFile):
        return False
    path = reading.descriptor_path(fd)
    try:
        with av.open(path, container_options=reading.OPTIONS) as container:
            tag = container.metadata.get(ffmpeg.JOB_TAG)
        if tagged and tag != str(request.job_id):
            return False
        verification.verify(
            path,
            request.planned(),
            codec=request.target_codec,
            suffix=Path(name).suffix,
            languages=request.streams is not None,
        )
    except (av.FFmpegError, OSError, verification.VerifyError):
        return False
    finally:
        os.close(fd)
    return True
