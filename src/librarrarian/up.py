"""``librarrarian up``: one machine, zero set-up. Starts NATS and PostgreSQL of its own (unless
``NATS_URL`` / ``DATABASE_URL`` point elsewhere), set up as a cluster's (:mod:`local_servers`), runs the
provisioning step, then every service and one encoder, each logged in as its own role; prints the dashboard
URL, and on Ctrl-C or SIGTERM stops all of it. A second Ctrl-C given later forces a quick exit, which still
stops the servers and services it started (:mod:`started`); a signal passed on by ``uv run`` or ``make``
is the same stop (:mod:`librarrarian_runtime.lifecycle`)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from librarrarian_contracts.catalog import Role
from librarrarian_contracts.permissions import PROVISIONER, users
from librarrarian_runtime import bus, lifecycle
from librarrarian_runtime.database_roles import SCHEMAS, password_variable

from . import local_servers, secrets_file, started
from .backups import database
from .backups.duty import Duty, Schedule
from .backups.operations import Target
from .supervisor import Child, Supervisor, signal_group

log = logging.getLogger("librarrarian.up")

ENCODER_GRACE_SECONDS = 20
# Every child gets these from up, not from up's own environment: each its own login.
OWN = ("NATS_URL", "DATABASE_URL")


class UpError(RuntimeError):
    """Something the user must fix before the cluster can start; the message says what."""


@dataclass(frozen=True)
class Options:
    media: tuple[Path, ...]
    data_dir: Path
    port: int = 5000
    host: str = "127.0.0.1"
    # Nodes without the library (``REMOTE_NODES``): a NATS user and a transfer store each.
    remote_nodes: tuple[str, ...] = ()


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


@dataclass(frozen=True)
class Logins:
    """Where each process logs in: NATS user -> URL, service -> database URL (only those with a schema)."""

    nats: Mapping[str, str]
    database: Mapping[str, str]


def base_env(options: Options) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if k not in OWN},
        "MEDIA_PATHS": ":".join(str(p) for p in options.media),
        "PYTHONUNBUFFERED": "1",
    }


def api_key(creds: Mapping[str, str]) -> str:
    """The API key the gateway is started with: the one set in ``API_KEY``, else the generated one."""
    return os.environ.get("API_KEY") or creds["api_key"]


def children(
    options: Options, logins: Logins, creds: Mapping[str, str], backup_dir: Path | None = None
) -> list[Child]:
    """Every service as its own process, logged in to NATS as its role and to PostgreSQL as its own role
    (encoder and cleanup keep nothing, and get no database). Listed in stop order: work producers and the
    encoder first."""
    base = base_env(options)
    python = sys.executable

    def child(name: str, extra: Mapping[str, str] | None = None, stop_timeout: float = 15.0) -> Child:
        env = {**base, "NATS_URL": logins.nats[name], **(extra or {})}
        if name in logins.database:
            env["DATABASE_URL"] = logins.database[name]
        return Child(name, [python, "-m", f"librarrarian_{name}"], env, stop_timeout)

    return [
        child(
            "encoder",
            {"GRACE_SECONDS": str(ENCODER_GRACE_SECONDS)},
            stop_timeout=ENCODER_GRACE_SECONDS + 10,
        ),
        child("scanner"),
        child("cleanup"),
        child("arr"),
        child(
            "gateway",
            {
                "HOST": options.host,
                "PORT": str(options.port),
                "LOCAL_USER": creds["admin_user"],
                "LOCAL_PASSWORD": creds["admin_password"],
                "API_KEY": api_key(creds),
                # Downloads and uploads of backups (the duty in this process makes and restores them).
                **({"BACKUP_DIR": str(backup_dir)} if backup_dir is not None else {}),
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


async def provision(
    options: Options,
    logins: Logins,
    admin_url: str | None,
    creds: Mapping[str, str],
    groups: set[int] | None = None,
) -> None:
    """The provisioning step, as its own process, as compose runs it: the topology as the provision user,
    and the services' database roles when this ``up`` runs the database."""
    env = {**base_env(options), "NATS_URL": logins.nats[PROVISIONER]}
    if admin_url is not None:
        env["DATABASE_URL"] = admin_url
        env |= {password_variable(s): creds[secrets_file.postgres_key(s)] for s in SCHEMAS}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "librarrarian_provision",
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        start_new_session=True,
    )
    if groups is not None:
        groups.add(process.pid)
    try:
        code = await process.wait()
    finally:
        if process.returncode is None:  # up was cancelled meanwhile
            signal_group(process.pid, signal.SIGKILL)
            await process.wait()
        if groups is not None:
            groups.discard(process.pid)
    if code != 0:
        raise UpError(f"provisioning failed (exit {code}); see the lines above")


