"""A job's way through this node: plan → encode → verify → commit → replace, each step taking the job the
last one returned and returning it for the next, or the job's outcome. The original is touched only once its
output is verified on disk and the scheduler granted this attempt the commit (architecture §3.3, §3.4)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import av
from librarrarian_contracts import Transcode, publish, topology
from librarrarian_contracts.views import CommitDecision, CommitRequest
from librarrarian_runtime import path_mapping
from librarrarian_runtime.errors import ServiceError
from librarrarian_runtime.media_paths import OutsideMediaPaths, contain
from librarrarian_runtime.queries import ask
from nats.aio.client import Client

from . import failpoints, ffmpeg, vmaf
from . import replace as safe_replace
from . import verify as verification
from .encoding import Encodes
from .job import Encoded, Job, Leftover, Outcome, Planned, Verified
from .settings import Settings

log = logging.getLogger(__name__)

# The commit is asked for by a job whose output is ready to take the original's place: a verified one, or
# one an earlier attempt left in place.
Ready = TypeVar("Ready", Verified, Leftover)

VERIFY_NICENESS = 10


class Pipeline:
    def __init__(self, nc: Client, settings: Settings, encodes: Encodes, committed: set[int]) -> None:
        self.nc, self.js = nc, nc.jetstream()
        self.settings = settings
        self.encodes = encodes
        # Jobs granted the commit: they finish their replace and report it even when the node stops.
        self.committed = committed
        # Verification decodes while the slot's next encode runs: at a low priority, so that encode is
        # not slowed (the decode fills the moments the encoder leaves a core idle).
        self.verifying = ThreadPoolExecutor(
            max_workers=2, thread_name_prefix="verify", initializer=_lower_priority
        )

    def close(self) -> None:
        self.verifying.shutdown(wait=False)

    async def run(self, job: Job) -> Outcome:
        """Plan, then encode → verify → commit → replace; or, when an earlier attempt left its verified
        output in place, commit → finish."""
        planned = await self.plan(job)
        if isinstance(planned, Leftover):
            granted_leftover = await self.commit(planned)
            if not isinstance(granted_leftover, Leftover):
                return granted_leftover
            return await self.finish(granted_leftover)
        if not isinstance(planned, Planned):
            return planned
        try:
            encoded = await self.encode(planned)
            if not isinstance(encoded, Encoded):
                return encoded
            verified = await self.verify(encoded)
            if not isinstance(verified, Verified):
                return verified
            granted = await self.commit(verified)
            if not isinstance(granted, Verified):
                return granted
            return await self.replace(granted)
        finally:
            with contextlib.suppress(FileNotFoundError):
                planned.temp.unlink()  # what is left of an output that did not take the original's place

    async def plan(self, job: Job) -> Planned | Leftover | Outcome:
        """The file as this node reaches it, still the one scanned, and where its output goes; announced
        (``JobStarted``) once it is to be encoded."""
        request = job.request
        try:
            source = contain(path_mapping.to_local(request.path, job.mappings), self.settings.media_paths)
        except OutsideMediaPaths:
            return job.failed("the file is outside this node's media paths", retryable=False)
        current = safe_replace.identity_of(source)
        if current is None:
            return job.failed("the file is gone", retryable=False)
        if current != request.identity:
            return job.failed(
                "the file changed since it was scanned; the next scan queues it again", retryable=False
            )
        suffix = ffmpeg.output_suffix(source, job.transcode.container)
        final = safe_replace.final_path(source, suffix)
        if final != source and await asyncio.to_thread(_is_our_output, final, request):
            log.warning(
                "job %d: an earlier attempt left its verified output %s in place; finishing it",
                job.id,
                final.name,
            )
            return Leftover(**job.carried(), source=source, final=final)
        try:
            safe_replace.check_target(source, final)
        except safe_replace.WouldOverwrite as error:
            return job.failed(str(error), retryable=False)

        await publish(self.js, job.started())
        log.info("job %d attempt %d delivery %d started: %s", job.id, request.attempt, job.delivery, source)
        temp = safe_replace.temp_path(source, job.id, request.attempt, job.delivery, suffix)
        return Planned(**job.carried(), source=source, final=final, temp=temp)

    async def encode(self, job: Planned) -> Encoded | Outcome:
        """ffmpeg writes the output; once it is done, the slot takes its next job while this one goes on."""
        try:
            return await self.encodes.encode(job)
        finally:
            job.slot_free.set()

    async def verify(self, job: Encoded) -> Verified | Outcome:
        """The output, flushed to disk, is what was planned (architecture §3.4) and not too large."""
        loop = asyncio.get_running_loop()
        try:
            await asyncio.to_thread(safe_replace.fsync_file, job.temp)
            failpoints.reach("verifying")
            output = await loop.run_in_executor(
                self.verifying,
                functools.partial(
                    verification.verify,
                    job.temp,
                    job.request.probe,
                    full=self.settings.verify == "full",
                    codec=job.request.target_codec,
                ),
            )
        except verification.VerifyError as error:
            return job.failed(f"verification failed: {error}", job.ffmpeg_log, retryable=False)
        except OSError as error:
            return job.failed(f"could not read the output: {error.strerror or error}")
        score = None
        if job.transcode.measure_vmaf:
            score = await loop.run_in_executor(
                self.verifying,
                vmaf.measure,
                self.encodes.binaries.vmaf,
                job.source,
                job.temp,
                output.duration,
            )
        size_before = job.request.identity.size
        limit = job.transcode.max_output_percent
        if output.size > limit / 100 * size_before:
            reason = (
                f"the output ({output.size:,} bytes, {output.size / size_before:.0%}) is larger than "
                f"{limit:g}% of the original ({size_before:,} bytes); original kept"
            )
            log.info("job %d skipped: %s", job.id, reason)
            return job.skipped(reason, output.size)
        return Verified(
            **job.carried(),
            size_after=output.size,
            codec_after=output.video_codec,
            duration=output.duration,
            vmaf=score,
        )

    async def commit(self, job: Ready) -> Ready | Outcome:
        """Ask the scheduler for the right to touch the original (architecture §3.3): the job back once
        granted; nothing (the holder reports) when another delivery holds it."""
        try:
            decision = await ask(
                self.nc,
                topology.SCHEDULER_COMMIT,
                CommitRequest(
                    job_id=job.id, attempt=job.request.attempt, delivery=job.delivery, node=job.node
                ),
                CommitDecision,
            )
        except ServiceError as error:
            return job.failed(f"could not ask the scheduler to commit: {error}")
        if not decision.granted:
            log.warning("job %d: commit denied (%s); leaving the files alone", job.id, decision.reason)
            return None
        self.committed.add(job.id)
        return job

    async def replace(self, job: Verified) -> Outcome:
        """The output takes the original's place, atomically (architecture §3.4)."""
        failpoints.reach("after-commit")
        try:
            await asyncio.to_thread(
                safe_replace.replace, job.source, job.temp, job.final, job.request.identity
            )
        except safe_replace.SourceChanged as error:
            log.warning("job %d: %s; another attempt replaced it, discarding this output", job.id, error)
            return None
        except safe_replace.WouldOverwrite as error:
            return job.failed(str(error), retryable=False)
        except OSError as error:
            return job.failed(f"could not replace the original: {error.strerror or error}")
        completed = job.completed()
        log.info(
            "job %d done in %.1f s: %s (%d → %d bytes)",
            job.id,
            completed.elapsed_seconds,
            job.final,
            completed.size_before,
            completed.size_after,
        )
        return completed

    async def finish(self, job: Leftover) -> Outcome:
        """The earlier attempt's output is in place: the original goes, if it is still the file planned."""
        try:
            await asyncio.to_thread(safe_replace.finish, job.source, job.final, job.request.identity)
        except safe_replace.SourceChanged as error:
            return job.failed(str(error), retryable=False)
        except OSError as error:
            return job.failed(f"could not remove the original: {error.strerror or error}")
        return job.completed((await asyncio.to_thread(job.final.stat)).st_size)


def _is_our_output(final: Path, request: Transcode) -> bool:
    """``final`` (beside a changed-container original) is this job's verified output, left by an attempt
    that died between putting it in place and removing the original."""
    if not final.exists():
        return False
    try:
        with av.open(str(final)) as container:
            tag = container.metadata.get(ffmpeg.JOB_TAG)
        if tag != str(request.job_id):
            return False
        verification.verify(final, request.probe, codec=request.target_codec)
    except (av.FFmpegError, OSError, verification.VerifyError):
        return False
    return True


def _lower_priority() -> None:
    """Run this thread (only) at a lower priority; Linux schedules threads one by one."""
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), VERIFY_NICENESS)
