"""The summaries behind the dashboard's totals and the statistics charts (migrations 0007 and 0008: the measured
VMAF and the bytes saved against fixed quality besides) stay equal to an aggregate of the history itself: after
the migrations on a history that already has rows, after concurrent inserts, updates and deletes, and through
the real service."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
from librarrarian_contracts import JobCompleted, JobSkipped, publish, topology
from librarrarian_contracts.quality import QualityChoice
from librarrarian_contracts.views import Charts, ChartsQuery, HistoryPage, HistoryQuery, Nothing, Stats
from librarrarian_runtime.migrations import connect_and_migrate, migrate, migration_files
from librarrarian_runtime.queries import ask
from librarrarian_testing import eventually
from nats.aio.client import Client
from nats.js import JetStreamContext

PACKAGE = "librarrarian_history.migrations"
SUMMARIES = 7  # the migration that adds them

# What the summaries hold, computed from the history: per status, per UTC day and per UTC hour.
TOTALS = (
    "SELECT status, count(*) AS files, coalesce(sum(size_before), 0) AS bytes_before,"
    " coalesce(sum(size_after), 0) AS bytes_after,"
    " count(*) FILTER (WHERE size_before <> 0 AND size_after IS NOT NULL) AS reductions,"
    " coalesce(sum(1 - size_after::numeric / nullif(size_before, 0)), 0) AS reduction_sum"
    " FROM transcodes GROUP BY status"
)
# A file's measured VMAF (the quality check's, else measure_vmaf's), and what a target-mode file saved against
# its estimated size at the fixed level.
SCORE = "coalesce((quality ->> 'measured')::numeric, vmaf::numeric)"
SAVED_VS_FIXED = (
    "CASE WHEN quality ->> 'mode' = 'target' THEN (quality ->> 'fixed_bytes')::numeric - size_after END"
)
BUCKETS = (
    "SELECT {bucket} AS bucket, node, coalesce(codec_before, 'unknown') AS codec_before,"
    " coalesce(codec_after, 'unknown') AS codec_after, count(*) AS files,"
    " coalesce(sum(size_before - size_after), 0) AS saved, coalesce(sum(size_before), 0) AS bytes_before,"
    " coalesce(sum(duration::numeric), 0) AS media, coalesce(sum(elapsed_seconds::numeric), 0) AS busy,"
    f" count({SCORE}) AS measured, coalesce(sum({SCORE}), 0) AS vmaf_sum,"
    f" count({SAVED_VS_FIXED}) AS compared, coalesce(sum({SAVED_VS_FIXED}), 0) AS saved_vs_fixed"
    " FROM transcodes WHERE status = 'done' GROUP BY 1, 2, 3, 4"
)
DAY = "(finished_at AT TIME ZONE 'UTC')::date"
HOUR = "date_trunc('hour', finished_at AT TIME ZONE 'UTC')"
KEPT = (
    "SELECT {bucket} AS bucket, node, codec_before, codec_after, files, saved, bytes_before, media, busy,"
    " measured, vmaf_sum, compared, saved_vs_fixed FROM {table} WHERE files <> 0"
)


async def assert_summaries_exact(conn: asyncpg.Connection | asyncpg.Pool) -> None:
    async def rows(sql: str) -> set[tuple[object, ...]]:
        return {tuple(r) for r in await conn.fetch(sql)}

    assert await rows("SELECT * FROM transcode_totals WHERE files <> 0") == await rows(TOTALS)
    assert await rows(KEPT.format(bucket="day", table="transcode_days")) == await rows(
        BUCKETS.format(bucket=DAY)
    )
    assert await rows(KEPT.format(bucket="hour", table="transcode_hours")) == await rows(
        BUCKETS.format(bucket=HOUR)
    )


SEED = (
    "INSERT INTO transcodes (event_id, job_id, status, path, node, codec_before, codec_after, size_before,"
    " size_after, duration, elapsed_seconds, finished_at, vmaf)"
    " SELECT $1 || g, g, CASE WHEN g % 7 = 0 THEN 'skipped' ELSE 'done' END, '/m/' || g, 'n' || (g % 3),"
    " CASE WHEN g % 5 <> 0 THEN 'h264' END, 'hevc', CASE WHEN g % 11 <> 0 THEN 1000 + g END,"
    " CASE WHEN g % 13 <> 0 THEN 400 + g END, g * 0.1, g * 0.03,"
    " now() - make_interval(mins => g * 37), CASE WHEN g % 3 = 0 THEN 80 + (g % 19) * 0.7 END"
    " FROM generate_series($2::int, $3::int) AS g"
)
# Quality by target on some rows: measured or not, with the size at the fixed level estimated or not, and
# some in fixed mode (which saves nothing against itself).
CHOSEN = (
    "UPDATE transcodes SET quality = jsonb_build_object('mode', CASE WHEN job_id % 4 = 1 THEN 'fixed'"
    " ELSE 'target' END, 'level', 26, 'fixed_level', 24, 'target', 95.0,"
    " 'measured', CASE WHEN job_id % 3 <> 2 THEN 93 + (job_id % 11) * 0.25 END,"
    " 'fixed_bytes', CASE WHEN job_id % 6 <> 3 THEN 900 + job_id * 2 END) WHERE job_id % 5 IN (1, 2)"
)


async def test_the_migration_summarises_the_history_already_recorded(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        # The history as the release before the summaries left it.
        await conn.execute("CREATE SCHEMA history; SET search_path TO history")
        await conn.execute(
            "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for version, name, sql in migration_files(PACKAGE):
            if version < SUMMARIES:
                await conn.execute(sql)
                await conn.execute("INSERT INTO schema_migrations VALUES ($1, $2)", version, name)
        await conn.execute(SEED, "old-", 1, 500)
        applied = await migrate(conn, "history", PACKAGE)
        assert applied[:2] == ["0007_summaries.sql", "0008_quality.sql"]
        assert await conn.fetchval("SELECT sum(files) FROM transcode_totals") == 500
        assert await conn.fetchval("SELECT sum(measured) FROM transcode_days") > 100  # measure_vmaf's scores
        await assert_summaries_exact(conn)
        # Rows recorded since carry their quality into the summaries too.
        await conn.execute(CHOSEN)
        assert await conn.fetchval("SELECT sum(compared) FROM transcode_days") > 30
        await assert_summaries_exact(conn)
    finally:
        await conn.close()


async def test_concurrent_changes_keep_the_summaries_exact(database_url: str) -> None:
    pool = await connect_and_migrate(database_url, "history", PACKAGE, min_size=6, max_size=6)
    try:
        await pool.execute(SEED, "a-", 1, 300)
        changes = [
            (SEED, "b-", 301, 400),
            (SEED, "c-", 401, 500),
            ("UPDATE transcodes SET status = 'skipped' WHERE job_id % 4 = 0 AND job_id <= 300",),
            ("UPDATE transcodes SET finished_at = finished_at - interval '90 minutes' WHERE job_id % 6 = 1",),
            ("DELETE FROM transcodes WHERE job_id % 9 = 0 AND job_id <= 300",),
            ("UPDATE transcodes SET path = path || '.renamed' WHERE job_id % 2 = 0",),  # no change to sum
            (CHOSEN,),
            ("UPDATE transcodes SET vmaf = NULL WHERE job_id % 8 = 3",),
        ]
        await asyncio.gather(*(pool.execute(*change) for change in changes))
        # Rows one at a time from many connections: the single-row case of the history service.
        await asyncio.gather(*(pool.execute(SEED, "d-", g, g) for g in range(501, 561)))
        await assert_summaries_exact(pool)
        real = await pool.fetchval("SELECT count(*) FROM transcodes")
        assert await pool.fetchval("SELECT sum(files) FROM transcode_totals") == real
        assert real > 400
    finally:
        await pool.close()


async def test_the_service_answers_the_same_totals_and_charts_as_the_history(
    bus: tuple[Client, JetStreamContext], history: Client, database_url: str
) -> None:
    _, js = bus
    now = datetime.now(UTC)
    events = []
    for n in range(1, 41):
        events.append(
            JobCompleted(
                job_id=n,
                attempt=1,
                node=f"n{n % 3}",
                path=f"/m/{n}.mkv",
                output_path=f"/m/{n}.mkv",
                encoder="libx265",
                codec_before=("h264", "mpeg4", None)[n % 3],
                codec_after="hevc",
                size_before=1000 * n,
                size_after=300 * n + 7,
                duration=60.0 + n,
                elapsed_seconds=12.5,
                # Spread over hours and days, some before the 7-day window and some at its very edge.
                occurred_at=now - timedelta(hours=5 * n, minutes=n),
                vmaf=90 + n / 8 if n % 3 == 0 else None,
                quality=(
                    QualityChoice(
                        mode="target",
                        level=26,
                        fixed_level=24,
                        target=95.0,
                        measured=94 + n / 16 if n % 4 else None,
                        fixed_bytes=400 * n if n % 5 else None,
                    )
                    if n % 2
                    else None
                ),
            )
        )
    events += [
        JobSkipped(job_id=100 + n, attempt=1, node="n1", path=f"/m/s{n}.mkv", reason="already HEVC")
        for n in range(5)
    ]
    await asyncio.gather(*(publish(js, e) for e in events))

    async def all_recorded() -> bool:
        page = await ask(history, topology.HISTORY_LIST, HistoryQuery(limit=100), HistoryPage)
        return len(page.items) == len(events)

    await eventually(all_recorded, timeout=30)
    stats = await ask(history, topology.HISTORY_STATS, Nothing(), Stats)
    pool = await asyncpg.create_pool(database_url, server_settings={"search_path": "history"})
    try:
        await assert_summaries_exact(pool)
        real = await pool.fetchrow(
            "SELECT count(*) FILTER (WHERE status = 'done') AS encoded,"
            " count(*) FILTER (WHERE status = 'skipped') AS skipped,"
            " sum(size_before) FILTER (WHERE status = 'done') AS before,"
            " sum(size_after) FILTER (WHERE status = 'done') AS after,"
            " avg(1 - size_after::float8 / nullif(size_before, 0)) FILTER (WHERE status = 'done') AS reduction"
            " FROM transcodes"
        )
        assert real is not None
        assert (stats.files_encoded, stats.files_skipped, stats.bytes_before, stats.bytes_after) == (
            40,
            5,
            real["before"],
            real["after"],
        )
        assert stats.average_reduction == round(real["reduction"], 4)
        for days in (1, 3, 7, 365):
            charts = await ask(history, topology.HISTORY_CHARTS, ChartsQuery(days=days), Charts)
            window = "status = 'done' AND finished_at >= $1"
            since = await pool.fetchval("SELECT now() - make_interval(days => $1)", days)
            per_day = await pool.fetch(
                "SELECT (finished_at AT TIME ZONE 'UTC')::date AS day, count(*) AS files,"
                f" sum(size_before - size_after) AS saved FROM transcodes WHERE {window}"
                " GROUP BY day ORDER BY day",
                since,
            )
            assert [(d.day, d.files, d.bytes_saved) for d in charts.saved_per_day] == [
                tuple(r) for r in per_day
            ], days
            per_node = await pool.fetch(
                "SELECT node, count(*), sum(size_before), sum(duration), sum(elapsed_seconds)"
                f" FROM transcodes WHERE {window} GROUP BY node ORDER BY node",
                since,
            )
            assert [
                (n.node, n.files, n.bytes_before, n.media_seconds, n.busy_seconds) for n in charts.nodes
            ] == [tuple(r) for r in per_node], days
            per_codec = await pool.fetch(
                "SELECT coalesce(codec_before, 'unknown') AS codec, count(*) AS files"
                f" FROM transcodes WHERE {window} GROUP BY 1 ORDER BY files DESC, codec",
                since,
            )
            assert [(c.codec, c.files) for c in charts.codecs_before] == [tuple(r) for r in per_codec]
            per_day_quality = await pool.fetch(
                "SELECT (finished_at AT TIME ZONE 'UTC')::date AS day, count(score), avg(score)::float8,"
                " count(saved), coalesce(sum(saved), 0)"
                f" FROM (SELECT *, {SCORE} AS score, {SAVED_VS_FIXED} AS saved FROM transcodes) AS t"
                f" WHERE {window} GROUP BY day HAVING count(score) > 0 OR count(saved) > 0 ORDER BY day",
                since,
            )
            assert [
                (q.day, q.measured, q.vmaf_mean, q.compared, q.bytes_saved_vs_fixed)
                for q in charts.quality_per_day
            ] == [tuple(r) for r in per_day_quality], days
    finally:
        await pool.close()
