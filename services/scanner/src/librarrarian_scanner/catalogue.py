"""The scanner's record of every file it has looked at, so unchanged files are not probed again."""

from __future__ import annotations

from pathlib import Path

import asyncpg
from librarrarian_contracts import FileIdentity, MediaProbe, encode


async def known(pool: asyncpg.Pool, library: Path) -> dict[str, tuple[int, int, int]]:
    """path → (size, mtime_ns, inode) of every catalogued file of a library."""
    rows = await pool.fetch("SELECT path, size, mtime_ns, inode FROM files WHERE library = $1", str(library))
    return {r["path"]: (r["size"], r["mtime_ns"], r["inode"]) for r in rows}


async def record(
    pool: asyncpg.Pool,
    path: Path,
    library: Path,
    identity: FileIdentity,
    probe: MediaProbe | None,
    error: str | None,
) -> None:
    await pool.execute(
        "INSERT INTO files (path, library, size, mtime_ns, inode, status, probe, error)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        " ON CONFLICT (path) DO UPDATE SET library = $2, size = $3, mtime_ns = $4, inode = $5, status = $6,"
        " probe = $7, error = $8, probed_at = now(), seen_at = now()",
        str(path),
        str(library),
        identity.size,
        identity.mtime_ns,
        identity.inode,
        "ok" if probe else "error",
        encode(probe).decode() if probe else None,
        error,
    )


async def forget(pool: asyncpg.Pool, paths: list[str]) -> None:
    if paths:
        await pool.execute("DELETE FROM files WHERE path = ANY($1)", paths)
