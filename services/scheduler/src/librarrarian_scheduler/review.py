"""Review before replace: outputs kept for a user's review, and the user's decisions on them.

A transcode of a reviewed library folder ends its encode in ``ready_to_replace``: its verified output waits
beside the original (``ReviewRequested``, sent by the holder of the commit), holding no slot. Accepting or
rejecting one is a new attempt of the job carrying the decision (``Transcode.decision``), queued like any
other: the encoder that takes it puts the output in place through the same checked, atomic replace as any
transcode (``job.completed``), or deletes it (``job.skipped``, the original untouched). A decision refused
(the original or the output changed while it waited) brings the job back to ``ready_to_replace`` with the
reason: nothing was touched, and the user may decide again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import asyncpg
from librarrarian_contracts import JobChange, JobFailed, ReviewRequested, encode
from librarrarian_contracts.views import (
    MAX_REVIEWED,
    Preview,
    PreviewQuery,
    ReviewedJobs,
    ReviewJobs,
)
from librarrarian_runtime.errors import BadRequest, Conflict, NotFound

from . import store

log = logging.getLogger(__name__)

READY = "ready_to_replace"
# A preview larger than this is not kept (the encoder makes them a few kilobytes each).
MAX_PREVIEW_BYTES = 256 * 1024


async def kept(conn: asyncpg.Connection, report: ReviewRequested) -> None:
    """The attempt's output waits for review: the job is ready to replace, with what the queue shows."""
    changed = await conn.fetchval(
        "UPDATE jobs SET status = 'ready_to_replace', node = $3, output_path = $4, size_after = $5, vmaf = $6,"
        " waiting = $7::jsonb, decision = NULL, reason = $8, retry_at = NULL, finished_at = now(),"
        " updated_at = now() WHERE id = $1 AND attempts = $2 AND status IN ('pending', 'running') RETURNING id",
        report.job_id,
        report.attempt,
        report.node,
        report.output_path,
        report.size_after,
        report.output.vmaf,
        encode(report.output).decode(),
        "; ".join(report.notes) or None,
    )
    if changed is None:
        return
    previews = report.previews
    if previews is not None and all(0 < len(p) <= MAX_PREVIEW_BYTES for p in previews):
        await conn.execute(
            "INSERT INTO previews (job_id, original, output, at) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (job_id) DO UPDATE SET original = $2, output = $3, at = $4",
            report.job_id,
            previews[0],
            previews[1],
            report.preview_at,
        )
    await store.record_change(conn, report.job_id, JobChange.READY_TO_REPLACE)


async def refused(conn: asyncpg.Connection, report: JobFailed) -> bool:
    """A decision's attempt that failed for good: the job waits for review again, saying why (the files
    are as they were: a refused replace or delete touches nothing). False for an encode's failure."""
    changed = await conn.fetchval(
        "UPDATE jobs SET status = 'ready_to_replace', decision = NULL, reason = $2, error_log = $3,"
        " retry_at = NULL, updated_at = now() WHERE id = $1 AND decision IS NOT NULL RETURNING id",
        report.job_id,
        report.reason,
        report.detail,
    )
    if changed is None:
        return False
    await store.record_change(conn, report.job_id, JobChange.READY_TO_REPLACE)
    return True


async def decide(
    pool: asyncpg.Pool,
    request: ReviewJobs,
    on_enqueue: Callable[[], None],
    choose_class: Callable[[], str] | None = None,
) -> ReviewedJobs:
    """Queue the user's decision on the outputs of ``request.job_ids`` (every waiting one when empty): each
    a new attempt of its job, carrying the decision. A named job that is not ready to replace is refused
    (404, 409), and nothing is queued."""
    if len(request.job_ids) > MAX_REVIEWED:
        raise BadRequest(f"at most {MAX_REVIEWED} jobs at once; leave the list empty for all of them")
    wanted = sorted(set(request.job_ids))
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            "SELECT id, status FROM jobs WHERE ($1::bigint[] IS NULL AND status = 'ready_to_replace')"
            " OR id = ANY($1::bigint[]) ORDER BY id FOR UPDATE",
            wanted or None,
        )
        found = {r["id"]: r["status"] for r in rows}
        for job_id in wanted:
            if job_id not in found:
                raise NotFound(f"there is no job {job_id}")
            if found[job_id] != READY:
                raise Conflict(f"job {job_id} is {found[job_id]}, not ready to replace")
        ids = list(found)
        await conn.execute(
            "UPDATE jobs SET status = 'pending', attempts = attempts + 1, decision = $2, node = NULL,"
            " reason = NULL, finished_at = NULL, updated_at = now() WHERE id = ANY($1::bigint[])",
            ids,
            "accept" if request.accept else "reject",
        )
        for job_id in ids:
            await store.enqueue(conn, job_id, hw_class=choose_class() if choose_class else None)
        await store.record_changes(conn, ids, JobChange.ACCEPTED if request.accept else JobChange.REJECTED)
    if ids:
        on_enqueue()
    verb = "accepted" if request.accept else "rejected"
    log.info("%d waiting output(s) %s by a user", len(ids), verb)
    return ReviewedJobs(job_ids=tuple(ids), detail=f"{len(ids)} output(s) {verb}")


async def preview(pool: asyncpg.Pool, query: PreviewQuery) -> Preview:
    column = "original" if query.of == "original" else "output"
    row = await pool.fetchrow(f"SELECT {column} AS jpeg, at FROM previews WHERE job_id = $1", query.job_id)
    if row is None:
        raise NotFound(f"job {query.job_id} has no preview")
    return Preview(jpeg=bytes(row["jpeg"]), at=row["at"])
