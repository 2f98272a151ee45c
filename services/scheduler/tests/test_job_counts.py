"""The counts per state and type (kept per statement, migration 0017) equal a count of the jobs: after the
migration on a database that has jobs, and after concurrent changes through the real scheduler. And the
jobs list, written per filter since, lists what one query with every filter optional listed."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Awaitable

import asyncpg
import pytest
from librarrarian_contracts import JobKind, JobStatus, publish, topology
from librarrarian_contracts.views import (
    ActionResult,
    ClearedJobs,
    ClearPending,
    JobAction,
    JobsPage,
    JobsQuery,
    ReleasedJobs,
    ReleaseJobs,
)
from librarrarian_runtime.errors import ServiceError
from librarrarian_runtime.migrations import connect_and_migrate, migrate, migration_files
from librarrarian_runtime.queries import ask
from librarrarian_scheduler import endpoints
from librarrarian_testing import eventually
from nats.aio.client import Client
from nats.js import JetStreamContext

from .scheduler_client import probed
from .test_approval import found

PACKAGE = "librarrarian_scheduler.migrations"
PER_STATEMENT = 17  # the migration that counts per statement

# Jobs of every type and state, as a scan, the Arr apps and users leave them.
SEED = (
    "INSERT INTO jobs (kind, path, status)"
    " SELECT (ARRAY['transcode', 'cleanup', 'rename', 'quality_mismatch'])[1 + g % 4], $1 || g,"
    " (ARRAY['awaiting_approval', 'pending', 'running', 'done', 'failed', 'skipped'])[1 + (g / 4) % 6]"
    " FROM generate_series($2::int, $3::int) AS g"
)


async def counted(
    conn: asyncpg.Connection | asyncpg.Pool,
) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    """The kept counts, by state and by state and type (rows at zero left out)."""
    by_status = {
        r["status"]: r["n"] for r in await conn.fetch("SELECT status, n FROM job_counts WHERE n <> 0")
    }
    by_kind = {
        (r["status"], r["kind"]): r["n"]
        for r in await conn.fetch("SELECT status, kind, n FROM job_counts_by_kind WHERE n <> 0")
    }
    return by_status, by_kind


async def real(conn: asyncpg.Connection | asyncpg.Pool) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    by_status = {r[0]: r[1] for r in await conn.fetch("SELECT status, count(*) FROM jobs GROUP BY 1")}
    by_kind = {
        (r[0], r[1]): r[2] for r in await conn.fetch("SELECT status, kind, count(*) FROM jobs GROUP BY 1, 2")
    }
    return by_status, by_kind


async def test_the_migration_counts_the_jobs_already_recorded(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        # The scheduler as the release before the migration left it, with jobs of every type and state.
        await conn.execute("CREATE SCHEMA scheduler; SET search_path TO scheduler")
        await conn.execute(
            "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for version, name, sql in migration_files(PACKAGE):
            if version < PER_STATEMENT:
                await conn.execute(sql)
                await conn.execute("INSERT INTO schema_migrations VALUES ($1, $2)", version, name)
        await conn.execute(SEED, "/m/old-", 1, 480)
        # Counts gone wrong before (a restore of the jobs alone): the migration counts the jobs themselves.
        await conn.execute(
            "UPDATE job_counts SET n = n + 5; DELETE FROM job_counts_by_kind WHERE kind = 'rename'"
        )
        later = [name for version, name, _ in migration_files(PACKAGE) if version >= PER_STATEMENT]
        assert later[0] == "0017_job_lists.sql" and await migrate(conn, "scheduler", PACKAGE) == later
        assert await counted(conn) == await real(conn)
        assert sum((await counted(conn))[0].values()) == 480
        # And from now on per statement: a change of many jobs at once, a state nobody used before.
        await conn.execute("UPDATE jobs SET status = 'pending' WHERE status = 'failed'")
        await conn.execute("DELETE FROM jobs WHERE kind = 'cleanup' AND status = 'done'")
        await conn.execute("ALTER TABLE jobs DROP CONSTRAINT jobs_status_check")
        await conn.execute(
            "UPDATE jobs SET status = 'ready_to_replace' WHERE id % 10 = 0 AND status = 'running'"
        )
        assert await counted(conn) == await real(conn)
        assert (await counted(conn))[0]["ready_to_replace"] > 0
    finally:
        await conn.close()


async def test_concurrent_statements_keep_the_counts_exact(database_url: str) -> None:
    pool = await connect_and_migrate(database_url, "scheduler", PACKAGE, min_size=8, max_size=8)
    try:
        await pool.execute(SEED, "/m/a", 1, 400)
        # Each statement changes jobs of its own (statements that change the same rows in another order
        # deadlock on the rows themselves, counted or not): what they share is the counts.
        changes = [
            (SEED, "/m/b", 401, 600),
            ("UPDATE jobs SET status = 'running' WHERE status = 'pending' AND id <= 60",),
            (
                "UPDATE jobs SET status = 'pending' WHERE status = 'failed' AND id BETWEEN 61 AND 120",
            ),  # retries
            (
                "UPDATE jobs SET status = 'failed' WHERE status IN ('running', 'done') AND id BETWEEN 121 AND 180",
            ),
            (
                "DELETE FROM jobs WHERE status = 'awaiting_approval' AND id BETWEEN 181 AND 240",
            ),  # a cleared queue
            ("UPDATE jobs SET version = version + 1 WHERE id BETWEEN 241 AND 300",),  # no job changes state
            ("UPDATE jobs SET kind = 'rename' WHERE id BETWEEN 301 AND 400",),
        ]
        await asyncio.gather(*(pool.execute(*change) for change in changes))
        # One job at a time from many connections, moving both ways between states.
        moves = [
            f"UPDATE jobs SET status = '{to}' WHERE id = {job}"
            for job, to in zip(range(1, 400, 3), itertools.cycle(["done", "pending", "failed", "running"]))
        ]
        await asyncio.gather(*(pool.execute(sql) for sql in moves))
        assert await counted(pool) == await real(pool)
    finally:
        await pool.close()


@pytest.mark.usefixtures("scheduler")
async def test_the_real_scheduler_counts_what_its_jobs_are(
    bus: tuple[Client, JetStreamContext], database_url: str
) -> None:
    nc, js = bus
    # Transcodes queued and stale files waiting for approval, found at once.
    await asyncio.gather(
        *(publish(js, probed(f"/m/film{n}.mkv")) for n in range(30)),
        *(publish(js, found(f"/m/.tmp_{n}")) for n in range(20)),
    )

    async def listed() -> JobsPage | None:
        page = await ask(nc, topology.SCHEDULER_JOBS_QUERY, JobsQuery(limit=100), JobsPage)
        return page if len(page.items) == 50 else None

    page = await eventually(listed, timeout=30, message="50 jobs")
    cleanups = [j.id for j in page.items if j.kind == "cleanup"]
    transcodes = [j.id for j in page.items if j.kind == "transcode"]

    async def quietly(request: Awaitable[object]) -> None:
        # A job another request took first is refused: the counts must say what happened all the same.
        with contextlib.suppress(ServiceError):
            await request

    # Users releasing, deleting and clearing at the same time.
    await asyncio.gather(
        *(
            quietly(ask(nc, topology.SCHEDULER_RELEASE, ReleaseJobs(job_id=i), ReleasedJobs))
            for i in cleanups[:8]
        ),
        quietly(
            ask(
                nc,
                topology.SCHEDULER_CLEAR,
                ClearPending(kind="cleanup", status="awaiting_approval"),
                ClearedJobs,
            )
        ),
        *(
            quietly(ask(nc, topology.SCHEDULER_DELETE, JobAction(job_id=i), ActionResult))
            for i in transcodes[:10]
        ),
    )
    pool = await asyncpg.create_pool(database_url, server_settings={"search_path": "scheduler"})
    try:
        assert await counted(pool) == await real(pool)
        answered = await ask(nc, topology.SCHEDULER_JOBS_QUERY, JobsQuery(limit=1), JobsPage)
        assert answered.counts == (await real(pool))[0]
        total = await pool.fetchval("SELECT count(*) FROM jobs")
        assert sum(answered.counts.values()) == total and total <= 40  # 10 deleted, waiting ones cleared
    finally:
        await pool.close()


async def test_every_filter_lists_what_one_optional_query_listed(database_url: str) -> None:
    pool = await connect_and_migrate(database_url, "scheduler", PACKAGE)
    try:
        await pool.execute(SEED, "/m/", 1, 600)
        statuses = [(), (JobStatus.FAILED,), (JobStatus.PENDING, JobStatus.RUNNING, JobStatus.PENDING)]
        statuses += [(s,) for s in JobStatus]
        for chosen, kind, before, limit in itertools.product(
            statuses, [None, *JobKind], [None, 1, 300, 10_000], [1, 7, 500]
        ):
            query = JobsQuery(statuses=chosen, kind=kind, before_id=before, limit=limit)
            expected = await pool.fetch(
                "SELECT id FROM jobs WHERE ($1::text[] IS NULL OR status = ANY($1))"
                " AND ($2::text IS NULL OR kind = $2) AND ($3::bigint IS NULL OR id < $3)"
                " ORDER BY id DESC LIMIT $4",
                [s.value for s in chosen] or None,
                kind,
                before,
                limit + 1,
            )
            page = await endpoints.jobs(pool, query)
            assert [j.id for j in page.items] == [r["id"] for r in expected[:limit]], query
            assert page.next_before_id == (expected[limit - 1]["id"] if len(expected) > limit else None)
    finally:
        await pool.close()
