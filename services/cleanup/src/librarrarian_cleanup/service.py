"""The cleanup process: looks for stale files when asked (``cleanup.find_stale_files``) or on its interval, and deletes
the ones a user approved (``work.cleanup``, released by the scheduler). The stale age and the interval are the
``cleanup`` setting (seeded from the environment at first start), followed live.

It keeps nothing: what it finds goes to the scheduler as ``cleanup.stale_file_found`` and waits there for approval, and
each deletion's outcome goes back as a ``job.*`` event. Like an encoder, it asks the scheduler for the commit
before it touches the file, so the scheduler counts only the outcome of the delivery that holds it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from importlib.metadata import version

from librarrarian_contracts import (
    CleanupFinished,
    CleanupScanCompleted,
    FindStaleFiles,
    JobFailed,
    RemoveStaleFile,
    StaleFileFound,
    publish,
    report_id,
    require,
    topology,
)
from librarrarian_contracts.catalog import Role
from librarrarian_contracts.codec import cleanup_decoder, cleanup_work_decoder
from librarrarian_contracts.messages import CleanupMessage
from librarrarian_contracts.settings import CLEANUP_KEY, CleanupSettings
from librarrarian_contracts.views import CommitDecision, CommitRequest
from librarrarian_runtime import bus, cadence, consumer, lifecycle
from librarrarian_runtime.cadence import Cadence
from librarrarian_runtime.endpoints import serve
from librarrarian_runtime.queries import ask
from librarrarian_runtime.watched import Watched
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from . import finder, recycling, remover
from .settings import HOUR, Settings

log = logging.getLogger(__name__)


class Cleanup:
    def __init__(self, nc: Client, settings: Settings, chosen: Watched[CleanupSettings]) -> None:
        self.nc = nc
        self.js = nc.jetstream()
        self.settings, self.chosen = settings, chosen
        self.interval = Cadence(chosen.value.interval_hours * HOUR)
        chosen.on_change(self._follow)
        self._one_scan = asyncio.Lock()

    @property
    def stale_after_seconds(self) -> float:
        """A temporary or lock file untouched this long belongs to nothing that still runs: an encode writes
        its output continuously, a download touches its lock."""
        return self.chosen.value.stale_after_hours * HOUR

    def _follow(self, chosen: CleanupSettings) -> None:
        log.info(
            "cleanup: stale after %g h, looking every %g h (0: only when asked)",
            chosen.stale_after_hours,
            chosen.interval_hours,
        )
        self.interval.set(chosen.interval_hours * HOUR)

    async def scan(self, request: FindStaleFiles) -> CleanupScanCompleted:
        """Publish every stale file found, then the scan's summary."""
        older_than = self.stale_after_seconds  # the same age the deletion checks again
        unreadable: list[str] = []

        def on_unreadable(directory: object, error: OSError) -> None:
            unreadable.append(str(directory))
            log.warning("cannot list %s: %s", directory, error.strerror or error)

        async with self._one_scan:
            started = time.monotonic()
            found = await asyncio.to_thread(
                lambda: list(finder.find(self.settings.media_paths, older_than, time.time(), on_unreadable))
            )
            for stale in found:
                await publish(
                    self.js, StaleFileFound(path=str(stale.path), identity=stale.identity, why=stale.why)
                )
            completed = CleanupScanCompleted(
                scan_id=request.event_id,
                found=len(found),
                size=sum(s.identity.size for s in found),
                elapsed_seconds=round(time.monotonic() - started, 3),
                unreadable=tuple(unreadable),
            )
            await publish(self.js, completed)
        log.info("stale files: %d found in %.1f s", completed.found, completed.elapsed_seconds)
        return completed

    async def on_control(self, event: CleanupMessage) -> None:
        if isinstance(event, FindStaleFiles):
            await self.scan(event)

    async def remove(self, request: RemoveStaleFile, msg: Msg) -> None:
        """Delete one approved file and report the outcome; a refusal or an error fails the job for good
        (a retry would meet the same), with the reason shown on the Failed page. A scheduler that cannot be
        asked leaves the message to be delivered again."""
        delivery = msg.metadata.num_delivered
        decision = await ask(
            self.nc,
            topology.SCHEDULER_COMMIT,
            CommitRequest(
                job_id=request.job_id, attempt=request.attempt, delivery=delivery, node=self.settings.node
            ),
            CommitDecision,
        )
        if not decision.granted:
            log.warning("job %d: commit denied (%s); leaving the file alone", request.job_id, decision.reason)
            return
        try:
            outcome = await asyncio.to_thread(
                remover.remove,
                request.path,
                request.identity,
                self.settings.media_paths,
                self.stale_after_seconds,
                time.time(),
            )
        except (remover.Refused, OSError) as error:
            reason = str(error) if isinstance(error, remover.Refused) else f"cannot delete it: {error}"
            log.warning("job %d: %s", request.job_id, reason)
            await publish(
                self.js,
                JobFailed(
                    event_id=report_id(JobFailed, request.job_id, request.attempt),
                    job_id=request.job_id,
                    attempt=request.attempt,
                    node=self.settings.node,
                    path=request.path,
                    reason=reason,
                    retryable=False,
                    delivery=delivery,
                ),
            )
            return
        if outcome.removed:
            log.info("job %d: removed %s (%s)", request.job_id, request.path, outcome.reason or outcome.size)
        await publish(
            self.js,
            CleanupFinished(
                event_id=report_id(CleanupFinished, request.job_id, request.attempt),
                job_id=request.job_id,
                attempt=request.attempt,
                node=self.settings.node,
                path=request.path,
                removed=outcome.removed,
                size=outcome.size,
                reason=outcome.reason,
                delivery=delivery,
            ),
        )

    async def on_interval(self, stopping: asyncio.Event) -> None:
        """What it finds waits for approval either way."""
        await cadence.every(
            stopping, self.interval, lambda: self.scan(FindStaleFiles()), what="looking for stale files"
        )


