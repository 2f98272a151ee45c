"""Jobs that wait for a user's approval: stale files the cleanup service found, renames and quality mismatches
the Arr apps reported, and transcodes held because their Arr app is about to replace the file.

A found file becomes a job ``awaiting_approval`` (once: a later scan finding it again adds nothing while it
waits). Releasing moves it to ``pending`` and writes its work message to the outbox in the same
transaction, exactly like a transcode's first attempt. A quality mismatch has no work: releasing it says the
file may be transcoded after all, so it is done, its hold lifted and the file's held transcode released.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import asyncpg
from librarrarian_contracts import JobChange, StaleFileFound
from librarrarian_contracts.messages import CleanupMessage
from librarrarian_contracts.views import ReleasedJobs, ReleaseJobs
from librarrarian_runtime.errors import Conflict, NotFound

from . import store

log = logging.getLogger(__name__)

# A held transcode's reason starts with this; releasing the quality mismatch of its file releases it too.
HELD = "held: "


class CleanupIntake:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def handle(self, event: CleanupMessage) -> None:
        if not isinstance(event, StaleFileFound):
            return  # the scan's request and summary are for the cleanup service and the dashboard
        async with self.pool.acquire() as conn, conn.transaction():
            if not await store.claim(conn, event.event_id):
                return
            waiting = await _waiting_output_of(conn, event)
            if waiting is not None:
                # Old, yet not litter: a verified output waiting for its user's review.
                log.info("%s: not stale, job %d's output waits for review", event.path, waiting)
                return
            job_id = await store.insert_cleanup_job(
                conn, path=event.path, identity=event.identity, why=event.why
            )
            if job_id is not None:
                await store.record_change(conn, job_id, JobChange.AWAITING_APPROVAL)


async def _waiting_output_of(conn: asyncpg.Connection, event: StaleFileFound) -> int | None:
    """The job whose output, kept for review, is the file found (by its identity: the cleanup service may
    reach the library by another path than the server's), or None."""
    job_id: int | None = await conn.fetchval(
        "SELECT id FROM jobs WHERE waiting IS NOT NULL AND status IN ('ready_to_replace', 'pending', 'running')"
        " AND (output_path = $1 OR ((waiting->'identity'->>'inode')::bigint = $2"
        " AND (waiting->'identity'->>'size')::bigint = $3"
        " AND (waiting->'identity'->>'mtime_ns')::bigint = $4)) LIMIT 1",
        event.path,
        event.identity.inode,
        event.identity.size,
        event.identity.mtime_ns,
    )
    return job_id


async def release(
    pool: asyncpg.Pool,
    request: ReleaseJobs,
    on_enqueue: Callable[[], None],
    choose_class: Callable[[], str] | None = None,
) -> ReleasedJobs:
    """Queue the job ``request.job_id``, or every job of ``request.kind`` (all kinds if None) awaiting
    approval. ``choose_class``: where a released transcode goes (the live nodes now, not when it was held)."""
    async with pool.acquire() as conn, conn.transaction():
        if request.job_id is not None:
            status = await conn.fetchval("SELECT status FROM jobs WHERE id = $1 FOR UPDATE", request.job_id)
            if status is None:
                raise NotFound(f"there is no job {request.job_id}")
            if status != "awaiting_approval":
                raise Conflict(f"job {request.job_id} is {status}, not awaiting approval")
        rows = await conn.fetch(
            "SELECT id, kind, path FROM jobs WHERE status = 'awaiting_approval'"
            " AND ($1::bigint IS NULL OR id = $1) AND ($2::text IS NULL OR kind = $2) ORDER BY id FOR UPDATE",
            request.job_id,
            request.kind,
        )
        reviewed = [r for r in rows if r["kind"] == "quality_mismatch"]
        ids = [r["id"] for r in rows if r["kind"] != "quality_mismatch"]
        if reviewed:
            ids += await _reviewed(conn, [r["id"] for r in reviewed], [r["path"] for r in reviewed], ids)
        # Every release is a new attempt: a transcode held while pending had one already (its work message,
        # taken back, must not be mistaken for the new one).
        await conn.execute(
            "UPDATE jobs SET status = 'pending', attempts = attempts + 1, reason = CASE WHEN kind = 'transcode'"
            " THEN NULL ELSE reason END, updated_at = now() WHERE id = ANY($1::bigint[])",
            ids,
        )
        await conn.execute(
            "DELETE FROM holds WHERE path IN (SELECT path FROM jobs WHERE id = ANY($1::bigint[])"
            " AND kind = 'transcode')",
            ids,
        )
        for job_id, kind in await conn.fetch("SELECT id, kind FROM jobs WHERE id = ANY($1::bigint[])", ids):
            classed = kind == "transcode" and choose_class is not None
            await store.enqueue(conn, job_id, hw_class=choose_class() if classed and choose_class else None)
        await store.record_changes(conn, ids, JobChange.RELEASED)
    if ids:
        on_enqueue()
    released = len(ids) + len(reviewed)
    log.info("%d job(s) released by a user", released)
    return ReleasedJobs(released=released, detail=f"{released} job(s) released")


async def _reviewed(
    conn: asyncpg.Connection, job_ids: list[int], paths: list[str], releasing: list[int]
) -> list[int]:
    """Quality mismatches a user reviewed: done, their holds lifted. Returns the held transcodes of their files
    that are not among ``releasing`` already, to release with them."""
    await conn.execute(
        "UPDATE jobs SET status = 'done', finished_at = now(), updated_at = now() WHERE id = ANY($1::bigint[])",
        job_ids,
    )
    await store.record_changes(conn, job_ids, JobChange.DONE)
    await conn.execute("DELETE FROM holds WHERE path = ANY($1::text[])", paths)
    held = await conn.fetch(
        "SELECT id FROM jobs WHERE kind = 'transcode' AND status = 'awaiting_approval' AND path = ANY($1::text[])"
        " AND starts_with(coalesce(reason, ''), $2) FOR UPDATE",
        paths,
        HELD,
    )
    return [r["id"] for r in held if r["id"] not in releasing]
