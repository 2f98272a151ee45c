"""The queue's order: which waiting transcode the relay releases next into a hardware class's few places in
the WORK stream (encoders take work in stream order, so only what is still in the scheduler's hands can be
reordered), and a user's moves to the top or bottom.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
from librarrarian_contracts import MediaProbe
from librarrarian_contracts.settings import LibraryFolder, QueueOrderBy
from librarrarian_contracts.views import ActionResult, MoveJob
from librarrarian_runtime.errors import Conflict, NotFound

# What an HEVC encode at the default quality needs, in bits per pixel and second (about 0.06 bit per pixel
# per frame at 25 frames a second): a source far above it shrinks most, one near it hardly at all.
TARGET_BITS_PER_PIXEL_SECOND = 1.5


def benefit(probe: MediaProbe, size: int) -> float | None:
    """The expected saving in bytes: the share of the bit rate above what the target needs, times the size;
    None when the probe does not say the picture's size (such jobs go after the others in this order)."""
    if not probe.width or not probe.height:
        return None
    bit_rate = probe.bit_rate
    if not bit_rate and probe.duration:
        bit_rate = int(size * 8 / probe.duration)
    if not bit_rate:
        return None
    per_pixel = bit_rate / (probe.width * probe.height)
    return size * max(0.0, 1.0 - TARGET_BITS_PER_PIXEL_SECOND / per_pixel)


# Moved by hand first: the last moved to the top leads, the last moved to the bottom trails.
_PINNED = (
    "j.pinned DESC, CASE WHEN j.pinned > 0 THEN j.pinned_at END DESC NULLS LAST,"
    " CASE WHEN j.pinned < 0 THEN j.pinned_at END ASC NULLS FIRST"
)
_BY = {
    "benefit": "j.benefit DESC NULLS LAST, j.id",
    "age": "j.id",
    "folder": "coalesce(f.priority, 0) DESC, j.id",
}

# The next unsent work rows of one subject, in the queue's order. $1 subject, $2 how many, $3/$4 the folders'
# paths and priorities.
NEXT = """
SELECT o.id, o.subject, o.msg_id, o.payload
FROM outbox o
LEFT JOIN jobs j ON j.id = o.job_id
LEFT JOIN unnest($3::text[], $4::int[]) AS f(path, priority) ON f.path = j.library
WHERE o.sent_at IS NULL AND o.not_before <= now() AND o.subject = $1
ORDER BY {order}, o.id
LIMIT $2
"""


def next_rows_query(order: QueueOrderBy) -> str:
    return NEXT.format(order=f"{_PINNED}, {_BY[order]}")


def folder_priorities(folders: Sequence[LibraryFolder]) -> tuple[list[str], list[int]]:
    return [f.path for f in folders], [f.priority for f in folders]


async def move(pool: asyncpg.Pool, request: MoveJob) -> ActionResult:
    """Put a pending transcode first (or last) among those the scheduler still holds. One already released
    into the stream (the next few of its class) keeps its place there: the answer says so."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow("SELECT kind, status FROM jobs WHERE id = $1 FOR UPDATE", request.job_id)
        if row is None:
            raise NotFound(f"no job {request.job_id}")
        if row["kind"] != "transcode" or row["status"] != "pending":
            raise Conflict(f"job {request.job_id} is {row['status']}: only a waiting transcode moves")
        await conn.execute(
            "UPDATE jobs SET pinned = $2, pinned_at = clock_timestamp() WHERE id = $1",
            request.job_id,
            1 if request.to == "top" else -1,
        )
        held = await conn.fetchval(
            "SELECT true FROM outbox WHERE job_id = $1 AND sent_at IS NULL", request.job_id
        )
    if held:
        return ActionResult(detail=f"moved to the {request.to}")
    return ActionResult(
        detail=f"moved to the {request.to}; already handed to the encoders, it keeps its place there"
    )
