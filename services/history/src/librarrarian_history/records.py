"""Writing finished transcodes and answering history and statistics queries."""

from __future__ import annotations

import re

import asyncpg
import msgspec
from librarrarian_contracts import FileRenamed, JobCompleted, JobReport, JobSkipped
from librarrarian_contracts.quality import QualityChoice
from librarrarian_contracts.views import HistoryEntry, HistoryPage, HistoryQuery, Stats
from librarrarian_runtime.errors import BadRequest

MAX_PAGE = 500
_quality = msgspec.json.Decoder(QualityChoice)


async def record(pool: asyncpg.Pool, event: JobReport) -> None:
    """Idempotent: the event id is unique, a redelivery inserts nothing."""
    if isinstance(event, JobCompleted):
        await pool.execute(
            "INSERT INTO transcodes (event_id, job_id, status, path, output_path, node, encoder, codec_before,"
            " codec_after, size_before, size_after, duration, elapsed_seconds, finished_at, fallback_reason, vmaf,"
            " ffmpeg_log, reason, recycled, quality)"
            " VALUES ($1, $2, 'done', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,"
            " $19::jsonb)"
            " ON CONFLICT DO NOTHING",
            event.event_id,
            event.job_id,
            event.path,
            event.output_path,
            event.node,
            event.encoder,
            event.codec_before,
            event.codec_after,
            event.size_before,
            event.size_after,
            event.duration,
            event.elapsed_seconds,
            event.occurred_at,
            event.fallback_reason,
            event.vmaf,
            event.ffmpeg_log,
            # What the output could not keep, or the links it replaced one of: shown beside its status.
            "; ".join(event.notes) or None,
            event.recycled,
            None if event.quality is None else msgspec.json.encode(event.quality).decode(),
        )
    elif isinstance(event, JobSkipped):
        await pool.execute(
            "INSERT INTO transcodes (event_id, job_id, status, path, node, size_before, size_after, reason,"
            " finished_at) VALUES ($1, $2, 'skipped', $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
            event.event_id,
            event.job_id,
            event.path,
            event.node,
            event.size_before,
            event.size_after,
            event.reason,
            event.occurred_at,
        )


async def renamed(pool: asyncpg.Pool, event: FileRenamed) -> int:
    """An Arr app renamed a file: its entries follow it, so a search by its new name finds them. The file
    there now is a transcode's output (its ``output_path``) or a file left as it was (a skipped entry's
    ``path``); the name it had when it was transcoded stays in ``path``. Idempotent: a redelivery finds
    nothing under the old name."""
    async with pool.acquire() as connection, connection.transaction():
        outputs = await connection.execute(
            "UPDATE transcodes SET output_path = $2 WHERE output_path = $1", event.path, event.new_path
        )
        kept = await connection.execute(
            "UPDATE transcodes SET path = $2 WHERE output_path IS NULL AND path = $1",
            event.path,
            event.new_path,
        )
    return int(outputs.split()[-1]) + int(kept.split()[-1])


def _entry(row: asyncpg.Record, with_log: bool = False) -> HistoryEntry:
    """A page leaves each entry's ffmpeg log out (a few KB each); one entry's details have it."""
    fields = {k: row[k] for k in HistoryEntry.__struct_fields__}
    if not with_log:
        fields["ffmpeg_log"] = None
    if fields["quality"] is not None:  # jsonb arrives as its text
        fields["quality"] = _quality.decode(fields["quality"])
    return HistoryEntry(**fields)


async def entry(pool: asyncpg.Pool, entry_id: int) -> HistoryEntry | None:
    row = await pool.fetchrow("SELECT * FROM transcodes WHERE id = $1", entry_id)
    return None if row is None else _entry(row, with_log=True)


async def page(pool: asyncpg.Pool, query: HistoryQuery) -> HistoryPage:
    if not 1 <= query.limit <= MAX_PAGE:
        raise BadRequest(f"limit must be between 1 and {MAX_PAGE}")
    if not query.search:
        rows = await pool.fetch(
            "SELECT * FROM transcodes WHERE ($1::bigint IS NULL OR id < $1) ORDER BY id DESC LIMIT $2",
            query.before_id,
            query.limit + 1,
        )
    else:
        escaped = query.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        words = words_query(query.search)
        narrowing = (
            "path_words(path) || path_words(output_path) @@ to_tsquery('simple', $4)" if words else "$4 = ''"
        )
        async with pool.acquire() as conn, conn.transaction(readonly=True):
            # A plan for this search's words: how many rows they match decides between the words index and
            # the newest rows first, and a plan kept for any search would choose once for all of them.
            await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
            rows = await conn.fetch(
                f"SELECT * FROM transcodes WHERE {narrowing}"
                "   AND (path ILIKE $1 OR output_path ILIKE $1) AND ($2::bigint IS NULL OR id < $2)"
                " ORDER BY id DESC LIMIT $3",
                f"%{escaped}%",
                query.before_id,
                query.limit + 1,
                words,
            )
    items = rows[: query.limit]
    more = len(rows) > query.limit
    return HistoryPage(
        items=tuple(_entry(r) for r in items), next_before_id=items[-1]["id"] if more else None
    )


# A last word this short, after whole words, is left to the substring test: as a word beginning it would
# match a good part of every path's words ("1" begins 1, 10, 1999…), which the words index reads one by one.
SHORT_PREFIX = 3
ASCII_WORD = re.compile(r"[a-z0-9]+(:\*)?")


def words_query(search: str) -> str:
    """The words of a search, for the words index (migration 0003), which narrows the rows before the substring
    test keeps exactly what the user typed. The search begins at a word's beginning, and its text is in the
    path as typed, so every word but the last is a whole word there (a separator follows it); the last one
    is a word beginning, unless a separator ends the search too. Whole words are looked up as they are,
    never as beginnings: one entry of the index each, not every word that begins so. A word with letters
    outside ASCII is left to the substring test (how PostgreSQL's parser splits it depends on the database's
    locale). '' when no word narrows anything (the substring alone decides)."""
    words = re.findall(r"[^\W_]+", search.lower())
    if not words:
        return ""
    last_is_whole = not re.search(r"[^\W_]$", search)
    terms = [*words[:-1]]
    if last_is_whole:
        terms.append(words[-1])
    elif len(words[-1]) >= SHORT_PREFIX or len(words) == 1:
        terms.append(f"{words[-1]}:*")
    return " & ".join(t for t in terms if ASCII_WORD.fullmatch(t))


async def stats(pool: asyncpg.Pool) -> Stats:
    """The totals, from the rows the triggers of migration 0007 keep per status (not a scan of the history)."""
    row = await pool.fetchrow(
        "SELECT coalesce(sum(files) FILTER (WHERE status = 'done'), 0)::bigint AS encoded,"
        " coalesce(sum(files) FILTER (WHERE status = 'skipped'), 0)::bigint AS skipped,"
        " coalesce(sum(bytes_before) FILTER (WHERE status = 'done'), 0)::bigint AS before,"
        " coalesce(sum(bytes_after) FILTER (WHERE status = 'done'), 0)::bigint AS after,"
        " coalesce(sum(reduction_sum) FILTER (WHERE status = 'done')"
        "   / nullif(sum(reductions) FILTER (WHERE status = 'done'), 0), 0)::float8 AS reduction"
        " FROM transcode_totals"
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
