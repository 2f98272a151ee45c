"""``librarrarian up``: one machine, zero set-up. Starts NATS and PostgreSQL of its own (unless
``NATS_URL`` / ``DATABASE_URL`` point elsewhere), every service and one encoder, prints the dashboard URL,
and on Ctrl-C or SIGTERM stops all of it."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from librarrarian_embedded import NatsServer, PostgresServer
from librarrarian_runtime import lifecycle

from . import secrets_file
from .supervisor import Child, Supervisor

log = logging.getLogger("librarrarian.up")

DATABASE = "librarrarian"
ENCODER_GRACE_SECONDS = 20


class UpError(RuntimeError):
    """Something the user must fix before the cluster can start; the message says what."""


@dataclass(frozen=True)
class Options:
    media: tuple[Path, ...]
    data_dir: Path
    port: int = 5000
    host: str = "127.0.0.1"


def check_options(options: Options) -> None:
    if not options.media:
        raise UpError("no media folder: pass --media DIR (or set MEDIA_PATHS)")
    for path in options.media:
        if not path.is_dir():
            raise UpError(f"media folder {path} does not exist (create it or pass another --media)")
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((options.host, options.port))
        except OSError as error:
            raise UpError(
                f"port {options.port} on {options.host} is not free ({error.strerror}): pass --port"
            ) from None


async def ensure_database(admin_url: str, database: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{database}"')
            log.info("created database %s", database)
    finally:
        await conn.close()


def children(options: Options, nats_url: str, database_url: str, creds: Mapping[str, str]) -> list[Child]:
    """Every service as its own process. Listed in stop order: work producers and the encoder first."""
    base = {
        **os.environ,
        "NATS_URL": nats_url,
        "DATABASE_URL": database_url,
        "MEDIA_PATHS": ":".join(str(p) for p in options.media),
        "PYTHONUNBUFFERED": "1",
    }
    python = sys.executable

    def child(name: str, extra: Mapping[str, str] | None = None, stop_timeout: float = 15.0) -> Child:
        return Child(name, [python, "-m", f"librarrarian_{name}"], {**base, **(extra or {})}, stop_timeout)

    return [
        child(
            "encoder",
            {"GRACE_SECONDS": str(ENCODER_GRACE_SECONDS)},
            stop_timeout=ENCODER_GRACE_SECONDS + 10,
        ),
        child("scanner"),
        child("cleanup"),
        child(
            "gateway",
            {
                "HOST": options.host,
                "PORT": str(options.port),
                "LOCAL_USER": creds["admin_user"],
                "LOCAL_PASSWORD": creds["admin_password"],
                "API_KEY": creds["api_key"],
            },
        ),
        child("scheduler"),
        child("history"),
    ]


async def wait_for_port(host: str, port: int, timeout: float, stopping: asyncio.Event) -> bool:
    """True once something accepts connections on the port; False at the deadline or when asked to stop."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline and not stopping.is_set():
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 1.0)
        except (OSError, TimeoutError):
            await lifecycle.wait_or_stop(stopping, 0.2)
            continue
        writer.close()
        return True
    return False


async def run(options: Options) -> None:
    check_options(options)
    stopping = lifecycle.stop_event()
    options.data_dir.mkdir(parents=True, exist_ok=True)
    creds = secrets_file.load_or_create(options.data_dir)

    nats: NatsServer | None = None
    postgres: PostgresServer | None = None
    try:
        nats_url = os.environ.get("NATS_URL")
        if nats_url:
            log.info("using the NATS server at NATS_URL")
        else:
            nats = NatsServer(options.data_dir / "nats", password=creds["nats_password"])
            await asyncio.to_thread(nats.start)
            nats_url = nats.url
            log.info("started NATS with JetStream on 127.0.0.1:%d", nats.port)

        database_url = os.environ.get("DATABASE_URL")
        if database_url:
            log.info("using the PostgreSQL server at DATABASE_URL")
        else:
            postgres = PostgresServer(options.data_dir / "postgres")
            await asyncio.to_thread(postgres.start)
            await ensure_database(postgres.uri(), DATABASE)
            database_url = postgres.uri(DATABASE)
            log.info("started PostgreSQL in %s", options.data_dir / "postgres")

        supervisor = Supervisor(children(options, nats_url, database_url, creds))
        supervised = asyncio.create_task(supervisor.run(stopping))
        shown_host = "localhost" if options.host in {"127.0.0.1", "0.0.0.0"} else options.host
        if await wait_for_port(options.host, options.port, timeout=60, stopping=stopping):
            print(
                f"\n  Librarrarian is running: http://{shown_host}:{options.port}/\n"
                f"  Log in as {creds['admin_user']!r}; the password and an API key are in "
                f"{options.data_dir / secrets_file.FILE_NAME}\n  Ctrl-C stops everything.\n",
                flush=True,
            )
        elif not stopping.is_set():
            log.error("the gateway did not open port %d within 60 s; see the log above", options.port)
        await supervised
    finally:
        if nats is not None:
            nats.stop()
            log.info("stopped NATS")
        if postgres is not None:
            await asyncio.to_thread(postgres.stop)
            log.info("stopped PostgreSQL")
