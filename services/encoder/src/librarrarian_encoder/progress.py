"""The ``progress`` bucket: one key per running job (percent, fps, speed, ETA), written at most once a second
while it encodes and removed when the job ends."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from librarrarian_contracts import encode, topology
from librarrarian_contracts.views import JobProgress
from librarrarian_runtime.streaks import FailureStreak
from nats.js.kv import KeyValue

from . import ffmpeg
from .job import Planned

log = logging.getLogger(__name__)

EVERY_SECONDS = 1.0


class ProgressBucket:
    """Progress is best effort: the encode goes on when it cannot be written. But the dashboard then shows
    a job frozen, so a failure is logged (once per streak of them, with the reason)."""

    def __init__(self, kv: KeyValue) -> None:
        self.kv = kv
        self.streak = FailureStreak(log, f"writing to the {topology.PROGRESS.name!r} bucket")

    def reporter(self, job: Planned) -> Callable[[ffmpeg.Progress], Awaitable[None]]:
        """What ffmpeg's runner calls with each progress block of the job's encode."""
        last = 0.0
        duration = job.request.probe.duration

        async def report(progress: ffmpeg.Progress) -> None:
            nonlocal last
            now = time.monotonic()
            if now - last < EVERY_SECONDS and not progress.done:
                return
            last = now
            value = JobProgress(
                job_id=job.id,
                node=job.node,
                path=job.request.path,
                percent=round(progress.percent(duration), 1),
                fps=progress.fps,
                speed=progress.speed,
                eta_seconds=progress.eta_seconds(duration),
            )
            await self._write(self.kv.put(str(job.id), encode(value)))

        return report

    def searching(self, job: Planned) -> Callable[[float], Awaitable[None]]:
        """What the quality search calls with its own progress (percent), before the encode."""

        async def report(percent: float) -> None:
            value = JobProgress(
                job_id=job.id,
                node=job.node,
                path=job.request.path,
                percent=round(percent, 1),
                phase="searching",
            )
            await self._write(self.kv.put(str(job.id), encode(value)))

        return report

    async def put(self, job_id: int, value: bytes) -> None:
        """A job's entry as its encode's own code worked it out (a file encoded in segments)."""
        await self._write(self.kv.put(str(job_id), value))

    async def clear(self, job_id: int) -> None:
        await self._write(self.kv.delete(str(job_id)))

    async def _write(self, write: Awaitable[object]) -> None:
        try:
            await write
        except Exception as error:  # noqa: BLE001 - best effort (see the class); the streak logs it
            self.streak.failed(error)
        else:
            self.streak.succeeded()
