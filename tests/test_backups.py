"""Backups on real servers: a round trip into a fresh data directory (``librarrarian restore`` and ``backup``
as a user runs them), a backup made at older migrations restored and moved forward, damaged and foreign
files refused with nothing changed, a restore refused while a service is connected, the retention count,
a failure recorded and published, and the daily duty's timing (a moved clock) with one real run as a
cluster's ``librarrarian backup --daily`` makes it."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
import tarfile
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
import nats
import pytest
from librarrarian_contracts import topology
from librarrarian_contracts.backups import STATUS_KEY, BackupStatus
from librarrarian_provision import database as provisioning
from librarrarian_runtime import bus, migrations
from librarrarian_runtime.database_roles import SCHEMAS, login_url, role_of
from librarrarian_testing import eventually
from librarrarian_testing.fixtures import with_database
from nats.js import JetStreamContext

from librarrarian import local_servers, secrets_file
from librarrarian.backups import archive, command, database, operations
from librarrarian.backups.archive import BackupRefused
from librarrarian.backups.duty import Duty, Schedule, next_run
from librarrarian.backups.operations import Target

PASSWORDS = {service: f"secret-{service}" for service in SCHEMAS}
SETTINGS = {"transcode": json.dumps({"target_codec": "av1"}), "ui": json.dumps({"theme": "dark"})}


def as_role(url: str, service: str) -> str:
    return login_url(url, role_of(service), PASSWORDS[service])


async def migrate_to(url: str, versions: dict[str, int] | None = None) -> None:
    """Each schema's migrations up to ``versions`` (all when None), as its role: an installation of an older
    version when given."""
    for schema in SCHEMAS:
        package = f"librarrarian_{schema}.migrations"
        conn = await asyncpg.connect(as_role(url, schema))
        try:
            if versions is None:
                await migrations.migrate(conn, schema, package)
                continue
            await conn.execute(
                f"CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (version integer PRIMARY KEY,"
                " name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            for version, name, sql in migrations.migration_files(package):
                if version <= versions[schema]:
                    async with conn.transaction():
                        await conn.execute(f"SET LOCAL search_path TO {schema}")
                        await conn.execute(sql)
                        await conn.execute(
                            f"INSERT INTO {schema}.schema_migrations VALUES ($1, $2)", version, name
                        )
        finally:
            await conn.close()


async def new_database(admin_url: str) -> str:
    name = f"tb_{uuid.uuid4().hex[:16]}"
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return with_database(admin_url, name)


@pytest.fixture
async def roles(postgres_admin_url: str) -> AsyncIterator[None]:
    yield
    conn = await asyncpg.connect(postgres_admin_url)
    try:
        for row in await conn.fetch("SELECT datname FROM pg_database WHERE datname LIKE 'tb\\_%'"):
            await conn.execute(f'DROP DATABASE IF EXISTS "{row["datname"]}" WITH (FORCE)')
        for service in SCHEMAS:
            await conn.execute(f"DROP ROLE IF EXISTS {role_of(service)}")
    finally:
        await conn.close()


@pytest.fixture
async def js(nats_url: str) -> AsyncIterator[JetStreamContext]:
    nc = await nats.connect(nats_url)
    try:
        yield nc.jetstream()
    finally:
        await nc.drain()


async def installation(admin_url: str, versions: dict[str, int] | None = None) -> str:
    url = await new_database(admin_url)
    await provisioning.provision(url, PASSWORDS)
    await migrate_to(url, versions)
    return url


async def seed(url: str, js: JetStreamContext) -> None:
    """A job, a history entry, a user, a key, a Plex source, and settings."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("INSERT INTO scheduler.jobs (path, status) VALUES ('/media/a.mkv', 'pending')")
        await conn.execute(
            "INSERT INTO history.transcodes (event_id, job_id, status, path, node, finished_at) VALUES ('e1', 1, 'done', '/media/a.mkv', 'n1', now())"
        )
        await conn.execute("INSERT INTO gateway.users (name, password_hash) VALUES ('ann', 'hash-of-ann')")
        await conn.execute(
            "INSERT INTO gateway.api_keys (name, prefix, key_hash) VALUES ('script', 'abc', 'hash-of-key')"
        )
        await conn.execute("INSERT INTO scanner.sources (key, value) VALUES ('plex', '\\x7b7d')")
    finally:
        await conn.close()
    kv = await js.key_value(topology.SETTINGS.name)
    for key, value in SETTINGS.items():
        await kv.put(key, value.encode())


