"""``librarrarian backup`` (``--daily``: the daily duty, for a cluster) and ``librarrarian restore FILE``, from
the command line.

On the embedded default they use the data directory's servers: a backup works while ``librarrarian up``
runs (``pg_dump`` reads a consistent snapshot); a restore refuses then (Tools → Backups restores with the
services stopped around it), and otherwise starts the servers, sets up a fresh directory as ``up`` would,
restores, and stops them. In a cluster, ``DATABASE_URL`` is the admin login (the provisioning step's) and
``NATS_URL`` the ``backup`` user; stop the services before a restore, and start them (the provisioning step
first) after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from librarrarian_contracts.catalog import Role
from librarrarian_embedded import PostgresServer
from librarrarian_runtime import bus, lifecycle
from librarrarian_runtime.database_roles import login_url
from nats.aio.client import Client

from .. import local_servers, secrets_file, started
from . import database, operations
from .archive import BackupRefused
from .duty import Clock, Duty, Schedule
from .operations import Target

log = logging.getLogger(__name__)
BACKUP_USER = Role.BACKUP.value


class CommandError(RuntimeError):
    """What the user must change; the message says what."""


@dataclass(frozen=True)
class Place:
    target: Target
    nc: Client
    role_urls: dict[str, str] | None
    running: bool  # ``librarrarian up`` runs on this data directory


def running_nats_url(data_dir: Path, creds: dict[str, str]) -> str | None:
    """The URL of the data directory's NATS server as the backup user, if its config names a port."""
    conf = data_dir / "nats" / "nats.conf"
    if not conf.exists():
        return None
    port = re.search(r"listen: 127.0.0.1:(\d+)", conf.read_text())
    if port is None:
        return None
    return f"nats://{BACKUP_USER}:{creds[secrets_file.nats_key(BACKUP_USER)]}@127.0.0.1:{port.group(1)}"


async def _try_connect(url: str) -> Client | None:
    """A connection when the server listens; None when nothing does (``up`` is not running)."""
    port = urlsplit(url).port
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 2)
    except (OSError, TimeoutError):
        return None
    writer.close()
    return await bus.connect(url, "backup")


@contextlib.asynccontextmanager
async def place(data_dir: Path) -> AsyncIterator[Place]:
    """The records to back up or restore: the cluster's (environment) or the data directory's."""
    database_url, nats_url = os.environ.get("DATABASE_URL"), os.environ.get("NATS_URL")
    if database_url or nats_url:
        if not (database_url and nats_url):
            raise CommandError("set both DATABASE_URL (the admin login) and NATS_URL (the backup user)")
        async with bus.connection(nats_url, "backup") as nc:
            yield Place(Target(database_url, nc.jetstream(), None), nc, None, running=False)
        return
    await asyncio.to_thread(data_dir.mkdir, parents=True, exist_ok=True)
    creds = secrets_file.load_or_create(data_dir)
    url = running_nats_url(data_dir, creds)
    running = await _try_connect(url) if url else None
    if running is not None:  # up runs here: its servers, as they are
        nc = running
        postgres = PostgresServer(data_dir / "postgres")
        await asyncio.to_thread(postgres.start)
        try:
            admin = login_url(
                postgres.uri(local_servers.DATABASE),
                local_servers.SUPERUSER,
                creds[secrets_file.POSTGRES_ADMIN],
            )
            yield Place(Target(admin, nc.jetstream(), database.embedded_bin()), nc, None, running=True)
        finally:
            await nc.drain()
            await asyncio.to_thread(postgres.stop)
        return
    from ..up import Logins, Options, provision

    # The servers are ours alone while this runs: an ``up`` starting meanwhile is refused.
    try:
        lock = started.hold(data_dir)
    except started.Held:
        raise CommandError(
            f"another librarrarian process (up, a backup or a restore) uses {data_dir}"
        ) from None
    try:
        nats_server = await local_servers.start_nats(data_dir / "nats", creds)
        try:
            pg = await local_servers.start_postgres(data_dir / "postgres", creds)
            try:
                logins = Logins(nats_server.urls, pg.urls)
                await provision(Options(media=(), data_dir=data_dir), logins, pg.admin_url, creds)
                async with bus.connection(nats_server.urls[BACKUP_USER], "backup") as nc:
                    target = Target(pg.admin_url, nc.jetstream(), database.embedded_bin())
                    yield Place(target, nc, pg.urls, False)
            finally:
                await asyncio.to_thread(pg.server.stop)
        finally:
            nats_server.server.stop()
    finally:
        os.close(lock)


async def backup(data_dir: Path, to: Path | None) -> Path:
    schedule = Schedule.from_env(data_dir)
    if to is not None:  # the caller resolved it
        schedule = Schedule(directory=to, keep=schedule.keep, hour=None)
    async with place(data_dir) as where:
        info = await Duty(where.nc, where.target, schedule).backup("cli")
    return schedule.directory / info.name


async def daily(
    data_dir: Path, to: Path | None, stopping: asyncio.Event | None = None, clock: Clock | None = None
) -> None:
    """``librarrarian backup --daily``: the duty ``up`` runs, for a cluster (its admin login and the backup
    user from the environment): a backup every day at ``BACKUP_HOUR``, the newest ``BACKUP_KEEP`` kept, the
    list and "back up now" answered for the dashboard. Restores stay with ``librarrarian restore``."""
    if not (os.environ.get("DATABASE_URL") and os.environ.get("NATS_URL")):
        raise CommandError(
            "--daily is for a cluster: set DATABASE_URL (the admin login) and NATS_URL (the backup user); "
            "librarrarian up makes its own daily backups"
        )
    schedule = Schedule.from_env(data_dir)
    if to is not None:
        schedule = Schedule(directory=to, keep=schedule.keep, hour=schedule.hour)
    if schedule.hour is None:
        raise CommandError("BACKUP_HOUR is off: there is no daily backup to run")
    stopping = stopping or lifecycle.stop_event()
    async with place(data_dir) as where:
        log.info(
            "daily backups at %02d:00 into %s, the newest %d kept",
            schedule.hour,
            schedule.directory,
            schedule.keep,
        )
        await Duty(where.nc, where.target, schedule, clock=clock).run(stopping)


async def restore(data_dir: Path, file: Path) -> str:
    if not await asyncio.to_thread(file.is_file):
        raise CommandError(f"{file} is not a file")
    async with place(data_dir) as where:
        if where.running:
            raise CommandError(
                f"librarrarian up is running on {data_dir}: restore from Tools → Backups (it stops the services "
                "around the restore), or stop it first"
            )
        try:
            manifest = await operations.restore_backup(where.target, file, role_urls=where.role_urls)
        except BackupRefused as error:
            raise CommandError(f"nothing was changed: {error}") from None
    return json.dumps(
        {"restored": file.name, "made": manifest.created_at.isoformat(), "schemas": manifest.schemas}
    )
