"""The library ``bench/ui.py`` measures: jobs and finished transcodes written straight into the tables of
record with ``generate_series`` (one statement each, the services' triggers keeping their counts and
summaries as they would), so a million rows of each take a minute or two, not an afternoon of events."""

from __future__ import annotations

import asyncpg

# Of every 1,000 jobs: one stale-file cleanup, one rename and one quality mismatch awaiting approval; 1 %
# failed, 2 % skipped, one in 20,000 running; the oldest 90 % done and the newest 10 % pending.
JOBS = """
INSERT INTO scheduler.jobs (kind, path, status, reason, attempts, hw_class, source_size, source_mtime_ns,
    source_inode, codec_before, queued_at, finished_at)
SELECT kind, format('/media/TV/Show %s/Season 01/Episode %s.mkv', g / 100, g), status,
    CASE status WHEN 'failed' THEN 'ffmpeg exited with status 1' WHEN 'skipped' THEN 'already HEVC' END,
    1, 'cpu', 1000000 + g, g, g, 'h264', now() - make_interval(secs => $1 - g),
    CASE WHEN status IN ('done', 'failed', 'skipped') THEN now() - make_interval(secs => $1 - g) END
FROM generate_series(1, $1) AS g,
LATERAL (SELECT CASE g % 1000 WHEN 1 THEN 'cleanup' WHEN 2 THEN 'rename' WHEN 3 THEN 'quality_mismatch'
    ELSE 'transcode' END AS kind) AS k,
LATERAL (SELECT CASE WHEN k.kind <> 'transcode' THEN 'awaiting_approval' WHEN g % 100 = 0 THEN 'failed'
    WHEN g % 50 = 7 THEN 'skipped' WHEN g % 20000 = 5 THEN 'running' WHEN g <= $1 * 0.9 THEN 'done'
    ELSE 'pending' END AS status) AS s
"""

# One finished file every 90 seconds for the last ~3 years (1,000,000 rows), 5 % of them skipped, on four
# nodes, from three codecs to two.
TRANSCODES = """
INSERT INTO history.transcodes (event_id, job_id, status, path, output_path, node, encoder, codec_before,
    codec_after, size_before, size_after, duration, elapsed_seconds, reason, finished_at)
SELECT 'seed-' || g, $1 + g, CASE WHEN g % 20 = 0 THEN 'skipped' ELSE 'done' END,
    format('/media/Movies/Film %s (2001)/Film %s.mkv', g, g),
    CASE WHEN g % 20 <> 0 THEN format('/media/Movies/Film %s (2001)/Film %s.mkv', g, g) END,
    'node-' || (g % 4), 'libx265', CASE g % 10 WHEN 0 THEN 'mpeg4' WHEN 1 THEN 'vc1' ELSE 'h264' END,
    CASE WHEN g % 7 = 0 THEN 'av1' ELSE 'hevc' END, 2000000000 + g * 1000::bigint,
    CASE WHEN g % 20 = 0 THEN 2000000000 + g * 1000::bigint ELSE 700000000 + (g % 1000) * 100000 END,
    1200 + g % 3000, 300 + g % 500, CASE WHEN g % 20 = 0 THEN 'already HEVC' END,
    now() - make_interval(secs => ($1 - g) * 90)
FROM generate_series(1, $1) AS g
"""


async def seed(db_url: str, rows: int) -> None:
    """``rows`` jobs and ``rows`` finished transcodes, then fresh planner statistics."""
    conn = await asyncpg.connect(db_url)
    try:
        await conn.execute(JOBS, rows)
        await conn.execute(TRANSCODES, rows)
        for table in ("scheduler.jobs", "history.transcodes"):
            await conn.execute(f"VACUUM ANALYZE {table}")
    finally:
        await conn.close()