async def run(settings: Settings, stopping: asyncio.Event | None = None) -> None:
    stopping = stopping or lifecycle.stop_event()
    async with bus.connection(settings.nats_url, "cleanup", stopping) as nc:
        js = nc.jetstream()
        await require(js, Role.CLEANUP)
        seed = CleanupSettings(
            stale_after_hours=settings.stale_after_hours, interval_hours=settings.interval_hours
        )
        chosen = await Watched(js, CLEANUP_KEY, CleanupSettings, CleanupSettings(), seed=seed).start()
        cleanup = Cleanup(nc, settings, chosen)
        log.info(
            "cleanup ready: stale after %g h, looking every %g h, in %s",
            chosen.value.stale_after_hours,
            chosen.value.interval_hours,
            ", ".join(map(str, settings.media_paths)),
        )
        kept = recycling.Recycling(settings.media_paths, chosen)
        service = await serve(
            nc,
            name=topology.CLEANUP_SERVICE,
            version=version("librarrarian-cleanup"),
            description="stale files and the recycle folders",
            endpoints=kept.endpoints(),
        )
        try:
            await _serve(js, cleanup, kept, stopping)
        finally:
            await service.stop()
            await chosen.stop()
    log.info("cleanup stopped")


async def _serve(
    js: JetStreamContext, cleanup: Cleanup, kept: recycling.Recycling, stopping: asyncio.Event
) -> None:
    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(cleanup.on_interval(stopping))
        tasks.create_task(kept.on_interval(stopping))
        tasks.create_task(
            consumer.consume(js, topology.CLEANUP_CONTROL, cleanup_decoder, cleanup.on_control, stopping)
        )
        tasks.create_task(
            consumer.consume_messages(
                js, topology.CLEANUP_WORK, cleanup_work_decoder, cleanup.remove, stopping
            )
        )
