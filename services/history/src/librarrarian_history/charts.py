"""The statistics page's aggregates: space saved per day, files per codec before and after, the throughput of
each node, and per day the mean measured VMAF and the bytes quality by target saved against fixed quality,
over the encoded files of a recent window.

They are read from the summaries migrations 0007 and 0008 keep (per UTC day and hour, node and codecs), not from
the history itself: the window's whole days from ``transcode_days``, the whole hours of its first day from
``transcode_hours``, and the raw rows of its first, partial hour (a range of the partial index on
``finished_at``). A window of ten years reads a few thousand rows, and the sums are the same as the
history's own."""

from __future__ import annotations

import asyncpg
from librarrarian_contracts.views import (
    Charts,
    ChartsQuery,
    CodecCount,
    DayQuality,
    DaySaved,
    NodeThroughput,
)
from librarrarian_runtime.errors import BadRequest

MAX_DAYS = 3650
# Every encoded file finished since now() - $1 days, as summary rows: (day, node, codec_before,
# codec_after, files, saved, bytes_before, media, busy, measured, vmaf_sum, compared, saved_vs_fixed).
WINDOW = """
WITH bounds AS (
    SELECT b, date_trunc('hour', b AT TIME ZONE 'UTC') + interval '1 hour' AS first_hour,
        (b AT TIME ZONE 'UTC')::date + 1 AS first_day
    FROM (SELECT now() - make_interval(days => $1) AS b) AS w),
window_rows AS (
    SELECT (t.finished_at AT TIME ZONE 'UTC')::date AS day, t.node,
        coalesce(t.codec_before, 'unknown') AS codec_before, coalesce(t.codec_after, 'unknown') AS codec_after,
        1::bigint AS files, coalesce(t.size_before - t.size_after, 0)::numeric AS saved,
        coalesce(t.size_before, 0)::numeric AS bytes_before, coalesce(t.duration, 0)::numeric AS media,
        coalesce(t.elapsed_seconds, 0)::numeric AS busy,
        (measured_vmaf(t.quality, t.vmaf) IS NOT NULL)::int::bigint AS measured,
        coalesce(measured_vmaf(t.quality, t.vmaf), 0) AS vmaf_sum,
        (saved_vs_fixed(t.quality, t.size_after) IS NOT NULL)::int::bigint AS compared,
        coalesce(saved_vs_fixed(t.quality, t.size_after), 0) AS saved_vs_fixed
    FROM transcodes t, bounds
    WHERE t.status = 'done' AND t.finished_at >= bounds.b AND t.finished_at < bounds.first_hour AT TIME ZONE 'UTC'
    UNION ALL
    SELECT h.hour::date, h.node, h.codec_before, h.codec_after, h.files, h.saved, h.bytes_before, h.media, h.busy,
        h.measured, h.vmaf_sum, h.compared, h.saved_vs_fixed
    FROM transcode_hours h, bounds WHERE h.hour >= bounds.first_hour AND h.hour < bounds.first_day
    UNION ALL
    SELECT d.day, d.node, d.codec_before, d.codec_after, d.files, d.saved, d.bytes_before, d.media, d.busy,
        d.measured, d.vmaf_sum, d.compared, d.saved_vs_fixed
    FROM transcode_days d, bounds WHERE d.day >= bounds.first_day)
"""


async def charts(pool: asyncpg.Pool, query: ChartsQuery) -> Charts:
    if not 1 <= query.days <= MAX_DAYS:
        raise BadRequest(f"days must be between 1 and {MAX_DAYS}")
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        # One snapshot: the three charts add up to the same files.
        days = await conn.fetch(
            f"{WINDOW} SELECT day, sum(files)::bigint AS files, sum(saved)::bigint AS saved"
            " FROM window_rows GROUP BY day HAVING sum(files) > 0 ORDER BY day",
            query.days,
        )
        codecs = await conn.fetch(
            f"{WINDOW}, per_codec AS ("
            "  SELECT 'before' AS side, codec_before AS codec, sum(files)::bigint AS files FROM window_rows"
            "  GROUP BY codec_before"
            "  UNION ALL"
            "  SELECT 'after', codec_after, sum(files)::bigint FROM window_rows GROUP BY codec_after)"
            " SELECT side, codec, files FROM per_codec WHERE files > 0 ORDER BY files DESC, codec",
            query.days,
        )
        nodes = await conn.fetch(
            f"{WINDOW} SELECT node, sum(files)::bigint AS files, sum(bytes_before)::bigint AS bytes_before,"
            " sum(media)::float8 AS media, sum(busy)::float8 AS busy"
            " FROM window_rows GROUP BY node HAVING sum(files) > 0 ORDER BY node",
            query.days,
        )
        quality = await conn.fetch(
            f"{WINDOW} SELECT day, sum(measured)::bigint AS measured,"
            " (sum(vmaf_sum) / nullif(sum(measured), 0))::float8 AS vmaf_mean, sum(compared)::bigint AS compared,"
            " sum(saved_vs_fixed)::bigint AS saved_vs_fixed"
            " FROM window_rows GROUP BY day HAVING sum(measured) > 0 OR sum(compared) > 0 ORDER BY day",
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
        quality_per_day=tuple(
            DayQuality(
                day=r["day"],
                measured=r["measured"],
                vmaf_mean=r["vmaf_mean"],
                compared=r["compared"],
                bytes_saved_vs_fixed=r["saved_vs_fixed"],
            )
            for r in quality
        ),
    )
