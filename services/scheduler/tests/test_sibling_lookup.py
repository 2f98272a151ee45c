"""The look-up every reported file goes through (a sibling in flight: the same name with another extension)
answers from an index, not by reading every job: with thousands of jobs of record, a library's intake would
otherwise slow down with each job it adds (the load run, ``make load``, showed it). And it still finds
exactly the siblings: another extension in the same folder, not a longer name or a file in a sub-folder."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import asyncpg
import pytest
from librarrarian_runtime.migrations import connect_and_migrate
from librarrarian_scheduler import store

JOBS = 5000


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await connect_and_migrate(database_url, "scheduler", "librarrarian_scheduler.migrations")
    try:
        yield pool
    finally:
        await pool.close()


async def add(conn: asyncpg.Connection, paths: list[str], status: str = "pending") -> None:
    await conn.executemany(
        "INSERT INTO jobs (path, status, source_size, source_mtime_ns, source_inode) VALUES ($1, $2, 1, 1, 1)",
        [(p, status) for p in paths],
    )


def nodes(plan: dict[str, object]) -> list[dict[str, object]]:
    out = [plan]
    for child in plan.get("Plans", []):  # type: ignore[attr-defined]
        out += nodes(child)
    return out


@pytest.mark.parametrize("statement", [store.SIBLING_IN_FLIGHT, store.LOOKUPS])
async def test_the_lookup_reads_an_index_not_every_job(pool: asyncpg.Pool, statement: str) -> None:
    async with pool.acquire() as conn:
        await add(conn, [f"/m/Show/Episode {n:05d}.mkv" for n in range(JOBS)])
        await add(conn, [f"/m/Done/Film {n:05d}.mkv" for n in range(JOBS)], status="done")
        await conn.execute("ANALYZE jobs")
        path = "/m/Show/Episode 04321.avi"
        low, high = store.sibling_range(path) or ("", "")
        raw = await conn.fetchval("EXPLAIN (FORMAT JSON) " + statement, path, low, high)
        plan = json.loads(raw)[0]["Plan"]
        # (The holds, a handful of rows, may be read whole.)
        kinds = [str(n["Node Type"]) for n in nodes(plan) if n.get("Relation Name") in (None, "jobs")]
        assert "Seq Scan" not in kinds, kinds
        assert any("Index" in k for k in kinds), kinds
        assert await store.sibling_in_flight(conn, path)
        assert (await store.lookups(conn, path)).sibling_in_flight


@pytest.mark.parametrize(
    ("in_flight", "reported", "sibling"),
    [
        ("/m/Film (2020).avi", "/m/Film (2020).mkv", True),
        ("/m/Film (2020).mkv", "/m/Film (2020).mkv", False),  # itself
        ("/m/Film (2020)/Extra.mkv", "/m/Film (2020).mkv", False),  # in a folder of that name
        ("/m/Film (2020) Extended.avi", "/m/Film (2020).mkv", False),  # a longer name
        ("/m/Film (2020).avi", "/m/Film (2020)", False),  # no extension
        ("/m/Éte.avi", "/m/Éte.mkv", True),  # beyond ASCII, byte order still a range
        ("/m/Film.avi", "/m/film.mkv", False),  # another name for a case-sensitive file system
    ],
)
async def test_a_sibling_is_the_same_name_with_another_extension(
    pool: asyncpg.Pool, in_flight: str, reported: str, sibling: bool
) -> None:
    async with pool.acquire() as conn:
        await add(conn, [in_flight])
        assert await store.sibling_in_flight(conn, reported) is sibling
        assert (await store.lookups(conn, reported)).sibling_in_flight is sibling
