"""Review before replace, on this node: an output kept for a user's review (its preview frames and what it is
on disk), and the user's decision on it, taken only while the output is still the very file kept.

A kept output stays beside the original under a temporary name of its own, ``.tmp_librarrarian-review-…``
(``set_aside``): a later attempt of its job never takes it for an unfinished output of its own to remove
(``earlier.py``), the scanner skips it like any temporary output, and the scheduler tells the cleanup
service's stale-file finder that it is not litter while its job waits. Accepting it puts
it in place through the pipeline's own commit and replace (``Pipeline.decide``); rejecting it deletes it.
Both first check that the name holds a regular file (never through a symlink) with one name, and the size,
mtime and inode it had when kept (created ``0600``, nobody else can write it): whatever someone put there
instead, linked elsewhere or wrote into it is refused and left alone. The owner is not checked: a replace
interrupted after giving the output the original's owner is taken up again by the next delivery. Every name is used relative to the job's open folder (``folder.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import stat
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from librarrarian_contracts import WaitingOutput, publish
from librarrarian_media import reading
from librarrarian_runtime import path_mapping, recycle
from librarrarian_runtime.media_paths import OutsideMediaPaths, contain

from . import replace
from .folder import Folder, NotAFile, Redirected
from .job import Decided, Job, Leftover, Outcome
from .replace import identity

if TYPE_CHECKING:
    from .pipeline import Pipeline

log = logging.getLogger(__name__)

PREVIEW_WIDTH = 320
MAX_PREVIEW_BYTES = 128 * 1024  # a 320-pixel JPEG is a few kilobytes; anything larger is not kept
PREVIEW_TIMEOUT_SECONDS = 60.0
PREVIEW_POINT = 0.25  # where the frame is taken, as a share of the duration: past the opening titles


class OutputChanged(Exception):
    """The waiting output's name does not hold the file kept any more (swapped, replaced by a symlink,
    written to, linked elsewhere): nothing is done with it."""


REVIEW_PREFIX = f"{replace.TEMP_PREFIX}review-"


def review_name(name: str) -> str:
    """``.tmp_librarrarian-<job>-<token>-<stem><suffix>`` → ``.tmp_librarrarian-review-<job>-…``."""
    return REVIEW_PREFIX + name.removeprefix(replace.TEMP_PREFIX)


def set_aside(folder: Folder, output: replace.Output) -> str:
    """Give the verified output its review name, never over an existing file (a link, then the old name's
    removal: a crash in between leaves the output under both names, neither of which a later attempt
    removes). The new name; ``OutputChanged`` when the output's name does not hold it any more."""
    if not folder.holds(output.name, output.fd):
        raise OutputChanged(f"{output.name} is not the output written any more; original kept")
    name = review_name(output.name)
    os.link(output.name, name, src_dir_fd=folder.fd, dst_dir_fd=folder.fd, follow_symlinks=False)
    if not folder.holds(name, output.fd):  # swapped between the check and the link: not ours
        raise OutputChanged(f"{output.name} was swapped while it was set aside; original kept")
    folder.unlink(output.name)
    folder.fsync()
    return name


def waiting_output(
    fd: int, name: str, codec: str, encoder: str, duration: float | None, vmaf: float | None
) -> WaitingOutput:
    """What the kept output is on disk now, to be found the same when a user decides."""
    st = os.fstat(fd)
    return WaitingOutput(
        name=name,
        identity=identity(st),
        codec=codec,
        encoder=encoder,
        duration=duration,
        vmaf=vmaf,
    )


def check(st: os.stat_result, waiting: WaitingOutput) -> None:
    """``st`` (never a symlink's target) is the output kept, unchanged since, with no other name."""
    if not stat.S_ISREG(st.st_mode):
        raise OutputChanged(f"{waiting.name} is not a regular file any more; left alone")
    if not identity(st).same_file(waiting.identity) or st.st_nlink != 1:
        raise OutputChanged(f"{waiting.name} changed since it was kept for review; left alone")


def open_waiting(folder: Folder, waiting: WaitingOutput) -> int:
    """The waiting output, opened to read (a symlink at its name is refused, not followed), once checked
    to be the file kept. ``FileNotFoundError`` when nothing has its name."""
    try:
        fd = folder.open_file(waiting.name)
    except (NotAFile, OSError) as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise OutputChanged(f"{waiting.name} is not the output kept any more; left alone") from None
    try:
        check(os.fstat(fd), waiting)
    except BaseException:
        os.close(fd)
        raise
    return fd


def in_place(folder: Folder, waiting: WaitingOutput, final: str) -> bool:
    """Whether the kept output already has its final name: an earlier delivery of the accept renamed it and
    died before reporting."""
    st = folder.lstat(final)
    return st is not None and stat.S_ISREG(st.st_mode) and st.st_ino == waiting.identity.inode


def reject(folder: Folder, waiting: WaitingOutput) -> bool:
    """Delete the waiting output, checked first; False when it is gone already (an earlier delivery)."""
    st = folder.lstat(waiting.name)
    if st is None:
        return False
    check(st, waiting)
    folder.unlink(waiting.name)
    folder.fsync()
    return True


