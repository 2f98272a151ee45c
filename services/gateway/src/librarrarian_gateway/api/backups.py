"""Backups (``/api/v1/backups``): list them with the last backup's outcome, make one, download one, restore
a listed or an uploaded one. The backup duty (in ``librarrarian up``) makes and restores them; the gateway
reads and writes only its folder (``BACKUP_DIR``), for downloads and uploads.

A backup holds the Plex and Jellyfin tokens and the users' password hashes: these routes are for
administrators, and a download is served with no caching.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse
from librarrarian_contracts import topology, views
from librarrarian_contracts.backups import (
    BackupInfo,
    BackupList,
    CreateBackup,
    RestoreAccepted,
    RestoreBackup,
)
from librarrarian_runtime.errors import ServiceError
from librarrarian_runtime.queries import ask

from ..access import ADMIN
from .dependencies import Bus

router = APIRouter(tags=["backups"])

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,120}\.tar$")  # as the duty names and accepts them
UPLOAD_LIMIT = 20 << 30
# A dump of a large library takes a while; the duty answers when the file is written.
CREATE_SECONDS = 600.0
CHECK_SECONDS = 120.0


def folder(request: Request) -> Path:
    found: Path | None = request.app.state.settings.backup_dir
    if found is None:
        raise HTTPException(503, "no backup folder here: `librarrarian up` runs the backups")
    return found


@router.get(
    "/backups", dependencies=ADMIN, summary="The backups, newest first, and the last backup's outcome"
)
async def list_backups(bus: Bus) -> dict[str, Any]:
    found = await ask(bus.nc, topology.BACKUPS_LIST, views.Nothing(), BackupList)
    return msgspec.to_builtins(found)  # type: ignore[no-any-return]


@router.post("/backups", dependencies=ADMIN, summary="Make a backup now")
async def create_backup(bus: Bus) -> dict[str, Any]:
    made = await ask(bus.nc, topology.BACKUPS_CREATE, CreateBackup(trigger="api"), BackupInfo, CREATE_SECONDS)
    return msgspec.to_builtins(made)  # type: ignore[no-any-return]


@router.get(
    "/backups/{name}", dependencies=ADMIN, summary="Download a backup (it holds tokens: keep it private)"
)
async def download_backup(name: str, request: Request) -> FileResponse:
    path = folder(request) / name
    if not NAME.match(name) or not await asyncio.to_thread(path.is_file):
        raise HTTPException(404, f"there is no backup {name}")
    return FileResponse(
        path, media_type="application/x-tar", filename=name, headers={"Cache-Control": "no-store"}
    )


@router.post(
    "/backups/{name}/restore",
    dependencies=ADMIN,
    summary="Restore a listed backup",
    description="The file is checked whole first (a bad one is a 400 and nothing changes); then the services "
    "stop, the records are replaced, and they start again: the dashboard is away for a moment.",
)
async def restore_backup(name: str, bus: Bus) -> dict[str, Any]:
    accepted = await ask(
        bus.nc, topology.BACKUPS_RESTORE, RestoreBackup(name=name), RestoreAccepted, CHECK_SECONDS
    )
    return msgspec.to_builtins(accepted)  # type: ignore[no-any-return]


@router.post(
    "/backups/upload",
    dependencies=ADMIN,
    summary="Upload a backup file (the request's body) and restore it",
    description="Kept in the backup folder as uploaded-<time>.tar when it is accepted, deleted when refused "
    "or when no restore can be made now.",
)
async def upload_backup(request: Request, bus: Bus) -> dict[str, Any]:
    directory = folder(request)
    name = f"uploaded-{datetime.now(UTC):%Y%m%dT%H%M%S%f}.tar"
    path = directory / name
    fd = await asyncio.to_thread(os.open, path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        size = 0
        with os.fdopen(fd, "wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > UPLOAD_LIMIT:
                    raise HTTPException(413, "the file is larger than a backup can be")
                await asyncio.to_thread(out.write, chunk)
        accepted = await ask(
            bus.nc, topology.BACKUPS_RESTORE, RestoreBackup(name=name), RestoreAccepted, CHECK_SECONDS
        )
    except (HTTPException, ServiceError):
        # Refused (a bad file), or not taken at all (a restore running, a duty that cannot stop the
        # services, none answering): not kept, so it cannot be restored later by its name by mistake.
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(path.unlink)
        raise
    return msgspec.to_builtins(accepted)  # type: ignore[no-any-return]
