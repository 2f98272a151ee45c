"""Making, listing, pruning and restoring backups: the steps the duty, the CLI and the tests share.

A backup needs a database login that may read every service schema (the admin: ``up``'s own superuser, or
the ``DATABASE_URL`` a cluster gives the provisioning step) and the NATS ``backup`` user, which may read and
write the settings. A restore checks the file whole first (:mod:`archive`), refuses while anyone else is
connected to the database, replaces the schemas in one transaction, hands them back to their roles, runs
each service's migrations (an older backup moves forward), and then puts the settings back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from librarrarian_contracts import topology
from librarrarian_contracts.backups import BackupInfo
from librarrarian_runtime import kv_entries, migrations
from librarrarian_runtime.database_roles import SCHEMAS
from nats.js import JetStreamContext
from nats.js.errors import KeyDeletedError, KeyNotFoundError

from . import archive, database
from .archive import BackupRefused

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Target:
    """Where the records are: a database login that reads and replaces every service schema, the bus (as
    the backup user) and the folder of the PostgreSQL tools (None: PATH)."""

    database_url: str
    js: JetStreamContext
    bin_dir: Path | None


def app_version() -> str:
    return metadata.version("librarrarian")


def newest_migrations() -> dict[str, int]:
    return {
        s: max((v for v, _, _ in migrations.migration_files(database.MIGRATIONS.format(schema=s))), default=0)
        for s in SCHEMAS
    }


def backup_name(now: datetime) -> str:
    return f"librarrarian-{now.astimezone(UTC):%Y%m%dT%H%M%S}Z.tar"


async def make_backup(target: Target, directory: Path, *, now: datetime | None = None) -> Path:
    """Dump every service schema and the settings into one new file in ``directory``; its path."""
    now = now or datetime.now(UTC)
    path = await asyncio.to_thread(_prepare, directory, backup_name(now))
    with tempfile.TemporaryDirectory(prefix="backup-", dir=directory) as scratch:
        folder = Path(scratch)
        schemas = await database.schema_versions(target.database_url, SCHEMAS)
        dump = folder / archive.DATABASE
        await database.dump(target.database_url, list(schemas), dump, target.bin_dir)
        settings = folder / archive.SETTINGS
        settings.write_bytes(archive.settings_document(await read_settings(target.js)))
        manifest = archive.Manifest(
            format=archive.FORMAT,
            format_version=archive.FORMAT_VERSION,
            app_version=app_version(),
            created_at=now,
            schemas=schemas,
            postgres_version=await database.server_version(target.database_url),
            files={name: await asyncio.to_thread(archive.digest, folder / name) for name in archive.MEMBERS},
        )
        await asyncio.to_thread(
            archive.write, path, manifest, {name: folder / name for name in archive.MEMBERS}
        )
    return path


def _prepare(directory: Path, name: str) -> Path:
    """The folder made (0700), and a name in it no file has yet (two backups in one second: ``-2``)."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path, n = directory / name, 1
    while path.exists():
        n += 1
        path = directory / name.replace(".tar", f"-{n}.tar")
    return path


async def restore_backup(
    target: Target, path: Path, *, role_urls: Mapping[str, str] | None = None
) -> archive.Manifest:
    """Restore ``path`` over the records (see the module's docstring). ``role_urls``: each service's own
    login, to run its migrations as the service would; None runs them as ``target``'s login."""
    with tempfile.TemporaryDirectory(prefix="restore-") as scratch:
        folder = Path(scratch)
        checked = await asyncio.to_thread(archive.open_checked, path, folder, newest_migrations())
        try:
            await database.check_dump(checked.database, target.bin_dir)
        except database.ToolFailed as error:
            raise BackupRefused(f"{path.name}: its database dump cannot be read ({error})") from None
        others = await database.other_sessions(target.database_url)
        if others:
            raise BackupRefused(
                "the database is in use (" + ", ".join(others) + "): stop the services first "
                "(`librarrarian up` does that itself when you restore from Tools)"
            )
        started = time.monotonic()
        await database.replace(target.database_url, SCHEMAS, checked.database, folder, target.bin_dir)
    await database.hand_to_roles(target.database_url, SCHEMAS)
    await migrate_all(role_urls or dict.fromkeys(SCHEMAS, target.database_url))
    await write_settings(target.js, checked.settings)
    log.info(
        "restored %s (made %s by %s) in %.1f s",
        path.name,
        checked.manifest.created_at,
        checked.manifest.app_version,
        time.monotonic() - started,
    )
    return checked.manifest


async def migrate_all(urls: Mapping[str, str]) -> None:
    """Each service's pending migrations, as each applies them at start."""
    for schema in SCHEMAS:
        pool = await migrations.connect_and_migrate(
            urls[schema], schema, database.MIGRATIONS.format(schema=schema)
        )
        await pool.close()


async def read_settings(js: JetStreamContext) -> dict[str, str]:
    """Every setting now. Listed from the stream (``kv_entries``), not by the client's ``keys()``, whose
    watch can end before its first key arrives when the server is busy: a backup with no settings."""
    kv = await js.key_value(topology.SETTINGS.name)
    values = {}
    for key in await kv_entries.keys(js, topology.SETTINGS):
        with contextlib.suppress(KeyNotFoundError, KeyDeletedError):  # gone between listing and reading
            entry = await kv.get(key)
            if entry.value is not None:
                values[key] = entry.value.decode()
    return values


async def write_settings(js: JetStreamContext, values: Mapping[str, str]) -> None:
    """The settings become the backup's: each of its keys is put, any other key is deleted."""
    kv = await js.key_value(topology.SETTINGS.name)
    current = set(await read_settings(js))
    for key, value in values.items():
        await kv.put(key, value.encode())
    for key in current - set(values):
        await kv.delete(key)


def list_backups(directory: Path) -> list[BackupInfo]:
    """The backups in ``directory``, newest first (from their manifests; a file that is not one is left out)."""
    found = []
    for path in directory.glob("*.tar") if directory.is_dir() else ():
        if not archive.NAME.match(path.name):
            continue
        try:
            manifest = archive.read_manifest(path)
        except BackupRefused:
            continue
        found.append(
            BackupInfo(
                name=path.name,
                size=path.stat().st_size,
                created_at=manifest.created_at,
                app_version=manifest.app_version,
                schemas=manifest.schemas,
            )
        )
    return sorted(found, key=lambda b: (b.created_at, b.name), reverse=True)


def prune(directory: Path, keep: int) -> list[str]:
    """Delete all but the newest ``keep`` backups; the names deleted."""
    removed = []
    for info in list_backups(directory)[keep:]:
        (directory / info.name).unlink(missing_ok=True)
        removed.append(info.name)
    return removed


def info_of(path: Path) -> BackupInfo:
    manifest = archive.read_manifest(path)
    return BackupInfo(
        name=path.name,
        size=path.stat().st_size,
        created_at=manifest.created_at,
        app_version=manifest.app_version,
        schemas=manifest.schemas,
    )
