"""Deleting jobs at a user's request: one job, or every pending job (or every one awaiting approval) at once.

A deleted job's row is gone, so an encoder that holds its work message anyway is refused the commit
("no such job", architecture §3.3) and discards its output; its ``job.*`` events change nothing. The work
messages already published are deleted from the ``WORK`` stream too, so no encoder takes them in the first
place. A running job is not deleted (its encoder is working on the file: stop the node instead), nor a
done one (its record keeps the output from being encoded again).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable

import asyncpg
from librarrarian_contracts import JobChange, topology
from librarrarian_contracts.views import ActionResult, ClearedJobs, ClearPending
from librarrarian_runtime.errors import Conflict, NotFound
from nats.js import JetStreamContext
from nats.js.errors import Error as JetStreamError

from . import store

log = logging.getLogger(__name__)


async def forget_work(js: JetStreamContext, seqs: Iterable[int]) -> None:
    """Remove published work messages from the stream; one already taken and acked is gone anyway."""
    for seq in seqs:
        with contextlib.suppress(JetStreamError):
            await js.delete_msg(topology.WORK.name, seq)


async def delete_job(pool: asyncpg.Pool, js: JetStreamContext, job_id: int) -> ActionResult:
    async with pool.acquire() as conn, conn.transaction():
        status = await conn.fetchval("SELECT status FROM jobs WHERE id = $1 FOR UPDATE", job_id)
        if status is None:
            raise NotFound(f"there is no job {job_id}")
        if status == "running":
            raise Conflict(f"job {job_id} is running; stop its node first")
        if status == "done":
            # Its record is what keeps the output from being taken for a new file and encoded again.
            raise Conflict(f"job {job_id} is done; its record stays")
        seqs = await conn.fetch(
            "SELECT stream_seq FROM outbox WHERE job_id = $1 AND stream_seq IS NOT NULL", job_id
        )
        await store.record_change(conn, job_id, JobChange.REMOVED)
        await conn.execute("DELETE FROM jobs WHERE id = $1", job_id)  # its work rows go with it
    await forget_work(js, (r["stream_seq"] for r in seqs))
    return ActionResult(detail=f"deleted ({status})")


async def clear_pending(pool: asyncpg.Pool, js: JetStreamContext, query: ClearPending) -> ClearedJobs:
    async with pool.acquire() as conn, conn.transaction():
        ids = [
            r["id"]
            for r in await conn.fetch(
                "SELECT id FROM jobs WHERE status = $2 AND ($1::text IS NULL OR kind = $1) ORDER BY id FOR UPDATE",
                query.kind,
                query.status,
            )
        ]
        await store.record_changes(conn, ids, JobChange.REMOVED)
        rows = await conn.fetch(
            "WITH gone AS (DELETE FROM jobs WHERE id = ANY($1::bigint[]) RETURNING id)"
            " SELECT gone.id, outbox.stream_seq FROM gone"
            " LEFT JOIN outbox ON outbox.job_id = gone.id AND outbox.stream_seq IS NOT NULL",
            ids,
        )
    await forget_work(js, (r["stream_seq"] for r in rows if r["stream_seq"] is not None))
    deleted = len({r["id"] for r in rows})
    log.info("queue cleared by a user: %d %s %s job(s) deleted", deleted, query.status, query.kind or "")
    return ClearedJobs(deleted=deleted)
