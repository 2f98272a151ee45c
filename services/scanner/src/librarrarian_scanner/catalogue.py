"""The scanner's record of every file it has looked at, so unchanged files are not probed again."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
from librarrarian_contracts import FileIdentity, MediaProbe, encode

from .walk import Found, Identity, identity_key


async def identities(pool: asyncpg.Pool, paths: list[str]) -> dict[str, Identity]:
    """path → (size, mtime_ns, inode, links) of the catalogued files among ``paths`` (exact paths: one
    primary-key lookup each)."""
    if not paths:
        return {}
    rows = await pool.fetch(
        "SELECT path, size, mtime_ns, inode, links FROM files WHERE path = ANY($1)", paths
    )
    return {r[0]: (r[1], r[2], r[3], r[4]) for r in rows}


@dataclass(frozen=True)
class Outcome:
    """What probing one file gave: a probe, or the reason it failed."""

    found: Found
    probe: MediaProbe | None
    error: str | None
    fingerprint: str | None = None


async def record_many(pool: asyncpg.Pool, outcomes: list[Outcome]) -> None:
    await pool.executemany(
        "INSERT INTO files (path, library, size, mtime_ns, inode, status, probe, error, fingerprint, links)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        " ON CONFLICT (path) DO UPDATE SET library = $2, size = $3, mtime_ns = $4, inode = $5, status = $6,"
        " probe = $7, error = $8, fingerprint = $9, links = $10, probed_at = now(), seen_at = now()",
        [
            (
                str(o.found.path),
                str(o.found.library),
                o.found.identity.size,
                o.found.identity.mtime_ns,
                o.found.identity.inode,
                "ok" if o.probe is not None else "error",
                encode(o.probe).decode() if o.probe is not None else None,
                o.error,
                o.fingerprint,
                o.found.identity.links,
            )
            for o in outcomes
        ],
    )


async def forget(pool: asyncpg.Pool, paths: list[str]) -> None:
    if paths:
        await pool.execute("DELETE FROM files WHERE path = ANY($1)", paths)


async def move(pool: asyncpg.Pool, old: str, new: str, identity: FileIdentity, library: str) -> bool:
    """Move the record of ``old`` to ``new`` when it is the same file (size, mtime and inode unchanged by a
    rename): the file keeps what we know of it and is not probed as new. False when there is no such record,
    or it records another file; a record already made for ``new`` (the watch was quicker) wins."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "SELECT size, mtime_ns, inode, links FROM files WHERE path = $1 FOR UPDATE", old
        )
        if row is None or tuple(row.values()) != identity_key(identity):
            return False
        if await conn.fetchval("SELECT true FROM files WHERE path = $1", new):
            await conn.execute("DELETE FROM files WHERE path = $1", old)
        else:
            await conn.execute(
                "UPDATE files SET path = $2, library = $3, seen_at = now() WHERE path = $1", old, new, library
            )
    return True
