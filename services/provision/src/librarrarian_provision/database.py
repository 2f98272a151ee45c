"""Each service's PostgreSQL role: it logs in with its password, owns its schema and what is in it, and may
reach nothing else (no other schema, no new schemas, nothing in ``public``)."""

from __future__ import annotations

import logging
import re
import zlib
from collections.abc import Mapping

import asyncpg
from librarrarian_runtime.database_roles import SCHEMAS, role_of, scram_verifier

log = logging.getLogger(__name__)

LOCK = zlib.crc32(b"librarrarian:provision:roles")
NAME = re.compile(r"[a-z_]+")

# What an older installation created in a schema as the admin, that the service's role must own to migrate
# it. A sequence that belongs to a column follows its table.
OWNED_BY_OTHERS = """
SELECT CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE'
                      WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END AS kind,
       format('%I.%I', n.nspname, c.relname) AS name
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND c.relowner <> $2::regrole
  AND NOT (c.relkind = 'S' AND EXISTS (
      SELECT 1 FROM pg_depend d
      WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i')))
UNION ALL
SELECT 'ROUTINE', p.oid::regprocedure::text
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = $1 AND p.proowner <> $2::regrole
UNION ALL
SELECT CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, t.oid::regtype::text
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE n.nspname = $1 AND t.typtype IN ('e', 'd', 'r', 'm') AND t.typowner <> $2::regrole
"""


async def provision(admin_url: str, passwords: Mapping[str, str]) -> None:
    """Create or update every service's role (its password as given) and hand it its schema."""
    missing = [s for s in SCHEMAS if not passwords.get(s)]
    if missing:
        raise ValueError(f"no password for the database role of {', '.join(missing)}")
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", LOCK)  # two provisioning steps at once: one waits
        for service in SCHEMAS:
            await _role(conn, role_of(service), passwords[service])
            await hand_schema(conn, service, role_of(service))
        # Before PostgreSQL 15 anyone may create tables in public: a service could leave data where all see it.
        await conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    finally:
        await conn.close()


async def _role(conn: asyncpg.Connection, role: str, password: str) -> None:
    exists = await conn.fetchval("SELECT true FROM pg_roles WHERE rolname = $1", role)
    verifier = scram_verifier(password)
    assert "'" not in verifier and NAME.fullmatch(role)
    await conn.execute(
        f"{'ALTER' if exists else 'CREATE'} ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE"
        f" NOREPLICATION NOBYPASSRLS NOINHERIT PASSWORD '{verifier}'"
    )
    if not exists:
        log.info("created database role %s", role)


async def hand_schema(conn: asyncpg.Connection, schema: str, role: str) -> None:
    """Make ``role`` own ``schema`` and everything in it (also after a restore loaded it as the admin)."""
    assert NAME.fullmatch(schema)
    await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema} AUTHORIZATION {role}")
    await conn.execute(f"ALTER SCHEMA {schema} OWNER TO {role}")
    await conn.execute(f"REVOKE ALL ON SCHEMA {schema} FROM PUBLIC")
    handed = 0
    for row in await conn.fetch(OWNED_BY_OTHERS, schema, role):
        await conn.execute(f"ALTER {row['kind']} {row['name']} OWNER TO {role}")
        handed += 1
    if handed:
        log.info("handed %d objects of schema %s to %s", handed, schema, role)
