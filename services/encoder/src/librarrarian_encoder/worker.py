"""One work message, start to end: check → encode → verify → commit → replace → report → ack.

Every outcome is published before the message is acked, so a crash in between means a redelivery, never
a lost outcome. The heartbeat (``in_progress``) runs for the whole handling: a node that dies stops it and
JetStream hands the job to another node after AckWait.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import av
from librarrarian_contracts import (
    JobCompleted,
    JobSkipped,
    JobStarted,
    Message,
    Transcode,
    publish,
    report_id,
    topology,
)
from librarrarian_contracts.settings import PathSettings, TranscodeSettings
from librarrarian_contracts.sources import PathMapping
from librarrarian_contracts.topology import HwClass
from librarrarian_contracts.views import CommitDecision, CommitRequest
from librarrarian_runtime import path_mapping
from librarrarian_runtime.errors import ServiceError
from librarrarian_runtime.media_paths import OutsideMediaPaths, contain
from librarrarian_runtime.queries import ask
from librarrarian_runtime.watched import Watched
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.kv import KeyValue

from . import failpoints, ffmpeg, replace, vmaf
from .binaries import Binaries
from .encoding import Encodes, Job
from .settings import Settings
from .verify import VerifyError, verify

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = topology.WORK_ACK_WAIT_SECONDS / 3


@dataclass(frozen=True)
class Refused:
    """The commit was not granted; ``outcome`` is what to report (None: nothing, the holder reports)."""

    outcome: Message | None


class Worker:
    def __init__(
        self,
        nc: Client,
        settings: Settings,
        binaries: Binaries,
        progress: KeyValue,
        transcode: Watched[TranscodeSettings],
        codecs: dict[HwClass, tuple[str, ...]],
        *,
        paths: Watched[PathSettings],
    ) -> None:
        self.nc = nc
        self.js = nc.jetstream()
        self.settings = settings
        self.progress = progress
        self.transcode = transcode
        self.paths = paths
        self.encodes = Encodes(binaries, progress, codecs)
        self.running: set[int] = set()
        # Verification decodes while the slot's next encode runs: at a low priority, so that encode is
        # not slowed (the decode fills the moments the encoder leaves a core idle).
        self.verifying = ThreadPoolExecutor(
            max_workers=2, thread_name_prefix="verify", initializer=_lower_priority
        )
        # Jobs granted the commit: they finish their replace and report it even when the node stops.
        self.committed: set[int] = set()

    def mappings(self) -> tuple[PathMapping, ...]:
        """This node's path mappings now: ``PATH_MAPPINGS`` with the ``paths`` setting's for this node."""
        return path_mapping.for_node(self.settings.path_mappings, self.paths.value, self.settings.node)

    def close(self) -> None:
        self.verifying.shutdown(wait=False)

    def pause(self) -> None:
        self.encodes.pause()

    def resume(self) -> None:
        self.encodes.resume()

    async def handle(self, msg: Msg, request: Transcode, encoded: asyncio.Event | None = None) -> None:
        """``encoded`` is set once ffmpeg is done with the job (or the job ended before it ran)."""
        job = Job(
            request,
            msg.metadata.num_delivered,
            self.settings.node,
            encoded or asyncio.Event(),
            self.mappings(),
        )
        self.running.add(request.job_id)
        heartbeat = asyncio.create_task(self._heartbeat(msg))
        try:
            outcome = await self._transcode(job)
        except asyncio.CancelledError:
            # The node is stopping and the grace period is over: hand the job to another node now.
            log.warning("job %d: stopped before the end; handing it back", request.job_id)
            with contextlib.suppress(Exception):
                await msg.nak()
            raise
        except Exception as error:
            log.exception("job %d: unexpected error", request.job_id)
            outcome = job.failed(f"internal error: {type(error).__name__}: {error}")
        finally:
            job.encoded.set()
            heartbeat.cancel()
            self.running.discard(request.job_id)
            self.committed.discard(request.job_id)
            with contextlib.suppress(Exception):
                await self.progress.delete(str(request.job_id))
        if outcome is not None:
            await publish(self.js, outcome)
        await msg.ack()

    async def _heartbeat(self, msg: Msg) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            with contextlib.suppress(Exception):  # a missed beat is retried at the next one
                await msg.in_progress()

    async def _transcode(self, job: Job) -> Message | None:
        request = job.request
        try:
            source = contain(path_mapping.to_local(request.path, job.mappings), self.settings.media_paths)
        except OutsideMediaPaths:
            return job.failed("the file is outside this node's media paths", retryable=False)
        current = replace.identity_of(source)
        if current is None:
            return job.failed("the file is gone", retryable=False)
        if current != request.identity:
            return job.failed(
                "the file changed since it was scanned; the next scan queues it again", retryable=False
            )
        suffix = ffmpeg.output_suffix(source, self.transcode.value.container)
        final = replace.final_path(source, suffix)
        if final != source and await asyncio.to_thread(self._is_our_output, final, request):
            return await self._finish_earlier_attempt(job, source, final)
        try:
            replace.check_target(source, final)
        except replace.WouldOverwrite as error:
            return job.failed(str(error), retryable=False)

        await publish(
            self.js,
            JobStarted(
                event_id=report_id(JobStarted, request.job_id, request.attempt, job.delivery),
                job_id=request.job_id,
                attempt=request.attempt,
                delivery=job.delivery,
                node=job.node,
                path=request.path,
            ),
        )
        log.info(
            "job %d attempt %d delivery %d started: %s", request.job_id, request.attempt, job.delivery, source
        )
        temp = replace.temp_path(source, request.job_id, request.attempt, job.delivery, suffix)
        started = time.monotonic()
        try:
            return await self._encode_and_replace(job, source, temp, final, started)
        finally:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()

    async def _encode_and_replace(
        self, job: Job, source: Path, temp: Path, final: Path, started: float
    ) -> Message | None:
        request = job.request
        settings = self.transcode.value
        encoded = await self.encodes.encode(job, source, temp, settings)
        job.encoded.set()
        result = encoded.result
        if result.stalled_after is not None:
            return job.failed(
                f"stalled: no progress for {result.stalled_after:.0f} s; ffmpeg was stopped",
                result.stderr_tail,
            )
        if result.returncode != 0:
            return job.failed(
                f"{encoded.profile.encoder} failed (ffmpeg exit {result.returncode}): {result.last_error}",
                _with_fallback(result.stderr_tail, encoded.fallback_reason),
            )
        try:
            await asyncio.to_thread(replace.fsync_file, temp)
            failpoints.reach("verifying")
            verified = await asyncio.get_running_loop().run_in_executor(
                self.verifying,
                functools.partial(
                    verify,
                    temp,
                    request.probe,
                    full=self.settings.verify == "full",
                    codec=request.target_codec,
                ),
            )
        except VerifyError as error:
            return job.failed(f"verification failed: {error}", result.stderr_tail, retryable=False)
        except OSError as error:
            return job.failed(f"could not read the output: {error.strerror or error}")
        score = None
        if settings.measure_vmaf:
            score = await asyncio.get_running_loop().run_in_executor(
                self.verifying,
                vmaf.measure,
                self.encodes.binaries.vmaf,
                source,
                temp,
                verified.duration,
            )
        size_before = request.identity.size
        if verified.size > settings.max_output_percent / 100 * size_before:
            reason = (
                f"the output ({verified.size:,} bytes, {verified.size / size_before:.0%}) is larger than "
                f"{settings.max_output_percent:g}% of the original ({size_before:,} bytes); original kept"
            )
            log.info("job %d skipped: %s", request.job_id, reason)
            return JobSkipped(
                event_id=report_id(JobSkipped, request.job_id, request.attempt),
                job_id=request.job_id,
                attempt=request.attempt,
                node=job.node,
                path=request.path,
                reason=reason,
                size_before=size_before,
                size_after=verified.size,
            )
        refused = await self._commit(job)
        if refused is not None:
            return refused.outcome
        self.committed.add(request.job_id)
        failpoints.reach("after-commit")
        try:
            await asyncio.to_thread(replace.replace, source, temp, final, request.identity)
        except replace.SourceChanged as error:
            log.warning(
                "job %d: %s; another attempt replaced it, discarding this output", request.job_id, error
            )
            return None
        except replace.WouldOverwrite as error:
            return job.failed(str(error), retryable=False)
        except OSError as error:
            return job.failed(f"could not replace the original: {error.strerror or error}")
        elapsed = time.monotonic() - started
        log.info(
            "job %d done in %.1f s: %s (%d → %d bytes)",
            request.job_id,
            elapsed,
            final,
            size_before,
            verified.size,
        )
        return JobCompleted(
            event_id=report_id(JobCompleted, request.job_id, request.attempt),
            job_id=request.job_id,
            attempt=request.attempt,
            node=job.node,
            path=request.path,
            output_path=_server_path(job, source, final),
            encoder=encoded.profile.encoder,
            codec_before=request.probe.video_codec,
            codec_after=verified.video_codec,
            size_before=size_before,
            size_after=verified.size,
            duration=verified.duration,
            elapsed_seconds=round(elapsed, 3),
            fallback_reason=encoded.fallback_reason,
            vmaf=score,
        )

    async def _commit(self, job: Job) -> Refused | None:
        """Ask the scheduler for the right to touch the original (architecture §3.3); None when granted."""
        request = job.request
        try:
            decision = await ask(
                self.nc,
                topology.SCHEDULER_COMMIT,
                CommitRequest(
                    job_id=request.job_id, attempt=request.attempt, delivery=job.delivery, node=job.node
                ),
                CommitDecision,
            )
        except ServiceError as error:
            return Refused(job.failed(f"could not ask the scheduler to commit: {error}"))
        if decision.granted:
            return None
        # Another delivery holds the commit and reports the outcome; this one leaves the files alone.
        log.warning("job %d: commit denied (%s); leaving the files alone", request.job_id, decision.reason)
        return Refused(None)

    @staticmethod
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
            verify(final, request.probe, codec=request.target_codec)
        except (av.FFmpegError, OSError, VerifyError):
            return False
        return True

    async def _finish_earlier_attempt(self, job: Job, source: Path, final: Path) -> Message | None:
        request = job.request
        log.warning(
            "job %d: an earlier attempt left its verified output %s in place; finishing it",
            request.job_id,
            final.name,
        )
        refused = await self._commit(job)
        if refused is not None:
            return refused.outcome
        self.committed.add(request.job_id)
        try:
            await asyncio.to_thread(replace.finish, source, final, request.identity)
        except replace.SourceChanged as error:
            return job.failed(str(error), retryable=False)
        except OSError as error:
            return job.failed(f"could not remove the original: {error.strerror or error}")
        size_after = (await asyncio.to_thread(final.stat)).st_size
        return JobCompleted(
            event_id=report_id(JobCompleted, request.job_id, request.attempt),
            job_id=request.job_id,
            attempt=request.attempt,
            node=job.node,
            path=request.path,
            output_path=_server_path(job, source, final),
            encoder="unknown (an earlier attempt)",
            codec_before=request.probe.video_codec,
            codec_after=request.target_codec,
            size_before=request.identity.size,
            size_after=size_after,
            duration=request.probe.duration,
            elapsed_seconds=0.0,
        )


def _server_path(job: Job, source: Path, final: Path) -> str:
    """The output as the server sees it. It lies beside the source, so it is named from the job's own path:
    two server folders may map to one folder here, and only the job's path says which one it came through."""
    path = job.request.path
    if final.parent == source.parent and path.endswith(source.name):
        return path[: len(path) - len(source.name)] + final.name
    return path_mapping.to_server(str(final), job.mappings)  # the source was reached through a symlink


def _with_fallback(stderr_tail: str, fallback_reason: str | None) -> str:
    return f"{fallback_reason}\n(then on the CPU:)\n{stderr_tail}" if fallback_reason else stderr_tail


VERIFY_NICENESS = 10


def _lower_priority() -> None:
    """Run this thread (only) at a lower priority; Linux schedules threads one by one."""
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), VERIFY_NICENESS)
