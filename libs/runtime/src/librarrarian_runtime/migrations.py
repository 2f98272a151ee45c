"""Numbered SQL migrations per service schema, applied at start under an advisory lock.

Safe to run twice and from several processes at once: the lock serialises them and each file is
recorded in ``<schema>.schema_migrations`` in the same transaction that applies it.
"""

from __future__ import annotations

import logging
import re
import zlib
from importlib import resources

import asyncpg

log = logging.getLogger(__name__)

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def migration_files(package: str) -> list[tuple[int, str, str]]:
    """(version, name, sql) of every ``NNNN_name.sql`` file in ``package``, in order."""
    found = []
    for entry in resources.files(package).iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text()))
    found.sort()
    versions = [v for v, _, _ in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration numbers in {package}")
    return found


async def migrate(conn: asyncpg.Connection, schema: str, package: str) -> list[str]:
    """Apply the pending migrations of ``package`` to ``schema``; return the names applied."""
    if not re.fullmatch(r"[a-z_]+", schema):
        raise ValueError(f"bad schema name {schema!r}")
    lock_key = zlib.crc32(f"librarrarian:migrate:{schema}".encode())
    applied: list[str] = []
    await conn.execute("SELECT pg_advisory_lock($1)", lock_key)
    try:
        # A service's role may not create schemas: provisioning made its own, which it owns. Only a server
        # without roles (a test's, or one login for everything) gets the schema created here.
        if not await conn.fetchval("SELECT true FROM pg_namespace WHERE nspname = $1", schema):
            await conn.execute(f"CREATE SCHEMA {schema}")
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {schema}.schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["version"] for r in await conn.fetch(f"SELECT version FROM {schema}.schema_migrations")}
        for version, name, sql in migration_files(package):
            if version in done:
                continue
            async with conn.transaction():
                await conn.execute(f"SET LOCAL search_path TO {schema}")
                await conn.execute(sql)
                await conn.execute(
                    f"INSERT INTO {schema}.schema_migrations (version, name) VALUES ($1, $2)", version, name
                )
            log.info("applied migration %s.%s", schema, name)
            applied.append(name)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", lock_key)
    return applied


async def connect_and_migrate(dsn: str, schema: str, package: str, **pool_args: object) -> asyncpg.Pool:
    """Open a pool whose connections use ``schema`` first, after applying its migrations."""
    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn, schema, package)
    finally:
        await conn.close()
    # One connection open at rest, more on demand (up to asyncpg's ten, idle ones closed after five
    # minutes): asyncpg's default of ten open at start made some forty idle PostgreSQL backends on one
    # machine running every service.
    pool = await asyncpg.create_pool(
        dsn,
        server_settings={"search_path": schema},
        **{"min_size": 1, **pool_args},
    )
    assert pool is not None
    return pool