async def run_backups(
    logins: Logins,
    admin_url: str,
    embedded: bool,
    schedule: Schedule,
    supervisor: Supervisor,
    stopping: asyncio.Event,
) -> None:
    """The backup duty (:mod:`backups.duty`), as the NATS ``backup`` user and the database admin; its
    restores stop the services around them. A failure to start it is logged, and the cluster runs on."""

    async def around(restore: Callable[[], Awaitable[None]]) -> None:
        async with supervisor.paused():
            await restore()

    try:
        async with bus.connection(logins.nats[Role.BACKUP.value], "backup") as nc:
            bin_dir = database.embedded_bin() if embedded else None
            target = Target(admin_url, nc.jetstream(), bin_dir)
            await Duty(nc, target, schedule, around, dict(logins.database)).run(stopping)
    except Exception:  # the duty's outermost edge: the services run on without it
        log.exception("the backup duty stopped")


async def run(options: Options) -> None:
    check_options(options)
    options.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        lock = started.hold(options.data_dir)
    except started.Held:
        raise UpError(
            f"another librarrarian process uses {options.data_dir}: stop it, or pass another --data-dir"
        ) from None
    try:
        await _run(options)
    finally:
        os.close(lock)


async def _run(options: Options) -> None:
    mine = started.Started()
    stopping = lifecycle.stop_event(force=mine.stop_now)
    creds = secrets_file.load_or_create(options.data_dir, options.remote_nodes)

    nats: local_servers.Nats | None = None
    postgres: local_servers.Postgres | None = None
    try:
        if nats_url := os.environ.get("NATS_URL"):
            log.info("using the NATS server at NATS_URL, as its one user, for every service")
            nats_urls: Mapping[str, str] = dict.fromkeys(users(), nats_url)
        else:
            mine.nats_dir = options.data_dir / "nats"
            nats = await local_servers.start_nats(mine.nats_dir, creds, options.remote_nodes)
            nats_urls = nats.urls
            if options.remote_nodes:
                log.info(
                    "a NATS user for each node without the library (%s): remote-<name>, its password in %s",
                    ", ".join(options.remote_nodes),
                    options.data_dir / secrets_file.FILE_NAME,
                )

        admin_url = None
        if database_url := os.environ.get("DATABASE_URL"):
            log.info("using the PostgreSQL server at DATABASE_URL, as its one login, for every service")
            database_urls: Mapping[str, str] = dict.fromkeys(SCHEMAS, database_url)
        else:
            mine.postgres_dir = options.data_dir / "postgres"
            postgres = await local_servers.start_postgres(mine.postgres_dir, creds)
            admin_url, database_urls = postgres.admin_url, postgres.urls

        logins = Logins(nats_urls, database_urls)
        await provision(options, logins, admin_url, creds, mine.groups)
        try:
            schedule = Schedule.from_env(options.data_dir)
        except ValueError as error:
            raise UpError(str(error)) from None
        supervisor = Supervisor(children(options, logins, creds, schedule.directory))
        mine.supervisor = supervisor
        supervised = asyncio.create_task(supervisor.run(stopping))
        backups = asyncio.create_task(
            run_backups(
                logins,
                admin_url or database_urls[SCHEMAS[0]],
                postgres is not None,
                schedule,
                supervisor,
                stopping,
            )
        )
        shown_host = "localhost" if options.host in {"127.0.0.1", "0.0.0.0"} else options.host
        if await wait_for_port(options.host, options.port, timeout=60, stopping=stopping):
            where = options.data_dir / secrets_file.FILE_NAME
            key = (
                "the API key is the one in API_KEY"
                if os.environ.get("API_KEY")
                else f"an API key is in {where}"
            )
            print(
                f"\n  Librarrarian is running: http://{shown_host}:{options.port}/\n"
                f"  Log in as {creds['admin_user']!r} with the password in {where}; {key}\n"
                "  Ctrl-C stops everything.\n",
                flush=True,
            )
        elif not stopping.is_set():
            log.error("the gateway did not open port %d within 60 s; see the log above", options.port)
        await supervised
        await backups
    finally:
        if nats is not None:
            nats.server.stop()
            log.info("stopped NATS")
        if postgres is not None:
            await asyncio.to_thread(postgres.server.stop)
            log.info("stopped PostgreSQL")
