"""The database side of a backup, with PostgreSQL's own tools: ``pg_dump`` of every service schema (custom
format, without owners or grants: the provisioning step hands each schema to its role again), and a restore
that drops those schemas and loads the dump in one ``psql --single-transaction``, so an error leaves the
database as it was.

The tools come from the embedded server's wheel (``pgserver``) when ``librarrarian up`` runs the database;
for a server of your own, the newer of PATH's and the wheel's (they must not be older than the server). Passwords reach them in
``PGPASSWORD``, never in an argument list that any user of the machine can read in ``/proc``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

import asyncpg
from librarrarian_runtime.database_roles import role_of

log = logging.getLogger(__name__)

# Which migrations each schema has, read where the services read them.
MIGRATIONS = "librarrarian_{schema}.migrations"


class ToolFailed(RuntimeError):
    """A PostgreSQL tool exited with an error; the message holds its last lines (never a password)."""


def embedded_bin() -> Path | None:
    """The folder of the embedded server's own tools, when the ``pgserver`` wheel is installed."""
    try:
        import pgserver
    except ImportError:
        return None
    folder = Path(pgserver.__file__).parent / "pginstall" / "bin"
    return folder if (folder / "pg_dump").exists() else None


def tool(name: str, bin_dir: Path | None) -> str:
    """The tool in ``bin_dir``; else the newer of PATH's and the wheel's (a tool refuses a server newer
    than itself, and a distribution's may be older than the server: Debian 12 ships 15)."""
    if bin_dir is not None:
        return str(bin_dir / name)
    embedded = embedded_bin()
    found = [p for p in (shutil.which(name), embedded and str(embedded / name)) if p]
    if not found:
        raise ToolFailed(f"{name} is not on PATH: install PostgreSQL's client tools (as new as the server)")
    return max(found, key=major_version)


@functools.cache
def major_version(path: str) -> int:
    """A PostgreSQL tool's major version (``pg_dump (PostgreSQL) 16.2`` → 16; 0 if it does not say); asked
    once per tool and process, so the few milliseconds it blocks do not recur."""
    try:
        said = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return 0
    match = re.search(r"\) (\d+)", said.stdout)
    return int(match.group(1)) if match else 0


def libpq(url: str) -> tuple[str, dict[str, str]]:
    """``url`` without its password, and the environment that gives the password to a libpq tool."""
    parts = urlsplit(url)
    userinfo, at, host = parts.netloc.rpartition("@")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    user, _, password = userinfo.partition(":")
    if password:
        env["PGPASSWORD"] = unquote(password)
    netloc = f"{user}{at}{host}" if at else host
    return urlunsplit(parts._replace(netloc=netloc)), env


async def run_tool(argv: Sequence[str], env: Mapping[str, str], stdin_path: Path | None = None) -> None:
    stdin = stdin_path.open("rb") if stdin_path is not None else asyncio.subprocess.DEVNULL
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            env=dict(env),
            stdin=stdin,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await process.communicate()
    finally:
        if stdin_path is not None and not isinstance(stdin, int):
            stdin.close()
    if process.returncode != 0:
        tail = " ".join(err.decode(errors="replace").strip().splitlines()[-3:])
        raise ToolFailed(f"{Path(argv[0]).name} failed (exit {process.returncode}): {tail}")


async def schema_versions(url: str, schemas: Sequence[str]) -> dict[str, int]:
    """Each existing schema's newest applied migration (0 when it has none yet)."""
    conn = await asyncpg.connect(url)
    try:
        found = {}
        for schema in schemas:
            if not await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", f"{schema}.schema_migrations"):
                continue
            found[schema] = await conn.fetchval(
                f"SELECT coalesce(max(version), 0) FROM {schema}.schema_migrations"
            )
        return found
    finally:
        await conn.close()


async def server_version(url: str) -> str:
    conn = await asyncpg.connect(url)
    try:
        return str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()


async def dump(url: str, schemas: Sequence[str], target: Path, bin_dir: Path | None) -> None:
    dsn, env = libpq(url)
    argv = [tool("pg_dump", bin_dir), "--format=custom", "--no-owner", "--no-privileges", f"--file={target}"]
    argv += [f"--schema={schema}" for schema in schemas]
    await run_tool([*argv, f"--dbname={dsn}"], env)


async def check_dump(path: Path, bin_dir: Path | None) -> None:
    """``pg_restore --list`` reads the dump's table of contents: a dump it cannot read is refused."""
    await run_tool([tool("pg_restore", bin_dir), "--list", str(path)], {})


async def other_sessions(url: str) -> list[str]:
    """Who else is connected to the database (a restore under a running service would pull the records
    from under it): ``role (n)`` for each."""
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT usename, count(*) AS n FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND backend_type = 'client backend' GROUP BY usename ORDER BY usename"
        )
        return [f"{r['usename']} ({r['n']})" for r in rows]
    finally:
        await conn.close()


async def replace(
    url: str, schemas: Sequence[str], dump_path: Path, folder: Path, bin_dir: Path | None
) -> None:
    """Drop ``schemas`` and load the dump in their place, in one transaction: all of it or nothing."""
    dsn, env = libpq(url)
    script = folder / "restore.sql"
    await run_tool(
        [tool("pg_restore", bin_dir), "--no-owner", "--no-privileges", f"--file={script}", str(dump_path)], {}
    )
    preamble = folder / "drop.sql"
    preamble.write_text("".join(f"DROP SCHEMA IF EXISTS {schema} CASCADE;\n" for schema in schemas))
    psql = [tool("psql", bin_dir), "--no-psqlrc", "--quiet", "--single-transaction", "--set=ON_ERROR_STOP=1"]
    await run_tool([*psql, f"--file={preamble}", f"--file={script}", f"--dbname={dsn}"], env)


async def hand_to_roles(url: str, schemas: Sequence[str]) -> None:
    """Give each restored schema back to its service's role, when the server has those roles (the dump
    was loaded by the admin, without owners): what the provisioning step does, without touching passwords."""
    from librarrarian_provision import database as provisioning

    conn = await asyncpg.connect(url)
    try:
        for schema in schemas:
            if await conn.fetchval("SELECT true FROM pg_roles WHERE rolname = $1", role_of(schema)):
                await provisioning.hand_schema(conn, schema, role_of(schema))
    finally:
        await conn.close()
