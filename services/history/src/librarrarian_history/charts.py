"""The statistics page's aggregates: space saved per day, files per codec before and after, and the
throughput of each node, over the encoded files of a recent window (the partial index on ``finished_at``
keeps each one a range scan)."""

from __future__ import annotations

import asyncpg
from librarrarian_contracts.views import Charts, ChartsQuery, CodecCount, DaySaved, NodeThroughput
from librarrarian_runtime.errors import BadRequest

MAX_DAYS = 3650
WINDOW = "status = 'done' AND finished_at >= now() - make_interval(days => $1)"


async def charts(pool: asyncpg.Pool, query: ChartsQuery) -> Charts:
    if not 1 <= query.days <= MAX_DAYS:
        raise BadRequest(f"days must be between 1 and {MAX_DAYS}")
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
