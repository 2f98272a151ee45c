"""A pass of the outbox relay reads what it publishes, not every transcode held back: while no node takes
work, thousands wait unsent, and each new job wakes the relay (``make load`` showed the intake slowing down
as they piled up). Each of its look-ups reads a handful of rows however many wait."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import asyncpg
import pytest
from librarrarian_contracts import topology
from librarrarian_contracts.topology import HwClass
from librarrarian_runtime.migrations import connect_and_migrate
from librarrarian_scheduler import relay

HELD = 5000
CPU = topology.WORK_CONSUMERS[HwClass.CPU].filter_subject


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await connect_and_migrate(database_url, "scheduler", "librarrarian_scheduler.migrations")
    try:
        yield pool
    finally:
        await pool.close()


def rows_read(plan: dict[str, object]) -> int:
    """Rows every node of the plan produced or threw away."""
    own = sum(
        int(plan.get(k, 0))
        for k in ("Actual Rows", "Rows Removed by Filter", "Rows Removed by Index Recheck")
    )  # type: ignore[call-overload]
    return own + sum(rows_read(child) for child in plan.get("Plans", []))  # type: ignore[attr-defined]


async def read(conn: asyncpg.Connection, sql: str, *args: object) -> int:
    raw = await conn.fetchval("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, *args)
    return rows_read(json.loads(raw)[0]["Plan"])


async def test_a_pass_reads_a_few_rows_however_many_transcodes_wait(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO outbox (subject, msg_id, payload) SELECT $1, 'work:' || g, '\\x00'::bytea"
            " FROM generate_series(1, $2) g",
            CPU,
            HELD,
        )
        await conn.execute(
            "INSERT INTO outbox (subject, msg_id, payload) VALUES ($1, 'state:1', '\\x00'::bytea)",
            topology.JOB_STATE_CHANGED,
        )
        await conn.execute("ANALYZE outbox")
        assert await read(conn, relay.DUE_OTHERS, relay.BATCH) <= 10
        assert await read(conn, relay.DUE_TRANSCODES, CPU) <= 10
        # What they answer is still right: the one other row is due, and the CPU class has transcodes.
        others = await conn.fetch(relay.DUE_OTHERS, relay.BATCH)
        assert [r["msg_id"] for r in others] == ["state:1"]
        assert await conn.fetchval(relay.DUE_TRANSCODES, CPU) is True
        nvenc = topology.WORK_CONSUMERS[HwClass.NVENC].filter_subject
        assert await conn.fetchval(relay.DUE_TRANSCODES, nvenc) is False
