"""What the Arr apps found or did (``arr.*``, from the arr service), turned into the record: one transaction
per event (inbox, jobs, outbox).

- A file the app would rename: a ``rename`` job, awaiting approval or queued at once, as the app is set.
- A file below its quality cutoff: a ``quality_mismatch`` job to review; with its hold, the file's transcode
  waits too (a new one is recorded awaiting approval, a waiting one is taken back from the encoders).
- A file the app renamed: its waiting jobs, its done transcode's output and its hold follow it to the new name.
- A file the app deleted or replaced: its waiting (not running) jobs are dropped and its hold lifted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import PurePath

import asyncpg
from librarrarian_contracts import (
    ArrEvent,
    FileDeleted,
    FileImported,
    FileRenamed,
    JobChange,
    QualityMismatchFound,
    RenameWanted,
)
from nats.js import JetStreamContext

from . import store
from .approval import HELD
from .removal import forget_work

log = logging.getLogger(__name__)

IN_FLIGHT = "status IN ('awaiting_approval', 'pending', 'running')"
WAITING = "status IN ('awaiting_approval', 'pending')"


class ArrIntake:
    def __init__(self, pool: asyncpg.Pool, js: JetStreamContext, on_enqueue: Callable[[], None]) -> None:
        self.pool, self.js, self.on_enqueue = pool, js, on_enqueue

    async def handle(self, event: ArrEvent) -> None:
        taken_back: list[int] = []
        async with self.pool.acquire() as conn, conn.transaction():
            if not await store.claim(conn, event.event_id):
                return
            match event:
                case RenameWanted():
                    await self._rename_wanted(conn, event)
                case QualityMismatchFound():
                    taken_back = await self._quality(conn, event)
                case FileRenamed():
                    taken_back = await self._renamed(conn, event)
                case FileDeleted():
                    taken_back = await self._drop(conn, event.path, f"{event.app} deleted the file")
                case FileImported():
                    await conn.execute("DELETE FROM holds WHERE path = $1", event.path)
                    taken_back = await self._drop(conn, event.path, "", kinds=("quality_mismatch",))
                case _:
                    return  # a scan's summary is for the dashboard
        await forget_work(self.js, taken_back)

    async def _rename_wanted(self, conn: asyncpg.Connection, event: RenameWanted) -> None:
        status = "awaiting_approval" if event.approval else "pending"
        job_id = await conn.fetchval(
            "INSERT INTO jobs (kind, path, status, reason, attempts, app, new_path, arr_item, arr_file)"
            " VALUES ('rename', $1, $2, $3, $4, $5, $6, $7, $8)"
            f" ON CONFLICT (kind, path) WHERE {IN_FLIGHT} DO NOTHING RETURNING id",
            event.path,
            status,
            f"{event.app}: rename to {PurePath(event.new_path).name}",
            0 if event.approval else 1,
            event.app,
            event.new_path,
            event.item_id,
            event.file_id,
        )
        if job_id is None:
            return  # one is waiting or running already
        if not event.approval:
            await store.enqueue(conn, job_id)
            self.on_enqueue()
        await store.record_change(
            conn, job_id, JobChange.AWAITING_APPROVAL if event.approval else JobChange.QUEUED
        )
        log.info("job %d: %s %s to %s", job_id, event.app, status, event.new_path)

    async def _quality(self, conn: asyncpg.Connection, event: QualityMismatchFound) -> list[int]:
        why = f"{event.app}: {event.quality or 'its quality'} is below the cutoff {event.cutoff or 'of its profile'}"
        job_id = await conn.fetchval(
            "INSERT INTO jobs (kind, path, status, reason, app, arr_item, arr_file)"
            " VALUES ('quality_mismatch', $1, 'awaiting_approval', $2, $3, $4, $5)"
            f" ON CONFLICT (kind, path) WHERE {IN_FLIGHT} DO NOTHING RETURNING id",
            event.path,
            why,
            event.app,
            event.item_id,
            event.file_id,
        )
        if job_id is not None:
            await store.record_change(conn, job_id, JobChange.AWAITING_APPROVAL)
            log.info("job %d: %s to review (%s)", job_id, event.path, why)
        if not event.hold:
            return []
        hold = f"{why}; {event.app} may replace it"
        await conn.execute(
            "INSERT INTO holds (path, app, reason) VALUES ($1, $2, $3)"
            " ON CONFLICT (path) DO UPDATE SET app = $2, reason = $3, held_at = now()",
            event.path,
            event.app,
            hold,
        )
        # A transcode already waiting for an encoder is taken back: it waits for the review instead.
        held = await conn.fetch(
            "UPDATE jobs SET status = 'awaiting_approval', reason = $2, retry_at = NULL, updated_at = now()"
            " WHERE kind = 'transcode' AND path = $1 AND status = 'pending' AND commit_attempt IS NULL"
            " RETURNING id",
            event.path,
            HELD + hold,
        )
        ids = [r["id"] for r in held]
        await store.record_changes(conn, ids, JobChange.AWAITING_APPROVAL)
        return await _sent_work(conn, ids)

    async def _renamed(self, conn: asyncpg.Connection, event: FileRenamed) -> list[int]:
        old, new = event.path, event.new_path
        moved = await conn.fetch(
            f"UPDATE jobs SET path = $2, updated_at = now() WHERE path = $1 AND {WAITING} AND kind <> 'rename'"
            " AND commit_attempt IS NULL AND NOT EXISTS (SELECT 1 FROM jobs o WHERE o.path = $2"
            f"   AND o.kind = jobs.kind AND o.{IN_FLIGHT}) RETURNING id, status",
            old,
            new,
        )
        ids = [r["id"] for r in moved]
        # A transcode waiting for an encoder gets a new attempt under the new name; the old one's work is
        # taken out of the stream (it names a file that is gone).
        queued = [r["id"] for r in moved if r["status"] == "pending"]
        taken_back = await _sent_work(conn, queued)
        await conn.execute(
            "UPDATE jobs SET attempts = attempts + 1, retry_at = NULL WHERE id = ANY($1::bigint[])", queued
        )
        for job_id in queued:
            await store.enqueue(conn, job_id)
        if queued:
            self.on_enqueue()
        await store.record_changes(conn, ids, JobChange.MOVED)
        # Our output under its new name: what keeps it from being taken for a new file.
        await conn.execute(
            "UPDATE jobs SET output_path = $2 WHERE output_path = $1 AND status = 'done' AND kind = 'transcode'",
            old,
            new,
        )
        await conn.execute(
            "INSERT INTO sightings (path, size, fingerprint) SELECT $2, size, fingerprint FROM sightings"
            " WHERE path = $1 ON CONFLICT (path) DO UPDATE SET size = excluded.size,"
            " fingerprint = excluded.fingerprint, seen_at = now()",
            old,
            new,
        )
        await conn.execute(
            "UPDATE holds SET path = $2 WHERE path = $1 AND NOT EXISTS (SELECT 1 FROM holds WHERE path = $2)",
            old,
            new,
        )
        log.info("%s renamed %s to %s: %d waiting job(s) follow it", event.app, old, new, len(moved))
        return taken_back

    async def _drop(
        self, conn: asyncpg.Connection, path: str, why: str, kinds: tuple[str, ...] | None = None
    ) -> list[int]:
        """Delete the waiting jobs of ``path`` (of ``kinds``, else all); return their sent work's sequences."""
        if kinds is None:
            await conn.execute("DELETE FROM holds WHERE path = $1", path)
        rows = await conn.fetch(
            f"SELECT id FROM jobs WHERE path = $1 AND {WAITING} AND ($2::text[] IS NULL OR kind = ANY($2))"
            " AND commit_attempt IS NULL ORDER BY id FOR UPDATE",
            path,
            list(kinds) if kinds else None,
        )
        ids = [r["id"] for r in rows]
        if not ids:
            return []
        seqs = await _sent_work(conn, ids)
        await store.record_changes(conn, ids, JobChange.REMOVED)
        await conn.execute("DELETE FROM jobs WHERE id = ANY($1::bigint[])", ids)
        log.info("%s: %d waiting job(s) dropped%s", path, len(ids), f" ({why})" if why else "")
        return seqs


async def _sent_work(conn: asyncpg.Connection, job_ids: list[int]) -> list[int]:
    """The stream sequences of the work already published for these jobs (to take out of WORK)."""
    if not job_ids:
        return []
    rows = await conn.fetch(
        "SELECT stream_seq FROM outbox WHERE job_id = ANY($1::bigint[]) AND stream_seq IS NOT NULL", job_ids
    )
    return [r["stream_seq"] for r in rows]
