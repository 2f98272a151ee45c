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
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from librarrarian_contracts import ReviewRequested, publish, topology
from librarrarian_contracts.views import CommitRequest
from librarrarian_media import reading
from librarrarian_runtime.errors import ServiceError
from nats.aio.client import Client

from . import commits, dynamic_hdr, earlier, failpoints, ffmpeg, opening, review, vmaf
from . import replace as safe_replace
from . import verify as verification
from .encoding import Encodes
from .folder import Folder, Redirected
from .job import Decided, Encoded, Job, Leftover, Outcome, Planned, Verified
from .quality_choice import Chosen
from .settings import Settings

log = logging.getLogger(__name__)

# The commit is asked for by a job whose output is ready to take the original's place: a verified one, one
# an earlier attempt left in place, or one a user accepted after review.
Ready = TypeVar("Ready", Verified, Leftover, Decided)

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
        self._installed_at: float | None = None

    async def installed_at(self) -> float | None:
        """When this installation began: its job stream's creation (made once, at the first start)."""
        if self._installed_at is None:
            with contextlib.suppress(Exception):  # unknown: the recycle folder is used, the safe side
                created = (await self.js.stream_info(topology.JOBS.name)).created
                self._installed_at = created.timestamp() if created is not None else None
        return self._installed_at

    def close(self) -> None:
        self.verifying.shutdown(wait=False)

    async def run(self, job: Job) -> Outcome:
        """Plan, then encode → verify → commit → replace (or keep, for a user's review); or, when an earlier
        attempt left its verified output in place, commit → finish; or a user's decision on a kept output."""
        if job.request.decision is not None:
            job.slot_free.set()  # nothing to encode
            return await review.decide(self, job)
        planned = await self.plan(job)
        if isinstance(planned, Leftover):
            with planned.folder:
                granted_leftover = await self.commit(planned)
                if not isinstance(granted_leftover, Leftover):
                    return granted_leftover
                return await self.finish(granted_leftover)
        if not isinstance(planned, Planned):
            return planned
        kept = False
        try:
            encoded = await self.encode(planned)
            if not isinstance(encoded, Encoded):
                return encoded
            verified = await self.verify(encoded)
            if isinstance(verified, Chosen):  # it missed its target: encoded again, finer, once
                log.info(
                    "job %d: VMAF target missed; encoding again at level %d", job.id, verified.quality.level
                )
                encoded = await self.encode(planned, verified)
                if not isinstance(encoded, Encoded):
                    return encoded
                verified = await self.verify(encoded)
            if not isinstance(verified, Verified):
                assert not isinstance(verified, Chosen)  # a second encode is never redone
                return verified
            granted = await self.commit(verified)
            if not isinstance(granted, Verified):
                return granted
            if granted.request.review:
                outcome = await self.keep(granted)
                kept = isinstance(outcome, ReviewRequested)
                return outcome
            return await self.replace(granted)
        finally:
            try:
                if kept:
                    os.close(planned.output.fd)  # it waits for the user under its name
                else:
                    # What is left of an output that did not take the original's place.
                    safe_replace.discard(planned.folder, planned.output)
            finally:
                os.close(planned.original)
                planned.folder.close()

    async def plan(self, job: Job) -> Planned | Leftover | Outcome:
        """The file as this node reaches it, still the one scanned, opened (its folder too) so that nothing
        renamed or planted later redirects the job; its output, created beside it; announced
        (``JobStarted``) once it is to be encoded."""
        request = job.request
        if (refusal := dynamic_hdr.refused(request.probe)) is not None:
            log.info("job %d skipped: %s", job.id, refusal)
            return job.skipped(refusal, None)
        reached = await asyncio.to_thread(opening.open_original, job, self.settings.media_paths)
        if isinstance(reached, opening.Changed):
            return await earlier.granted_output(self.nc, job, reached)
        if not isinstance(reached, tuple):
            if job.delivery > 1 and not isinstance(reached, Leftover):
                await commits.take_over(self.nc, job)  # so that this report counts (``commits.take_over``)
            return reached
        source, folder, original = reached
        with contextlib.ExitStack() as opened:
            opened.callback(folder.close)
            opened.callback(os.close, original)
            await self.remove_earlier_outputs(job, folder, source)
            suffix = ffmpeg.output_suffix(source, job.transcode.container)
            final = safe_replace.final_path(source, suffix)
            if final != source and await asyncio.to_thread(
                earlier.is_our_output, folder, final.name, request
            ):
                log.warning(
                    "job %d: an earlier attempt left its verified output %s in place; finishing it",
                    job.id,
                    final.name,
                )
                opened.pop_all()
                os.close(original)
                recycled = await asyncio.to_thread(
                    earlier.recycled_entry, job, source, final.name, self.settings.media_paths, folder
                )
                return Leftover(**job.carried(), source=source, final=final, folder=folder, recycled=recycled)
            try:
                safe_replace.check_target(folder, source.name, final.name)
            except safe_replace.WouldOverwrite as error:
                return job.failed(str(error), retryable=False)

            await publish(self.js, job.started())
            log.info(
                "job %d attempt %d delivery %d started: %s", job.id, request.attempt, job.delivery, source
            )
            try:
                output = safe_replace.create_output(folder, job.id, source.stem, suffix)
            except OSError as error:
                return job.failed(f"cannot create the output beside the original: {error.strerror or error}")
            failpoints.reach("output-created")
            opened.pop_all()
        notes = job.notes
        if dynamic_hdr.is_pq(request) and await asyncio.to_thread(dynamic_hdr.has_hdr10_plus, original):
            notes += (dynamic_hdr.HDR10_PLUS_DROPPED,)
        return Planned(
            **{**job.carried(), "notes": notes},
            source=source,
            final=final,
            folder=folder,
            original=original,
            output=output,
        )

    async def remove_earlier_outputs(self, job: Job, folder: Folder, source: Path) -> None:
        """What earlier attempts of this job left beside the original (they were killed mid-encode) goes
        before this one writes its own. A failure to remove them does not stop the job: the cleanup service
        finds them later."""
        try:
            removed = await asyncio.to_thread(earlier.remove, folder, job.id, source.stem)
        except OSError as error:
            log.warning("job %d: could not remove earlier attempts' outputs: %s", job.id, error)
            return
        for name in removed:
            log.info("job %d: removed %s, an earlier attempt's unfinished output", job.id, name)

    async def encode(self, job: Planned, chosen: Chosen | None = None) -> Encoded | Outcome:
        """ffmpeg writes the output; once it is done, the slot takes its next job while this one goes on
        (a second, finer encode after a missed target runs beside that next job)."""
        try:
            encoded = await self.encodes.encode(job, chosen)
        finally:
            job.slot_free.set()
        if isinstance(encoded, Encoded):
            log.info("job %d encoded in %.1f s", job.id, time.monotonic() - job.started_at)
        return encoded

    async def verify(self, job: Encoded) -> Verified | Outcome | Chosen:
        """The output, flushed to disk, is what was planned (architecture §3.4) and not too large; by target,
        its VMAF checked: one that missed comes back as the finer quality to encode it again at."""
        loop = asyncio.get_running_loop()
        written = reading.descriptor_path(job.output.fd)
        try:
            await asyncio.to_thread(os.fsync, job.output.fd)
            await failpoints.held("verifying")
            output = await loop.run_in_executor(
                self.verifying,
                functools.partial(
                    verification.verify,
                    written,
                    job.request.planned(),
                    full=self.settings.verify == "full",
                    codec=job.request.target_codec,
                    suffix=job.final.suffix,
                    languages=job.request.streams is not None,
                ),
            )
        except verification.VerifyError as error:
            return job.failed(f"verification failed: {error}", job.ffmpeg_log, retryable=False)
        except OSError as error:
            return job.failed(f"could not read the output: {error.strerror or error}")
        score = None
        chosen = job.chosen
        if job.transcode.measure_vmaf or (chosen is not None and chosen.by_target):
            score = await loop.run_in_executor(
                self.verifying,
                functools.partial(
                    vmaf.measure_segments,
                    self.encodes.binaries.vmaf,
                    reading.descriptor_path(job.original),
                    written,
                    output.duration,
                    container=job.request.probe.container,
                    pass_fds=(job.original, job.output.fd),
                    name=f"job {job.id}: {job.output.name}",
                ),
            )
        if chosen is not None and (finer := chosen.redo(score)) is not None:
            return finer
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
            vmaf=None if score is None else score.mean,
            quality=None if chosen is None else chosen.outcome(score, output.size),
        )

    async def commit(self, job: Ready) -> Ready | Outcome:
        """Ask the scheduler for the right to touch the original (architecture §3.3): the job back once
        granted; nothing (the holder reports) when another delivery holds it."""
        if isinstance(job, Verified | Decided) and os.fstat(job.output.fd).st_nlink == 0:
            # Its name was removed: by a later attempt of this job, which took this one for dead (it was
            # paused past its lease), or by someone in the folder. That attempt, or the next, goes on.
            return job.failed(
                f"the output {job.output.name} was removed before it could take the original's place"
            )
        output = None
        if isinstance(job, Verified | Decided):
            output = safe_replace.identity(os.fstat(job.output.fd))
        request = CommitRequest(
            job_id=job.id, attempt=job.request.attempt, delivery=job.delivery, node=job.node, output=output
        )
        try:
            decision = await commits.ask(self.nc, request)
        except ServiceError as error:
            return job.failed(f"could not ask the scheduler to commit: {error}")
        if not decision.granted:
            log.warning("job %d: commit denied (%s); leaving the files alone", job.id, decision.reason)
            return None
        self.committed.add(job.id)
        return job

    async def replace(self, job: Verified | Decided) -> Outcome:
        """The output takes the original's place, atomically (architecture §3.4)."""
        failpoints.reach("after-commit")
        keeper = None
        if job.transcode.recycles(await self.installed_at(), time.time()):
            keeper = opening.RecycleKeeper(job, self.settings.media_paths)
        try:
            links = await asyncio.to_thread(
                functools.partial(
                    safe_replace.replace,
                    job.folder,
                    job.source.name,
                    job.output,
                    job.final.name,
                    job.request.identity,
                    hard_links=job.transcode.replace_hard_links,
                    keep=keeper,
                )
            )
        except safe_replace.HardLinked as error:
            # A link made since the plan (a download client picked the file up): the original is kept.
            log.info("job %d skipped: %s", job.id, error)
            return job.skipped(str(error), job.size_after)
        except safe_replace.SourceChanged as error:
            # This delivery holds the commit, so it is the one to report: silence would leave the job
            # running for good. If an earlier holder presumed dead did replace the file after all, its
            # completion still counts when it arrives (a completion overrides a failure).
            log.warning("job %d: %s; discarding this output", job.id, error)
            return job.failed(f"{error}; the next scan queues it again", retryable=False)
        except safe_replace.OutputMoved as error:
            # Removed rather than swapped for something else: a later attempt of this job took this one for
            # dead and removed its output (``earlier.py``). The original is untouched: another try may run.
            return job.failed(str(error), retryable=os.fstat(job.output.fd).st_nlink == 0)
        except (
            safe_replace.WouldOverwrite,
            safe_replace.BothKept,
            safe_replace.NotKept,
            Redirected,
        ) as error:
            return job.failed(str(error), retryable=False)
        except OSError as error:
            return job.failed(f"could not replace the original: {error.strerror or error}")
        completed = job.completed(links, keeper.entry if keeper is not None else None)
        log.info(
            "job %d done in %.1f s: %s (%d → %d bytes)",
            job.id,
            completed.elapsed_seconds,
            job.final,
            completed.size_before,
            completed.size_after,
        )
        return completed

    async def keep(self, job: Verified) -> Outcome:
        """Review before replace: the verified output stays beside the original, set aside under a review
        name, until a user decides; the job ends ready to replace, with a preview frame of each file."""
        try:
            name = await asyncio.to_thread(review.set_aside, job.folder, job.output)
        except review.OutputChanged as error:
            return job.failed(str(error), retryable=False)
        except OSError as error:
            return job.failed(f"could not set the output aside for review: {error.strerror or error}")
        frames, at = await asyncio.get_running_loop().run_in_executor(
            self.verifying,
            functools.partial(
                review.previews,
                self.encodes.binaries.vmaf,
                job.original,
                job.output.fd,
                job.duration,
                job.request.probe.container,
            ),
        )
        waiting = review.waiting_output(
            job.output.fd, name, job.codec_after, job.encoder, job.duration, job.vmaf
        )
        log.info("job %d: output %s kept for review (%d bytes)", job.id, name, job.size_after)
        return job.kept(waiting, frames, at)

    async def finish(self, job: Leftover) -> Outcome:
        """The earlier attempt's output is in place: the original goes, if it is still the file planned (under
        another name: under its own, the output's rename already took it, into the recycle folder)."""
        try:
            if job.final != job.source:
                await asyncio.to_thread(
                    safe_replace.finish, job.folder, job.source.name, job.request.identity
                )
        except (safe_replace.SourceChanged, safe_replace.BothKept, Redirected) as error:
            return job.failed(str(error), retryable=False)
        except OSError as error:
            return job.failed(f"could not remove the original: {error.strerror or error}")
        final = job.folder.lstat(job.final.name)
        return job.completed(final.st_size if final is not None else 0)


def _lower_priority() -> None:
    """Run this thread (only) at a lower priority; Linux schedules threads one by one."""
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), VERIFY_NICENESS)