READ = {
    "jobs": "SELECT path, status FROM scheduler.jobs ORDER BY id",
    "history": "SELECT event_id, path FROM history.transcodes ORDER BY id",
    "users": "SELECT name, password_hash FROM gateway.users ORDER BY name",
    "keys": "SELECT name, key_hash FROM gateway.api_keys ORDER BY id",
    "sources": "SELECT key, value FROM scanner.sources ORDER BY key",
}


async def records(url: str) -> dict[str, list[tuple[object, ...]]]:
    conn = await asyncpg.connect(url)
    try:
        return {what: [tuple(r) for r in await conn.fetch(sql)] for what, sql in READ.items()}
    finally:
        await conn.close()


def target(url: str, js: JetStreamContext) -> Target:
    return Target(url, js, database.embedded_bin())


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "NATS_URL"}} | (env or {})
    return subprocess.run(
        [sys.executable, "-m", "librarrarian", *args],
        env=clean,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


async def test_round_trip_into_a_fresh_data_directory(
    postgres_admin_url: str, js: JetStreamContext, roles: None, tmp_path: Path
) -> None:
    url = await installation(postgres_admin_url)
    await seed(url, js)
    before = await records(url)
    made = await operations.make_backup(target(url, js), tmp_path / "backups")
    assert made.stat().st_mode & 0o777 == 0o600  # it holds the tokens
    fresh = tmp_path / "fresh"
    result = await asyncio.to_thread(cli, "restore", str(made), "--data-dir", str(fresh))
    assert result.returncode == 0, result.stderr
    assert "hash-of-key" not in result.stdout + result.stderr and "secret-" not in result.stderr
    # The fresh directory's own servers, as `up` starts them: the same records, owned by each service's role.
    creds = secrets_file.load_or_create(fresh)
    nats_server = await local_servers.start_nats(fresh / "nats", creds)
    pg = await local_servers.start_postgres(fresh / "postgres", creds)
    try:
        assert await records(pg.admin_url) == before
        scheduler = await asyncpg.connect(pg.urls["scheduler"])
        try:
            assert await scheduler.fetchval("SELECT count(*) FROM scheduler.jobs") == 1
            assert (
                await scheduler.fetchval("SELECT max(version) FROM scheduler.schema_migrations")
                == operations.newest_migrations()["scheduler"]
            )
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await scheduler.fetch("SELECT * FROM gateway.api_keys")
        finally:
            await scheduler.close()
        nc = await bus.connect(nats_server.urls["backup"], "test")
        try:
            # A server just started may still be loading its streams from disk (slow on a busy machine).
            async def restored() -> bool:
                return await operations.read_settings(nc.jetstream()) == SETTINGS

            await eventually(restored, message="the backup's settings in the fresh directory's bucket")
        finally:
            await nc.drain()
    finally:
        await asyncio.to_thread(pg.server.stop)
        nats_server.server.stop()
    # And a backup of the fresh directory from the command line holds the same.
    again = await asyncio.to_thread(cli, "backup", "--data-dir", str(fresh), "--to", str(tmp_path / "again"))
    assert again.returncode == 0, again.stderr
    second = Path(again.stdout.strip().splitlines()[-1])
    assert archive.read_manifest(second).schemas == archive.read_manifest(made).schemas


async def test_a_backup_of_an_older_version_is_restored_and_migrated_forward(
    postgres_admin_url: str, js: JetStreamContext, roles: None, tmp_path: Path
) -> None:
    """Made here at each schema's first migration (what an early installation had), not a stored blob."""
    old = await installation(postgres_admin_url, dict.fromkeys(SCHEMAS, 1))
    conn = await asyncpg.connect(old)
    try:
        await conn.execute("INSERT INTO scheduler.jobs (path, status) VALUES ('/media/old.mkv', 'pending')")
        await conn.execute("INSERT INTO gateway.users (name, password_hash) VALUES ('ann', 'hash-of-ann')")
    finally:
        await conn.close()
    made = await operations.make_backup(target(old, js), tmp_path)
    assert archive.read_manifest(made).schemas == dict.fromkeys(SCHEMAS, 1)
    current = await installation(postgres_admin_url)
    roles_urls = {s: as_role(current, s) for s in SCHEMAS}
    manifest = await operations.restore_backup(target(current, js), made, role_urls=roles_urls)
    assert manifest.schemas == dict.fromkeys(SCHEMAS, 1)
    newest = operations.newest_migrations()
    assert await database.schema_versions(current, SCHEMAS) == newest
    scheduler = await asyncpg.connect(roles_urls["scheduler"])
    try:
        row = await scheduler.fetchrow("SELECT path, target_codec FROM scheduler.jobs")
        assert row is not None and row["path"] == "/media/old.mkv"  # a column added by a later migration
    finally:
        await scheduler.close()


def damaged_copies(good: Path, folder: Path) -> dict[str, Path]:
    data = good.read_bytes()
    copies: dict[str, bytes] = {
        "truncated": data[: len(data) // 2],
        "empty": b"",
        "text": b"not a backup at all\n",
    }
    with tarfile.open(good) as tar:
        dump = tar.getmember(archive.DATABASE)
    flipped = bytearray(data)
    flipped[dump.offset_data + dump.size // 2] ^= 0xFF  # inside the dump (the tar's padding would not count)
    copies["flipped"] = bytes(flipped)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:  # a tar, but someone else's
        info = tarfile.TarInfo("notes.txt")
        info.size = 5
        tar.addfile(info, io.BytesIO(b"hello"))
    copies["foreign"] = buffer.getvalue()
    buffer = io.BytesIO()
    with tarfile.open(good) as source, tarfile.open(fileobj=buffer, mode="w") as tar:  # from the future
        for member in source.getmembers():
            content = source.extractfile(member)
            assert content is not None
            raw = content.read()
            if member.name == archive.MANIFEST:
                manifest = json.loads(raw)
                manifest["schemas"]["scheduler"] = 999
                raw = json.dumps(manifest).encode()
                member.size = len(raw)
            tar.addfile(member, io.BytesIO(raw))
    copies["newer"] = buffer.getvalue()
    found = {}
    for name, content in copies.items():
        (folder / f"{name}.tar").write_bytes(content)
        found[name] = folder / f"{name}.tar"
    return found


async def test_a_damaged_or_foreign_file_is_refused_and_nothing_changes(
    postgres_admin_url: str, js: JetStreamContext, roles: None, tmp_path: Path
) -> None:
    url = await installation(postgres_admin_url)
    await seed(url, js)
    made = await operations.make_backup(target(url, js), tmp_path)
    conn = await asyncpg.connect(url)
    try:  # what the backup does not hold: a restore would take it away
        await conn.execute("INSERT INTO scheduler.jobs (path, status) VALUES ('/media/after.mkv', 'pending')")
    finally:
        await conn.close()
    kv = await js.key_value(topology.SETTINGS.name)
    await kv.put("paths", b"{}")
    before, settings_before = await records(url), await operations.read_settings(js)
    expected = {
        "truncated": "cut short",
        "empty": "not a readable backup",
        "text": "not a readable backup",
        "flipped": "checksum",
        "foreign": "not a Librarrarian backup",
        "newer": "made by a newer Librarrarian",
    }
    for name, path in damaged_copies(made, tmp_path).items():
        with pytest.raises(BackupRefused, match=expected[name]):
            await operations.restore_backup(target(url, js), path)
        assert await records(url) == before, name
        assert await operations.read_settings(js) == settings_before, name
    # A good file while a service is connected: refused too.
    service = await asyncpg.connect(as_role(url, "gateway"))
    try:
        with pytest.raises(BackupRefused, match=r"in use \(librarrarian_gateway \(1\)\)"):
            await operations.restore_backup(target(url, js), made)
    finally:
        await service.close()
    assert await records(url) == before


async def test_the_duty_keeps_the_newest_and_records_every_outcome(
    postgres_admin_url: str, nats_url: str, roles: None, tmp_path: Path
) -> None:
    url = await installation(postgres_admin_url)
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        await seed(url, js)
        day = datetime(2026, 1, 1, 3, tzinfo=UTC)
        for n in range(4):  # older ones, as earlier days' runs left them
            await operations.make_backup(target(url, js), tmp_path, now=day + timedelta(days=n))
        duty = Duty(nc, target(url, js), Schedule(directory=tmp_path, keep=3, hour=None))
        info = await duty.backup("api")
        kept = [b.name for b in operations.list_backups(tmp_path)]
        assert kept == [info.name, "librarrarian-20260104T030000Z.tar", "librarrarian-20260103T030000Z.tar"]
        status_kv = await js.key_value(topology.BACKUP_STATUS.name)
        status = msgspec.json.decode((await status_kv.get(STATUS_KEY)).value or b"", type=BackupStatus)
        assert status.ok and status.name == info.name and status.size == info.size
        # A failure (the database refuses the login): recorded with the last success, published, raised.
        broken = Duty(
            nc, target(login_url(url, "nobody", "wrong"), js), Schedule(directory=tmp_path, keep=3, hour=None)
        )
        with pytest.raises(asyncpg.PostgresError):
            await broken.backup("schedule")
        status = msgspec.json.decode((await status_kv.get(STATUS_KEY)).value or b"", type=BackupStatus)
        assert (
            not status.ok and status.error and "nobody" in status.error and status.last_success_at is not None
        )
        assert "wrong" not in status.error
        failed = await js.get_last_msg(topology.BACKUPS.name, topology.BACKUP_FAILED)
        assert json.loads(failed.data)["trigger"] == "schedule"
        assert len(operations.list_backups(tmp_path)) == 3
    finally:
        await nc.drain()


def test_the_daily_backup_runs_at_the_next_hour_given() -> None:
    at = datetime(2026, 3, 1, 2, 59, tzinfo=UTC)
    assert next_run(at, 3) == datetime(2026, 3, 1, 3, tzinfo=UTC)
    assert next_run(at.replace(hour=3), 3) == datetime(2026, 3, 2, 3, tzinfo=UTC)
    assert next_run(at.replace(hour=23), 3) == datetime(2026, 3, 2, 3, tzinfo=UTC)


class MovedClock:
    """The daily duty's clock in a test: each wait moves it on (up to ``step`` seconds, as the system clock
    waits in steps; the first to ``wake_at``, as a machine suspended meanwhile); the last one asks the duty
    to stop."""

    def __init__(
        self, start: datetime, waits: int, step: float | None = None, wake_at: datetime | None = None
    ) -> None:
        self.at, self.left, self.step, self.wake_at = start, waits, step, wake_at
        self.waited: list[float] = []

    def now(self) -> datetime:
        return self.at

    async def wait(self, seconds: float, stopping: asyncio.Event) -> bool:
        self.waited.append(seconds)
        self.left -= 1
        if self.left == 0:
            stopping.set()
            return True
        if self.wake_at is not None and len(self.waited) == 1:
            self.at = self.wake_at
        else:
            self.at += timedelta(seconds=min(seconds, self.step or seconds))
        return False


class CountingDuty(Duty):
    """The duty with its backup counted (the times it ran at), not made: the timing alone."""

    ran: list[datetime]

    async def backup(self, trigger: str) -> Any:
        assert trigger == "schedule"
        self.ran.append(self.clock.now())


async def timed(clock: MovedClock, hour: int = 3) -> list[datetime]:
    duty = CountingDuty(None, None, Schedule(directory=Path("/nowhere"), hour=hour), clock=clock)  # type: ignore[arg-type]
    duty.ran = []
    await asyncio.wait_for(duty.daily(asyncio.Event()), 10)
    return duty.ran


async def test_the_daily_duty_backs_up_at_the_hour_every_day() -> None:
    day = datetime(2026, 3, 1, 2, 59, 30, tzinfo=UTC)
    clock = MovedClock(day, waits=3)
    assert await timed(clock) == [
        day.replace(hour=3, minute=0, second=0),
        day.replace(day=2, hour=3, minute=0, second=0),
    ]
    assert clock.waited == [30, 86400, 86400]
    # Waiting in one-minute steps changes nothing; a clock already past the hour waits for tomorrow's.
    stepped = MovedClock(day.replace(hour=1, minute=0, second=0), waits=125, step=60)
    assert await timed(stepped) == [day.replace(hour=3, minute=0, second=0)]
    late = MovedClock(day.replace(hour=3, minute=0, second=0), waits=1)
    assert await timed(late) == [] and late.waited == [86400]


async def test_a_backup_missed_while_the_machine_slept_runs_when_it_wakes() -> None:
    day = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
    clock = MovedClock(day, waits=2, wake_at=day.replace(hour=9))
    assert await timed(clock) == [day.replace(hour=9)]
    assert clock.waited == [3600, 18 * 3600]  # then tomorrow's, at 03:00 again


async def test_backup_daily_runs_the_duty_on_a_clusters_servers(
    postgres_admin_url: str,
    nats_url: str,
    roles: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``librarrarian backup --daily`` with the admin login and the bus from the environment: at the hour, a
    real backup into BACKUP_DIR, its outcome in the status key and on the bus, as ``up``'s duty does."""
    url = await installation(postgres_admin_url)
    folder = tmp_path / "backups"
    async with bus.connection(nats_url, "test") as nc:
        js = nc.jetstream()
        await seed(url, js)
        for name, value in {"DATABASE_URL": url, "NATS_URL": nats_url, "BACKUP_DIR": str(folder)}.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("BACKUP_HOUR", "4")
        clock = MovedClock(datetime(2026, 3, 1, 3, 30, tzinfo=UTC), waits=2)
        await asyncio.wait_for(command.daily(tmp_path / "unused", None, asyncio.Event(), clock), 120)
        assert clock.waited == [1800, 86400]
        (made,) = operations.list_backups(folder)
        status_kv = await js.key_value(topology.BACKUP_STATUS.name)
        status = msgspec.json.decode((await status_kv.get(STATUS_KEY)).value or b"", type=BackupStatus)
        assert status.ok and status.trigger == "schedule" and status.name == made.name
        completed = await js.get_last_msg(topology.BACKUPS.name, topology.BACKUP_COMPLETED)
        assert json.loads(completed.data)["name"] == made.name
        (tmp_path / "check").mkdir()
        checked = archive.open_checked(folder / made.name, tmp_path / "check", operations.newest_migrations())
        assert set(checked.manifest.schemas) == set(SCHEMAS)
    assert not (tmp_path / "unused").exists()  # the cluster's servers, not a data directory's


def test_backup_daily_needs_a_clusters_servers(tmp_path: Path) -> None:
    refused = cli("backup", "--daily", "--data-dir", str(tmp_path))
    assert refused.returncode == 2 and "--daily is for a cluster" in refused.stderr
