"""Jobs that wait for a user's approval: stale files the cleanup service found, queued only once released.

A found file becomes a job ``awaiting_approval`` (once: a later scan finding it again adds nothing while it
waits). Releasing moves it to ``pending`` and writes its work message to the outbox in the same
transaction, exactly like a transcode's first attempt.
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


class CleanupIntake:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def handle(self, event: CleanupMessage) -> None:
        if not isinstance(event, StaleFileFound):
            return  # the scan's request and summary are for the cleanup service and the dashboard
        async with self.pool.acquire() as conn, conn.transaction():
            if not await store.claim(conn, event.event_id):
                return
            job_id = await store.insert_cleanup_job(
                conn, path=event.path, identity=event.identity, why=event.why
            )
            if job_id is not None:
                await store.record_change(conn, job_id, JobChange.AWAITING_APPROVAL)


async def release(pool: asyncpg.Pool, request: ReleaseJobs, on_enqueue: Callable[[], None]) -> ReleasedJobs:
    """Queue the job ``request.job_id``, or every job of ``request.kind`` (all kinds if None) awaiting
    approval."""
    async with pool.acquire() as conn, conn.transaction():
        if request.job_id is not None:
            status = await conn.fetchval("SELECT status FROM jobs WHERE id = $1 FOR UPDATE", request.job_id)
            if status is None:
                raise NotFound(f"there is no job {request.job_id}")
            if status != "awaiting_approval":
                raise Conflict(f"job {request.job_id} is {status}, not awaiting approval")
        ids = [
            r["id"]
            for r in await conn.fetch(
                "UPDATE jobs SET status = 'pending', attempts = 1, updated_at = now()"
                " WHERE status = 'awaiting_approval' AND ($1::bigint IS NULL OR id = $1)"
                "   AND ($2::text IS NULL OR kind = $2)"
                " RETURNING id",
                request.job_id,
                request.kind,
            )
        ]
        for job_id in ids:
            await store.enqueue(conn, job_id)
        await store.record_changes(conn, ids, JobChange.RELEASED)
    if ids:
        on_enqueue()
    log.info("%d job(s) released by a user", len(ids))
    return ReleasedJobs(released=len(ids), detail=f"{len(ids)} job(s) queued")
