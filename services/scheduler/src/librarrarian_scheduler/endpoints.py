"""The scheduler's answers: commit fencing and the jobs query (the users' actions on jobs are in
:mod:`approval`, :mod:`removal` and :mod:`progress`; :mod:`service` serves them all)."""

from __future__ import annotations

import logging

import asyncpg
import msgspec
from librarrarian_contracts import FileIdentity, JobStatus
from librarrarian_contracts.views import (
    CommitDecision,
    CommitRequest,
    JobsPage,
    JobsQuery,
    QueueDepth,
    QueueMetrics,
)
from librarrarian_runtime.errors import BadRequest

from .store import JOB_COLUMNS, job_view

log = logging.getLogger(__name__)

MAX_PAGE = 500


async def commit(pool: asyncpg.Pool, request: CommitRequest) -> CommitDecision:
    """Grant the right to replace the original to exactly one holder at a time (architecture §3.3).

    The grant goes to the job's current attempt when nothing was granted yet, when it repeats an existing
    grant (an encoder retrying its request), or when it comes from a later delivery of that attempt:
    JetStream redelivers only after the earlier holder stopped heartbeating, so that holder is presumed dead.
    The encoder re-checks the original's identity just before renaming, which catches a presumed-dead
    holder that did rename after all.
    """
    row = await pool.fetchrow(
        "WITH granted AS ("
        "  UPDATE jobs SET commit_attempt = $2, commit_delivery = $3, commit_node = $4, committed_at = now(),"
        "  updated_at = now()"
        "  WHERE id = $1 AND attempts = $2 AND status IN ('pending', 'running')"
        "    AND (commit_attempt IS NULL OR commit_attempt < $2"
        "         OR (commit_attempt = $2 AND commit_delivery = $3 AND commit_node = $4)"
        "         OR (commit_attempt = $2 AND commit_delivery < $3))"
        "  RETURNING id),"
        # Kept for good: the completion of any holder counts (see fencing).
        " recorded AS (INSERT INTO commits (job_id, attempt, delivery, node, output)"
        "  SELECT id, $2, $3, $4, $5::jsonb FROM granted"
        "  ON CONFLICT (job_id, attempt, delivery, node)"
        "  DO UPDATE SET output = coalesce(EXCLUDED.output, commits.output))"
        " SELECT id FROM granted",
        request.job_id,
        request.attempt,
        request.delivery,
        request.node,
        None if request.output is None else msgspec.json.encode(request.output).decode(),
    )
    if row is not None:
        log.info(
            "job %d: commit granted to attempt %d delivery %d on %s",
            request.job_id,
            request.attempt,
            request.delivery,
            request.node,
        )
        return CommitDecision(granted=True, outputs=await _outputs(pool, request))
    state = await pool.fetchrow(
        "SELECT status, attempts, commit_attempt, commit_delivery, commit_node FROM jobs WHERE id = $1",
        request.job_id,
    )
    if state is None:
        reason = "no such job"
    elif state["status"] not in {"pending", "running"}:
        reason = f"the job is already {state['status']}"
    elif state["attempts"] != request.attempt:
        reason = f"attempt {request.attempt} is stale (current attempt {state['attempts']})"
    else:
        reason = f"already granted to delivery {state['commit_delivery']} on {state['commit_node']}"
    log.warning("job %d: commit denied to %s (%s)", request.job_id, request.node, reason)
    return CommitDecision(granted=False, reason=reason)


async def _outputs(pool: asyncpg.Pool, request: CommitRequest) -> tuple[FileIdentity, ...]:
    """The outputs the job's grants were asked for, by any attempt (one whose deliveries ran out may have
    renamed before it died): one may already be in the original's place."""
    rows = await pool.fetch(
        "SELECT output FROM commits WHERE job_id = $1 AND output IS NOT NULL ORDER BY attempt, delivery",
        request.job_id,
    )
    return tuple(msgspec.json.decode(row["output"], type=FileIdentity) for row in rows)


def jobs_statement(query: JobsQuery) -> tuple[str, list[object]]:
    """The jobs list's query for a filter, and its arguments.

    A filtered list first takes the page's ids from an index that holds them in id order for each state
    (``jobs_by_status``, or ``jobs_by_kind_status`` with a type), one branch per state merged newest first,
    or from ``jobs_by_kind`` for a type alone, and only then reads those rows. Asked for whole rows at once,
    the planner reads the primary key back from the page's id, filtering: it cannot know that the states are
    not spread evenly over the ids, and a deep page of pending jobs (the newest ones) read every older job.
    Only the filter's own conditions are written, so each one can use its index."""
    args: list[object] = [query.limit + 1]
    where = []
    if query.kind is not None:
        args.append(query.kind.value)
        where.append(f"kind = ${len(args)}")
    if query.before_id is not None:
        args.append(query.before_id)
        where.append(f"id < ${len(args)}")
    if not query.statuses and query.kind is None:
        condition = f" WHERE {' AND '.join(where)}" if where else ""
        return f"SELECT {JOB_COLUMNS} FROM jobs{condition} ORDER BY id DESC LIMIT $1", args
    branches = []
    states: list[JobStatus | None] = [*sorted(set(query.statuses))] or [None]  # one state asked twice: once
    for status in states:
        conditions = list(where)
        if status is not None:
            args.append(status.value)
            conditions.insert(0, f"status = ${len(args)}")
        branches.append(f"SELECT id FROM jobs WHERE {' AND '.join(conditions)} ORDER BY id DESC LIMIT $1")
    ids = branches[0] if len(branches) == 1 else " UNION ALL ".join(f"({branch})" for branch in branches)
    return (
        f"SELECT {JOB_COLUMNS} FROM jobs"
        f" WHERE id IN (SELECT id FROM ({ids}) AS listed ORDER BY id DESC LIMIT $1) ORDER BY id DESC",
        args,
    )


async def jobs(pool: asyncpg.Pool, query: JobsQuery) -> JobsPage:
    if not 1 <= query.limit <= MAX_PAGE:
        raise BadRequest(f"limit must be between 1 and {MAX_PAGE}")
    sql, args = jobs_statement(query)
    rows = await pool.fetch(sql, *args)
    # The counts per state are kept by triggers (migration 0017): a few rows, not a count of the jobs.
    counts = {r["status"]: r["n"] for r in await pool.fetch("SELECT status, n FROM job_counts WHERE n > 0")}
    page = rows[: query.limit]
    more = len(rows) > query.limit
    return JobsPage(
        items=tuple(job_view(r) for r in page), next_before_id=page[-1]["id"] if more else None, counts=counts
    )


async def metrics(pool: asyncpg.Pool) -> QueueMetrics:
    """Counts kept by triggers, and the due unsent outbox rows (a partial index holds only unsent ones)."""
    depth = await pool.fetch(
        "SELECT status, kind, n FROM job_counts_by_kind WHERE n > 0 ORDER BY status, kind"
    )
    outbox = await pool.fetchrow(
        "SELECT count(*) AS due, coalesce(EXTRACT(EPOCH FROM now() - min(not_before)), 0)::float8 AS lag"
        " FROM outbox WHERE sent_at IS NULL AND not_before <= now()"
    )
    assert outbox is not None
    return QueueMetrics(
        depth=tuple(QueueDepth(status=r["status"], kind=r["kind"], jobs=r["n"]) for r in depth),
        outbox_due=outbox["due"],
        outbox_lag_seconds=max(0.0, outbox["lag"]),
    )
