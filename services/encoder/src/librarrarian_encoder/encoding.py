"""Encoding one job's file: the job's hardware class when this node has it working, else the CPU; a hardware
encode that fails is done again on the CPU, with the reason kept. Running encodes can be paused and resumed
(SIGSTOP/SIGCONT), a stalled one is stopped, and progress goes to the ``progress`` bucket once a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from librarrarian_contracts import JobFailed, Transcode, encode, report_id
from librarrarian_contracts.settings import TranscodeSettings
from librarrarian_contracts.sources import PathMapping
from librarrarian_contracts.topology import HwClass
from librarrarian_contracts.views import JobProgress
from nats.js.kv import KeyValue

from . import ffmpeg
from .binaries import Binaries
from .profiles import Profile, profile_for

log = logging.getLogger(__name__)

PROGRESS_EVERY_SECONDS = 1.0


@dataclass(frozen=True)
class Job:
    request: Transcode
    delivery: int
    node: str
    encoded: asyncio.Event
    # The path mappings in force when the job started: a change of the setting applies from the next job,
    # so the output is reported under the same mapping the source was found with.
    mappings: tuple[PathMapping, ...] = ()

    def failed(self, reason: str, detail: str = "", retryable: bool = True) -> JobFailed:
        r = self.request
        return JobFailed(
            event_id=report_id(JobFailed, r.job_id, r.attempt),
            job_id=r.job_id,
            attempt=r.attempt,
            node=self.node,
            path=r.path,
            reason=reason,
            detail=detail,
            retryable=retryable,
        )


@dataclass(frozen=True)
class Encoded:
    result: ffmpeg.Result
    profile: Profile
    fallback_reason: str | None = None


class Encodes:
    """This node's running encodes."""

    def __init__(
        self, binaries: Binaries, progress: KeyValue, codecs: dict[HwClass, tuple[str, ...]]
    ) -> None:
        self.binaries = binaries  # each class's ffmpeg
        self.progress = progress
        self.codecs = codecs  # what each usable class can encode on this node
        self.encodings: dict[int, ffmpeg.Encoding] = {}
        self.paused = False

    def pause(self) -> None:
        """Suspend every running encode (SIGSTOP); the heartbeat goes on, so the jobs stay ours."""
        self.paused = True
        for encoding in self.encodings.values():
            encoding.pause()

    def resume(self) -> None:
        self.paused = False
        for encoding in self.encodings.values():
            encoding.resume()

    async def encode(self, job: Job, source: Path, temp: Path, settings: TranscodeSettings) -> Encoded:
        """Encode with the job's hardware class; a hardware encode that fails is done again on the CPU,
        with the reason kept for the job's record."""
        request = job.request
        profile, fallback_reason = self._profile(request)
        result = await self._run(job, source, temp, profile, settings)
        cpu_can = request.target_codec in self.codecs.get(HwClass.CPU, ())
        if (
            result.returncode != 0
            and result.stalled_after is None
            and profile.hw is not HwClass.CPU
            and cpu_can
        ):
            fallback_reason = f"{profile.encoder} failed: {result.last_error}"
            log.warning("job %d: %s; encoding on the CPU instead", request.job_id, fallback_reason)
            cpu = profile_for(HwClass.CPU, request.target_codec)
            assert cpu is not None
            profile = cpu
            result = await self._run(job, source, temp, profile, settings)
        return Encoded(result, profile, fallback_reason)

    def _profile(self, request: Transcode) -> tuple[Profile, str | None]:
        """The job's class's encoder when this node has it working; otherwise the CPU one, with why."""
        codec = request.target_codec
        if codec in self.codecs.get(HwClass(request.hw_class), ()):
            profile = profile_for(request.hw_class, codec)
            if profile is not None:
                return profile, None
        cpu = profile_for(HwClass.CPU, codec)
        assert cpu is not None
        return cpu, f"{request.hw_class} cannot encode {codec} on this node"

    async def _run(
        self, job: Job, source: Path, temp: Path, profile: Profile, settings: TranscodeSettings
    ) -> ffmpeg.Result:
        request = job.request
        probe = request.probe
        quality = settings.quality_for(profile.family, probe.width, probe.height)
        binary = self.binaries.for_class(profile.hw)
        argv = ffmpeg.build_argv(binary, source, temp, probe, profile, quality, request.job_id)

        def started(encoding: ffmpeg.Encoding) -> None:
            self.encodings[request.job_id] = encoding
            if self.paused:
                encoding.pause()

        try:
            return await ffmpeg.run(
                argv, self._progress_reporter(job), stall_seconds=settings.stall_seconds, started=started
            )
        finally:
            self.encodings.pop(request.job_id, None)

    def _progress_reporter(self, job: Job) -> Callable[[ffmpeg.Progress], Awaitable[None]]:
        last = 0.0
        duration = job.request.probe.duration

        async def report(progress: ffmpeg.Progress) -> None:
            nonlocal last
            now = time.monotonic()
            if now - last < PROGRESS_EVERY_SECONDS and not progress.done:
                return
            last = now
            value = JobProgress(
                job_id=job.request.job_id,
                node=job.node,
                path=job.request.path,
                percent=round(progress.percent(duration), 1),
                fps=progress.fps,
                speed=progress.speed,
                eta_seconds=progress.eta_seconds(duration),
            )
            with contextlib.suppress(Exception):  # progress is best effort; the encode goes on
                await self.progress.put(str(job.request.job_id), encode(value))

        return report
