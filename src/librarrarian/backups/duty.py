"""The backup duty: a daily backup with a retention count, and the ``backups.*`` endpoints the gateway asks
(list, make one now, restore one).

It runs inside ``librarrarian up``, beside the supervisor, because that process alone holds what a backup and
a restore need: the database admin's login (every service logs in as a role that sees only its own schema),
and the children, which a restore must stop before it replaces their records and start again after. A
cluster has no such process: there ``librarrarian backup --daily`` runs the same duty with the admin login
and without restores (``librarrarian restore`` runs with the services stopped; README, "Backups").

Every outcome is recorded where the dashboard reads it (key ``status`` of the ``backups`` bucket) and
published as ``backup.completed`` or ``backup.failed``; a failure is also logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

import msgspec
from librarrarian_contracts import publish, topology, views
from librarrarian_contracts.backups import (
    STATUS_KEY,
    BackupInfo,
    BackupList,
    BackupStatus,
    CreateBackup,
    RestoreAccepted,
    RestoreBackup,
)
from librarrarian_contracts.messages import BackupCompleted, BackupFailed
from librarrarian_runtime import endpoints, env, lifecycle
from librarrarian_runtime.errors import BadRequest, Conflict, NotFound, Unavailable
from nats.aio.client import Client
from nats.js.errors import KeyNotFoundError

from . import archive, operations
from .archive import BackupRefused
from .operations import Target

log = logging.getLogger(__name__)

# Stops the services, runs the restore, starts them again (``up``'s supervisor).
Around = Callable[[Callable[[], Awaitable[None]]], Awaitable[None]]


@dataclass(frozen=True)
class Schedule:
    directory: Path
    keep: int = 7
    hour: int | None = 3  # local time of the daily backup; None: no automatic backups

    @classmethod
    def from_env(cls, data_dir: Path) -> Schedule:
        hour = env.text("BACKUP_HOUR", "3").strip().lower()
        if hour not in {"off", "none", ""} and not (hour.isdigit() and 0 <= int(hour) <= 23):
            raise ValueError(f"BACKUP_HOUR must be an hour from 0 to 23, or off (got {hour!r})")
        return cls(
            directory=Path(env.text("BACKUP_DIR", str(data_dir / "backups"))).expanduser().resolve(),
            keep=env.integer("BACKUP_KEEP", 7, minimum=1),
            hour=int(hour) if hour.isdigit() else None,
        )


def next_run(now: datetime, hour: int) -> datetime:
    """The next time the clock (``now``'s time zone) shows ``hour``:00, strictly after ``now``."""
    today = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    return today if today > now else today + timedelta(days=1)


class Clock(Protocol):
    """The time the daily backup goes by: the system's, or one a test moves."""

    def now(self) -> datetime:
        """An aware instant, in the time zone ``BACKUP_HOUR`` is read in."""

    async def wait(self, seconds: float, stopping: asyncio.Event) -> bool:
        """Wait up to ``seconds`` (or less: the caller looks at the time again); True if a stop was asked."""


class SystemClock:
    # The wall clock can jump (NTP, a suspended machine): a long wait is cut in steps so that a backup
    # missed while the machine slept runs when it wakes.
    STEP_SECONDS = 60.0

    def now(self) -> datetime:
        return datetime.now().astimezone()

    async def wait(self, seconds: float, stopping: asyncio.Event) -> bool:
        return await lifecycle.wait_or_stop(stopping, min(max(seconds, 0.0), self.STEP_SECONDS))


class Duty:
    def __init__(
        self,
        nc: Client,
        target: Target,
        schedule: Schedule,
        around: Around | None = None,
        role_urls: dict[str, str] | None = None,
        clock: Clock | None = None,
    ) -> None:
        """``around`` stops the services, runs a restore and starts them (None: restores are refused);
        ``role_urls``: each service's login, to run its migrations after a restore as it would."""
        self.nc, self.target, self.schedule, self.around = nc, target, schedule, around
        self.role_urls = role_urls
        self.clock: Clock = clock or SystemClock()
        self._busy = asyncio.Lock()
        self._restoring: asyncio.Task[None] | None = None

    async def run(self, stopping: asyncio.Event) -> None:
        service = await endpoints.serve(
            self.nc,
            name=topology.BACKUPS_SERVICE,
            version=operations.app_version(),
            description="Backups: list, make, restore",
            endpoints=[
                endpoints.Endpoint("list", topology.BACKUPS_LIST, views.Nothing, self._list),
                endpoints.Endpoint("create", topology.BACKUPS_CREATE, CreateBackup, self._create),
                endpoints.Endpoint("restore", topology.BACKUPS_RESTORE, RestoreBackup, self._restore),
            ],
        )
        try:
            await self.daily(stopping)
            await stopping.wait()
        finally:
            await service.stop()
            if self._restoring is not None:
                await asyncio.gather(self._restoring, return_exceptions=True)

    async def daily(self, stopping: asyncio.Event) -> None:
        """Back up every day at ``BACKUP_HOUR`` until ``stopping`` (at once if there is no such hour)."""
        hour = self.schedule.hour
        if hour is None:
            return
        due = next_run(self.clock.now(), hour)
        while not stopping.is_set():
            now = self.clock.now()
            if now < due:
                if await self.clock.wait((due - now).total_seconds(), stopping):
                    return
                continue
            # Recorded, published and logged by backup(); tomorrow's tries again.
            with contextlib.suppress(Exception):
                await self.backup("schedule")
            due = next_run(max(self.clock.now(), due), hour)

    async def backup(self, trigger: str) -> BackupInfo:
        """Make a backup and prune old ones; record, publish and log the outcome. Raises what failed."""
        async with self._busy:
            started = time.monotonic()
            try:
                path = await operations.make_backup(self.target, self.schedule.directory)
                info = await asyncio.to_thread(operations.info_of, path)
            except Exception as error:
                reason = f"{type(error).__name__}: {error}"
                log.error("backup (%s) failed: %s", trigger, reason)
                await self._record(
                    BackupStatus(attempted_at=datetime.now(UTC), ok=False, trigger=trigger, error=reason)
                )
                await publish(self.target.js, BackupFailed(trigger=trigger, reason=reason))
                raise
            removed = await asyncio.to_thread(operations.prune, self.schedule.directory, self.schedule.keep)
            elapsed = time.monotonic() - started
            log.info(
                "backup %s written (%d bytes, %.1f s, %s); removed %s",
                info.name,
                info.size,
                elapsed,
                trigger,
                removed or "none",
            )
            now = datetime.now(UTC)
            await self._record(
                BackupStatus(
                    attempted_at=now,
                    ok=True,
                    trigger=trigger,
                    name=info.name,
                    size=info.size,
                    last_success_at=now,
                )
            )
            await publish(
                self.target.js,
                BackupCompleted(name=info.name, size=info.size, trigger=trigger, elapsed_seconds=elapsed),
            )
            return info

    async def _record(self, status: BackupStatus) -> None:
        kv = await self.target.js.key_value(topology.BACKUP_STATUS.name)
        if not status.ok:  # keep showing when the last good one was made
            previous = await status_of(self.target)
            if previous is not None:
                status = msgspec.structs.replace(status, last_success_at=previous.last_success_at)
        await kv.put(STATUS_KEY, msgspec.json.encode(status))

    async def _list(self, _: views.Nothing) -> BackupList:
        backups = await asyncio.to_thread(operations.list_backups, self.schedule.directory)
        return BackupList(
            backups=tuple(backups),
            status=await status_of(self.target),
            keep=self.schedule.keep,
            directory=str(self.schedule.directory),
        )

    async def _create(self, request: CreateBackup) -> BackupInfo:
        if self._restoring is not None and not self._restoring.done():
            raise Conflict("a restore is running")
        return await self.backup(request.trigger if request.trigger in {"api", "cli"} else "api")

    async def _restore(self, request: RestoreBackup) -> RestoreAccepted:
        if self.around is None:
            raise Unavailable(
                "this backup duty cannot stop the services: run `librarrarian restore` with them stopped"
            )
        if not archive.NAME.match(request.name):
            raise BadRequest(f"{request.name!r} is not a backup's name")
        path = self.schedule.directory / request.name
        if not path.is_file():
            raise NotFound(f"there is no backup {request.name}")
        if self._busy.locked():
            raise Conflict("a backup or restore is running")
        try:
            manifest = await check(path)
        except BackupRefused as error:
            raise BadRequest(str(error)) from None
        self._restoring = asyncio.create_task(self._restore_later(path))
        return RestoreAccepted(name=path.name, created_at=manifest.created_at, schemas=manifest.schemas)

    async def _restore_later(self, path: Path) -> None:
        assert self.around is not None
        async with self._busy:

            async def restore() -> None:
                await operations.restore_backup(self.target, path, role_urls=self.role_urls)

            try:
                await self.around(restore)
            except Exception:  # the task's outermost edge: the services are running again; say why it failed
                log.exception("restoring %s failed; the records are as they were", path.name)


async def check(path: Path) -> archive.Manifest:
    """The whole file checked (members, checksums, versions) without restoring it."""

    def checked() -> archive.Manifest:
        with tempfile.TemporaryDirectory(prefix="check-") as scratch:
            return archive.open_checked(path, Path(scratch), operations.newest_migrations()).manifest

    return await asyncio.to_thread(checked)


async def status_of(target: Target) -> BackupStatus | None:
    kv = await target.js.key_value(topology.BACKUP_STATUS.name)
    try:
        entry = await kv.get(STATUS_KEY)
    except KeyNotFoundError:
        return None
    return msgspec.json.decode(entry.value or b"null", type=BackupStatus | None)
