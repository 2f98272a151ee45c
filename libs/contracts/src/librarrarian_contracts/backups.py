"""What the backup duty tells the dashboard and the API: the backups it keeps, the last backup's outcome
(key ``status`` in the ``backups`` bucket), and its answers to a backup or restore asked for.

A new field gets a default: a status written by an older duty is still read.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

STATUS_KEY = "status"


class BackupInfo(msgspec.Struct, frozen=True, kw_only=True):
    """One backup file, as its manifest describes it."""

    name: str
    size: int
    created_at: datetime
    app_version: str
    schemas: dict[str, int]  # schema -> its newest migration in the backup


class BackupStatus(msgspec.Struct, frozen=True, kw_only=True):
    """The last backup attempt: when, and either the file it made or why it failed."""

    attempted_at: datetime
    ok: bool
    trigger: str  # schedule, api, cli
    name: str | None = None
    size: int | None = None
    error: str | None = None
    last_success_at: datetime | None = None


class BackupList(msgspec.Struct, frozen=True, kw_only=True):
    backups: tuple[BackupInfo, ...]  # newest first
    status: BackupStatus | None = None
    keep: int = 7
    directory: str = ""


class CreateBackup(msgspec.Struct, frozen=True, kw_only=True):
    trigger: str = "api"


class RestoreBackup(msgspec.Struct, frozen=True, kw_only=True):
    """Restore the named file in the backup folder (checked whole before anything changes)."""

    name: str


class RestoreAccepted(msgspec.Struct, frozen=True, kw_only=True):
    """The file was checked and the restore begins: the services stop, and start again on the restored
    records (the dashboard is away meanwhile)."""

    name: str
    created_at: datetime
    schemas: dict[str, int]
