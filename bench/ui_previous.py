"""The dashboard's queries as they were before the summaries, the per-state job lists and the history search's
whole words: the baseline of ``bench/ui.py``. Each counts or sums the rows of record on every request (the
search: each word as a word beginning). The bench puts them in the services' place for its second pass, so
both passes run the same services, requests and data."""

from __future__ import annotations

import re

import asyncpg
from librarrarian_contracts.views import (
    Charts,
    ChartsQuery,
    CodecCount,
    DaySaved,
    JobsPage,
    JobsQuery,
    NodeThroughput,
    Stats,
)
from librarrarian_scheduler.store import JOB_COLUMNS, job_view

WINDOW = "status = 'done' AND finished_at >= now() - make_interval(days => $1)"


async def jobs(pool: asyncpg.Pool, query: JobsQuery) -> JobsPage:
    rows = await pool.fetch(
        f"SELECT {JOB_COLUMNS} FROM jobs"
        " WHERE ($1::text[] IS NULL OR status = ANY($1)) AND ($2::text IS NULL OR kind = $2)"
        "   AND ($3::bigint IS NULL OR id < $3)"
        " ORDER BY id DESC LIMIT $4",
        list(query.statuses) or None,
        query.kind,
        query.before_id,
        query.limit + 1,
    )
    counts = {r["status"]: r["n"] for r in await pool.fetch("SELECT status, n FROM job_counts WHERE n > 0")}
    page = rows[: query.limit]
    more = len(rows) > query.limit
    return JobsPage(
        items=tuple(job_view(r) for r in page), next_before_id=page[-1]["id"] if more else None, counts=counts
    )


async def stats(pool: asyncpg.Pool) -> Stats:
    row = await pool.fetchrow(
        "SELECT count(*) FILTER (WHERE status = 'done') AS encoded,"
        " count(*) FILTER (WHERE status = 'skipped') AS skipped,"
        " coalesce(sum(size_before) FILTER (WHERE status = 'done'), 0)::bigint AS before,"
        " coalesce(sum(size_after) FILTER (WHERE status = 'done'), 0)::bigint AS after,"
        " coalesce(avg(1 - size_after::float8 / nullif(size_before, 0)) FILTER (WHERE status = 'done'), 0)"
        " AS reduction FROM transcodes"
    )
    assert row is not None
    return Stats(
        files_encoded=row["encoded"],
        files_skipped=row["skipped"],
        bytes_before=row["before"],
        bytes_after=row["after"],
        bytes_saved=row["before"] - row["after"],
        average_reduction=round(row["reduction"], 4),
    )


async def charts(pool: asyncpg.Pool, query: ChartsQuery) -> Charts:
    async with pool.acquire() as conn:
        days = await conn.fetch(
            "SELECT (finished_at AT TIME ZONE 'UTC')::date AS day, count(*) AS files,"
            " coalesce(sum(size_before - size_after), 0)::bigint AS saved"
            f" FROM transcodes WHERE {WINDOW} GROUP BY day ORDER BY day",
            query.days,
        )
        codecs = await conn.fetch(
            "SELECT 'before' AS side, coalesce(codec_before, 'unknown') AS codec, count(*) AS files"
            f" FROM transcodes WHERE {WINDOW} GROUP BY codec"
            " UNION ALL"
            " SELECT 'after', coalesce(codec_after, 'unknown'), count(*)"
            f" FROM transcodes WHERE {WINDOW} GROUP BY 2"
            " ORDER BY files DESC, codec",
            query.days,
        )
        nodes = await conn.fetch(
            "SELECT node, count(*) AS files, coalesce(sum(size_before), 0)::bigint AS bytes_before,"
            " coalesce(sum(duration), 0) AS media, coalesce(sum(elapsed_seconds), 0) AS busy"
            f" FROM transcodes WHERE {WINDOW} GROUP BY node ORDER BY node",
            query.days,
        )
    return Charts(
        days=query.days,
        saved_per_day=tuple(DaySaved(day=r["day"], files=r["files"], bytes_saved=r["saved"]) for r in days),
        codecs_before=tuple(
            CodecCount(codec=r["codec"], files=r["files"]) for r in codecs if r["side"] == "before"
        ),
        codecs_after=tuple(
            CodecCount(codec=r["codec"], files=r["files"]) for r in codecs if r["side"] == "after"
        ),
        nodes=tuple(
            NodeThroughput(
                node=r["node"],
                files=r["files"],
                bytes_before=r["bytes_before"],
                media_seconds=float(r["media"]),
                busy_seconds=float(r["busy"]),
            )
            for r in nodes
        ),
    )


def words_query(search: str) -> str:
    """The history search's words as they were: each word of the search as a word beginning."""
    return " & ".join(f"{w}:*" for w in re.findall(r"[^\W_]+", search.lower()))
