"""Turning what the scanner found into jobs: the inbox, the job and the outbox of each event written together.

Events come in batches (as many as wait, up to ``BATCH``; a first scan publishes thousands a minute): a batch is
one transaction on one connection, so it costs one commit rather than one per event. Within it the events are
decided in order, each seeing what the ones before it wrote, as when they came one by one. A batch that fails
is taken again an event at a time (``consumer.consume_batches``)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import asyncpg
from librarrarian_contracts import JobChange, MediaEvent, MediaProbed, MediaProbeFailed, tracks
from librarrarian_contracts.settings import LibraryFolder, ScannerFolders, TrackRules, TranscodeSettings
from librarrarian_runtime.watched import Watched

from . import policy, store
from .placement import Placement

log = logging.getLogger(__name__)

BATCH = 200


class Intake:
    def __init__(
        self,
        pool: asyncpg.Pool,
        transcode: Watched[TranscodeSettings],
        placement: Placement,
        on_enqueue: Callable[[], None],
        folders: Watched[ScannerFolders] | None = None,
    ) -> None:
        self.pool = pool
        self.transcode = transcode
        self.placement = placement
        self.on_enqueue = on_enqueue  # wakes the relay
        self.folders = folders  # their track rules

    def folder(self, library: str | None) -> LibraryFolder | None:
        """The library folder the file belongs to (the scanner names it, resolved as the setting keeps it)."""
        if library is None or self.folders is None:
            return None
        return next((f for f in self.folders.value.folders if f.path == library), None)

    def track_rules(self, library: str | None) -> TrackRules | None:
        """The rules of the file's library folder; None: keep every track."""
        folder = self.folder(library)
        return folder.tracks if folder is not None else None

    async def handle(self, event: MediaEvent) -> None:
        await self.handle_batch([event])

    async def handle_batch(self, events: list[MediaEvent]) -> None:
        found = [e for e in events if isinstance(e, MediaProbed | MediaProbeFailed)]
        if not found:
            return  # scan summaries are for the dashboard, not for decisions
        queued = False
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                changed = False
                for event in found:
                    decision = await self._decide(conn, event)
                    queued = queued or isinstance(decision, policy.Transcode)
                    changed = changed or not isinstance(decision, policy.Ignore)
                if changed:
                    await store.notify(conn)  # the relay, once for the batch
        except asyncpg.UniqueViolationError:
            # A job for one of the paths was made meanwhile by another transaction (rare: the scanner
            # reports a path once a scan): taken again one by one, so that clash costs its event alone.
            if len(found) > 1:
                raise
            log.info("%s: a job for it was created meanwhile", found[0].path)
            return
        if queued:
            self.on_enqueue()

    async def _decide(
        self, conn: asyncpg.Connection, event: MediaProbed | MediaProbeFailed
    ) -> policy.Decision:
        if not await store.claim(conn, event.event_id):
            return policy.Ignore("redelivered event")
        known = await store.lookups(conn, event.path)
        fingerprint = event.fingerprint if isinstance(event, MediaProbed) else None
        same = None
        if fingerprint is not None:
            same = await store.same_content(conn, event.path, fingerprint)
            await store.record_sighting(conn, event.path, event.identity.size, fingerprint)
        settings = self.transcode.value
        decision = policy.decide(event, known.newest, known.produced, known.sibling_in_flight, settings, same)
        probe = event.probe if isinstance(event, MediaProbed) else None
        reason: str | None = None
        match decision:
            case policy.Ignore(why):
                log.log(logging.INFO if same else logging.DEBUG, "%s: %s", event.path, why)
                return decision
            case policy.Transcode():
                status, change = "pending", JobChange.QUEUED
                held = known.held
                if held is not None:  # its Arr app is about to replace it: a user may release it anyway
                    status, change, reason = (
                        "awaiting_approval",
                        JobChange.AWAITING_APPROVAL,
                        f"held: {held}",
                    )
            case policy.Skip(reason):
                status, change = "skipped", JobChange.SKIPPED
            case policy.Fail(reason):
                status, change = "failed", JobChange.FAILED
        queued = change is JobChange.QUEUED
        track_plan = None
        if isinstance(decision, policy.Transcode) and isinstance(event, MediaProbed):
            track_plan = tracks.plan(event.probe, self.track_rules(event.library))
        job_id = await store.insert_job(
            conn,
            path=event.path,
            status=status,
            identity=event.identity,
            probe=probe,
            reason=reason,
            hw_class=self.placement.choose(settings) if isinstance(decision, policy.Transcode) else None,
            target_codec=settings.target_codec,
            fingerprint=fingerprint,
            track_plan=track_plan,
            library=event.library,
            review=(folder := self.folder(event.library)) is not None and folder.review,
        )
        if queued:
            await store.enqueue(conn, job_id, wake=False)
        await store.record_change(conn, job_id, change, wake=False)
        return decision