async def decide(pipeline: Pipeline, job: Job) -> Outcome:
    """A user's decision on the output an earlier attempt kept: rejected, it is deleted; accepted, it
    takes the original's place through the same commit and replace as any encode. Either only while the
    output is the very file kept (``review.py``), and the replace only while the original is still the
    file scanned: anything else is refused with nothing touched."""
    decision = job.request.decision
    assert decision is not None
    waiting = decision.output
    try:
        source = contain(path_mapping.to_local(job.request.path, job.mappings), pipeline.settings.media_paths)
        folder = Folder.open(source.parent, pipeline.settings.media_paths)
    except OutsideMediaPaths:
        return job.failed("the file is outside this node's media paths", retryable=False)
    except (FileNotFoundError, Redirected) as error:
        return job.failed(f"the file's folder is not reachable: {error}", retryable=False)
    except OSError as error:
        return job.failed(f"cannot open the file's folder: {error.strerror or error}")
    with folder:
        await publish(pipeline.js, job.started())
        # The output's own container, whatever the setting says now.
        final = replace.final_path(source, Path(waiting.name).suffix)
        try:
            if not decision.accept:
                removed = await asyncio.to_thread(reject, folder, waiting)
                log.info("job %d: output %s rejected in review and deleted", job.id, waiting.name)
                return job.skipped(
                    "rejected in review: its output was deleted, the original kept"
                    if removed
                    else "rejected in review: its output was gone already, the original kept",
                    waiting.identity.size,
                )
            fd = await asyncio.to_thread(open_waiting, folder, waiting)
        except FileNotFoundError:
            if in_place(folder, waiting, final.name):
                # An earlier delivery of this accept renamed it and died: the rest of that replace, under
                # the commit (this delivery's report counts only once granted).
                leftover = await pipeline.commit(
                    Leftover(**job.carried(), source=source, final=final, folder=folder)
                )
                if not isinstance(leftover, Leftover):
                    return leftover
                if final == source or folder.lstat(source.name) is None:
                    return leftover.completed(waiting.identity.size)
                return await pipeline.finish(leftover)
            return job.failed(f"the output {waiting.name} kept for review is gone", retryable=False)
        except OutputChanged as error:
            return job.failed(str(error), retryable=False)
        except OSError as error:
            return job.failed(f"cannot reach the output kept for review: {error.strerror or error}")
        # A name of the original an earlier delivery of this accept gave it in the recycle folder before it
        # died: dropped, so that it is neither taken for a hard link nor kept twice.
        original = folder.lstat(source.name)
        if original is not None:
            with contextlib.suppress(OSError, recycle.Unavailable):
                roots = pipeline.settings.media_paths
                recycle.forget_earlier(recycle.root_of(source, roots), job.id, original, folder.fd)
        accepted = Decided(
            **job.carried(),
            source=source,
            final=final,
            folder=folder,
            output=replace.Output(waiting.name, fd),
            waiting=waiting,
        )
        try:
            granted = await pipeline.commit(accepted)
            if not isinstance(granted, Decided):
                return granted
            return await pipeline.replace(granted)
        finally:
            os.close(fd)


def previews(
    ffmpeg_path: str, original: int, output: int, duration: float | None, container: str | None
) -> tuple[tuple[bytes, bytes] | None, float | None]:
    """One small JPEG of the original and one of the output at the same moment (both read through their
    descriptors), and that moment; None when either cannot be made (a preview is never worth a failure)."""
    at = round(duration * PREVIEW_POINT, 3) if duration else 0.0
    frames = []
    for fd, demuxer in ((original, container), (output, None)):
        frame = _frame(ffmpeg_path, fd, at, demuxer)
        if frame is None:
            return None, None
        frames.append(frame)
    return (frames[0], frames[1]), at


def frame_argv(ffmpeg_path: str, source: str, at: float, container: str | None = None) -> list[str]:
    """One frame at ``at`` seconds, scaled to ``PREVIEW_WIDTH`` wide, as a JPEG on standard output."""
    return [
        ffmpeg_path,
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-ss",
        f"{at:g}",
        *reading.input_args(container),
        "-i",
        source,
        "-map",
        "0:v:0",
        "-frames:v",
        "1",
        "-vf",
        f"scale={PREVIEW_WIDTH}:-2",
        "-q:v",
        "5",
        "-f",
        "image2pipe",
        "-c:v",
        "mjpeg",
        "-",
    ]


def _frame(ffmpeg_path: str, fd: int, at: float, container: str | None) -> bytes | None:
    try:
        done = subprocess.run(
            frame_argv(ffmpeg_path, reading.descriptor_path(fd), at, container),
            capture_output=True,
            pass_fds=(fd,),
            timeout=PREVIEW_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        log.warning("no preview frame: %s", error)
        return None
    if done.returncode != 0 or not done.stdout or len(done.stdout) > MAX_PREVIEW_BYTES:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no frame"]
        log.warning("no preview frame (ffmpeg exit %d): %s", done.returncode, tail[0])
        return None
    return done.stdout
