"""Turning what the scanner found into jobs: one transaction per event (inbox, job, outbox)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import asyncpg
from librarrarian_contracts import JobChange, MediaEvent, MediaProbed, MediaProbeFailed
from librarrarian_contracts.settings import TranscodeSettings
from librarrarian_runtime.watched import Watched

from . import policy, store
from .placement import Placement

log = logging.getLogger(__name__)


class Intake:
    def __init__(
        self,
        pool: asyncpg.Pool,
        transcode: Watched[TranscodeSettings],
        placement: Placement,
        on_enqueue: Callable[[], None],
    ) -> None:
        self.pool = pool
        self.transcode = transcode
        self.placement = placement
        self.on_enqueue = on_enqueue  # wakes the relay

    async def handle(self, event: MediaEvent) -> None:
        if not isinstance(event, MediaProbed | MediaProbeFailed):
            return  # scan summaries are for the dashboard, not for decisions
        try:
            decision = await self._decide(event)
        except asyncpg.UniqueViolationError:
            log.info("%s: a job for it was created meanwhile", event.path)
            return
        if isinstance(decision, policy.Transcode):
            self.on_enqueue()

    async def _decide(self, event: MediaProbed | MediaProbeFailed) -> policy.Decision:
        async with self.pool.acquire() as conn, conn.transaction():
            if not await store.claim(conn, event.event_id):
                return policy.Ignore("redelivered event")
            newest = await store.newest_job(conn, event.path)
            # In flight first, done second: a job's completion may commit between the two reads (each sees
            # the latest commit), and in this order at least one of them sees it. The other way round, an
            # output probed just as its job completes could be taken for a new file.
            sibling = await store.sibling_in_flight(conn, event.path)
            produced = await store.job_that_produced(conn, event.path)
            fingerprint = event.fingerprint if isinstance(event, MediaProbed) else None
            same = None
            if fingerprint is not None:
                same = await store.same_content(conn, event.path, fingerprint)
                await store.record_sighting(conn, event.path, event.identity.size, fingerprint)
            settings = self.transcode.value
            decision = policy.decide(event, newest, produced, sibling, settings, same)
            probe = event.probe if isinstance(event, MediaProbed) else None
            match decision:
                case policy.Transcode():
                    job_id = await store.insert_job(
                        conn,
                        path=event.path,
                        status="pending",
                        identity=event.identity,
                        probe=probe,
                        hw_class=self.placement.choose(settings),
                        target_codec=settings.target_codec,
                        fingerprint=fingerprint,
                    )
                    await store.enqueue(conn, job_id)
                    await store.record_change(conn, job_id, JobChange.QUEUED)
                    log.info(
                        "job %d queued: %s (%s)", job_id, event.path, probe.video_codec if probe else "?"
                    )
                case policy.Skip(reason):
                    job_id = await store.insert_job(
                        conn,
                        path=event.path,
                        status="skipped",
                        identity=event.identity,
                        probe=probe,
                        reason=reason,
                        fingerprint=fingerprint,
                    )
                    await store.record_change(conn, job_id, JobChange.SKIPPED)
                    log.info("job %d skipped: %s (%s)", job_id, event.path, reason)
                case policy.Fail(reason):
                    job_id = await store.insert_job(
                        conn,
                        path=event.path,
                        status="failed",
                        identity=event.identity,
                        probe=probe,
                        reason=reason,
                    )
                    await store.record_change(conn, job_id, JobChange.FAILED)
                    log.info("job %d failed: %s (%s)", job_id, event.path, reason)
                case policy.Ignore(why):
                    log.log(logging.INFO if same else logging.DEBUG, "%s: %s", event.path, why)
            return decision
