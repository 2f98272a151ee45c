"""The servers ``librarrarian up`` runs for itself, set up as a cluster's are: NATS with one user per role and
the same permissions as ``deploy/nats.conf``; PostgreSQL where every login needs its password and each
service has a role of its own (made by the provisioning step)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from librarrarian_contracts import nats_config
from librarrarian_contracts.permissions import users
from librarrarian_embedded import NatsServer, PostgresServer
from librarrarian_embedded.nats_server import free_port
from librarrarian_runtime.database_roles import SCHEMAS, login_url, role_of, scram_verifier

from .secrets_file import POSTGRES_ADMIN, nats_key, postgres_key

log = logging.getLogger(__name__)

DATABASE = "librarrarian"
SUPERUSER = "postgres"  # the pgserver wheel's
# Every login over the socket needs its password: the socket may lie in a folder other users of the machine
# can reach (pgserver moves it out of a data directory whose path is too long for a socket).
HBA = "# Written by librarrarian up: every login needs its password.\nlocal all all scram-sha-256\n"


@dataclass(frozen=True)
class Nats:
    server: NatsServer
    urls: dict[str, str]  # user -> URL with its credentials


@dataclass(frozen=True)
class Postgres:
    server: PostgresServer
    admin_url: str  # the superuser's, on the librarrarian database: for the provisioning step only
    urls: dict[str, str]  # service -> URL of its role


async def start_nats(data_dir: Path, creds: dict[str, str], remote_nodes: Sequence[str] = ()) -> Nats:
    """``remote_nodes``: a user for each node without the library (its password in ``creds``)."""
    authorization = nats_config.authorization(
        lambda user: nats_config.literal(creds[nats_key(user)]), remote_nodes
    )
    server = NatsServer(data_dir, authorization=authorization, monitor_port=free_port())
    await asyncio.to_thread(server.start)
    log.info(
        "started NATS with JetStream on 127.0.0.1:%d (monitoring on 127.0.0.1:%d), a user per role",
        server.port,
        server.monitor_port,
    )
    urls = {user: server.url_as(user, creds[nats_key(user)]) for user in users(remote_nodes)}
    return Nats(server, urls)


async def start_postgres(data_dir: Path, creds: dict[str, str]) -> Postgres:
    server = PostgresServer(data_dir)
    await asyncio.to_thread(server.start)
    try:
        admin = login_url(server.uri(), SUPERUSER, creds[POSTGRES_ADMIN])
        await require_passwords(admin, creds[POSTGRES_ADMIN])
        await ensure_database(admin, DATABASE)
    except BaseException:
        await asyncio.to_thread(server.stop)
        raise
    base = server.uri(DATABASE)
    urls = {s: login_url(base, role_of(s), creds[postgres_key(s)]) for s in SCHEMAS}
    log.info("started PostgreSQL in %s, a role per service", data_dir)
    return Postgres(server, login_url(base, SUPERUSER, creds[POSTGRES_ADMIN]), urls)


async def require_passwords(admin_url: str, password: str) -> None:
    """Give the superuser its password and make the server ask every login for one. The first start after
    ``initdb`` trusts the socket, and ignores the password in ``admin_url``; every later one checks it."""
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f"ALTER ROLE {SUPERUSER} PASSWORD '{scram_verifier(password)}'")
        hba_file = Path(await conn.fetchval("SHOW hba_file"))
        if await asyncio.to_thread(_replace_text, hba_file, HBA):
            await conn.execute("SELECT pg_reload_conf()")
            log.info("PostgreSQL now asks every login for its password")
    finally:
        await conn.close()


async def ensure_database(admin_url: str, database: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{database}"')
            log.info("created database %s", database)
    finally:
        await conn.close()


def _replace_text(path: Path, text: str) -> bool:
    """Write ``text`` to ``path`` unless it holds it already; whether it wrote."""
    if path.read_text() == text:
        return False
    path.write_text(text)
    return True
