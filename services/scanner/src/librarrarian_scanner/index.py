"""What the catalogue holds of each file, in memory: path → (size, mtime_ns, inode, links), so that a rescan
is a ``stat`` of every file and one dict lookup each, not a read of the whole catalogue per scan.

The catalogue in PostgreSQL stays the record. The index is read from it once (at the first scan after a
start, in chunks, as plain tuples: about 350 bytes a file), then follows every write this scanner makes to
it. It is trusted only to say that a file is *unchanged*: files it calls new or changed are looked up in
the catalogue before they are probed, so an index behind the record (another replica's writes) costs one
query, never a probe too many or a file forgotten by mistake.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path

import asyncpg

from .walk import Identity

# Rows read per round trip while loading: enough to keep the transfer streaming, few enough that the
# records in flight stay a few megabytes at a million files.
LOAD_CHUNK = 50_000


class Index:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.files: dict[str, Identity] | None = None  # None: not read yet
        self._loading = asyncio.Lock()

    async def load(self) -> dict[str, Identity]:
        """The index, read from the catalogue the first time."""
        async with self._loading:
            if self.files is None:
                self.files = await read_catalogue(self.pool)
            return self.files

    def drop(self) -> None:
        """Forget the index: the next scan reads the catalogue again (after a write that may have failed
        half-way, the record is what counts)."""
        self.files = None

    def recorded(self, entries: Iterable[tuple[str, Identity]]) -> None:
        if self.files is not None:
            self.files.update(entries)

    def forgotten(self, paths: Iterable[str]) -> None:
        if self.files is not None:
            for path in paths:
                self.files.pop(path, None)

    def moved(self, old: str, new: str) -> None:
        if self.files is not None and old in self.files:
            self.files[new] = self.files.pop(old)

    def under(self, roots: tuple[Path, ...]) -> list[str]:
        """The indexed paths at or below ``roots``."""
        files = self.files or {}
        exact = {str(r) for r in roots}
        prefixes = tuple(str(r).rstrip("/") + "/" for r in roots)
        return [p for p in files if p.startswith(prefixes) or p in exact]


async def read_catalogue(pool: asyncpg.Pool) -> dict[str, Identity]:
    """path → identity of every catalogued file, read in chunks so no full result set is held at once."""
    files: dict[str, Identity] = {}
    async with pool.acquire() as conn, conn.transaction():
        cursor = await conn.cursor("SELECT path, size, mtime_ns, inode, links FROM files")
        while rows := await cursor.fetch(LOAD_CHUNK):
            files.update((r[0], (r[1], r[2], r[3], r[4])) for r in rows)
    return files
