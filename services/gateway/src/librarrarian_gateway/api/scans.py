"""The REST API for scans and library folders: start a scan (all folders or one subdirectory, ``force`` to
probe everything again), follow running and recent scans, cancel one; read and set the library folders.

Scans run in the scanner. Starting and cancelling are commands on the ``CONTROL`` stream (so a scan asked
for while no scanner runs still happens); progress is read from the ``scans`` bucket the scanner writes.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal

import msgspec
from fastapi import APIRouter, HTTPException
from librarrarian_contracts import CancelScan, publish, topology
from librarrarian_contracts.scans import FINISHED, ScanStatus, scan_key
from librarrarian_contracts.settings import (
    FOLDERS_KEY,
    MAX_TRACK_LANGUAGES,
    LibraryFolder,
    ScannerFolders,
    TrackRules,
)
from librarrarian_runtime import kv_entries
from librarrarian_runtime.media_paths import OutsideMediaPaths, contain
from nats.js.errors import KeyNotFoundError
from pydantic import BaseModel, Field

from ..access import ADMIN, CONTROL, READ
from ..backend import Backend
from .dependencies import Bus, MediaPaths, SettingsBucket
from .models import ScanAccepted, ScanIn, ScanOut
from .struct_models import list_of

router = APIRouter(tags=["scans"])

RECENT = 50
# A running scan's entry is rewritten every second; one this old belongs to a scanner that went away.
STALE = timedelta(seconds=30)
SCAN_ID = re.compile(r"^[0-9a-f]{32}$")


class CancelOut(BaseModel):
    id: str
    detail: str


class TracksIn(BaseModel):
    languages: list[Annotated[str, Field(pattern=r"^[a-z]{2,3}$")]] = Field(
        default_factory=list,
        max_length=MAX_TRACK_LANGUAGES,
        description=(
            "audio and subtitle languages kept (ISO 639-2 such as eng or fre/fra, or ISO 639-1 such as en); "
            "empty: all. Untagged tracks, the original language and at least one audio track are always kept"
        ),
    )
    drop_commentary: bool = Field(False, description="drop commentary tracks (flagged, or titled so)")
    image_subtitles: bool = Field(True, description="keep picture subtitles (PGS, VobSub, DVB)")


class FolderIn(BaseModel):
    path: Annotated[str, Field(min_length=1, max_length=4096, description="a folder inside MEDIA_PATHS")]
    type: Literal["movies", "tv", "music_videos", "mixed", "none"] = Field(
        "mixed", description="none: never scanned (nor anything below it, unless a folder of its own)"
    )
    tracks: TracksIn | None = Field(
        None, description="the tracks a transcode of its files keeps, planned when a job is queued; null: all"
    )
    priority: int = Field(
        0, ge=-100, le=100, description="with the queue ordered by folder: higher goes first (-100 to 100)"
    )
    review: bool = Field(
        False,
        description=(
            "review before replace: a transcode's verified output waits as ready_to_replace until a user "
            "accepts it (it replaces the original) or rejects it (it is deleted); decided when a job is queued"
        ),
    )


class FoldersIn(BaseModel):
    folders: list[FolderIn] = Field(
        default_factory=list, description="empty: each media path as one folder of type mixed"
    )


class FoldersOut(BaseModel):
    folders: list[FolderIn]
    default: bool = Field(description="true: nothing is set, each media path is one mixed folder")


def _out(status: ScanStatus, now: datetime) -> dict[str, object]:
    shown = msgspec.to_builtins(status)
    shown["id"] = shown.pop("scan_id")
    if status.state not in FINISHED and now - status.updated_at > STALE:
        shown["state"] = "interrupted"
    return shown  # type: ignore[no-any-return]


async def _scans(bus: Backend) -> list[ScanStatus]:
    found = []
    for _, value in await kv_entries.values(bus.js, topology.SCANS):
        with contextlib.suppress(msgspec.DecodeError, msgspec.ValidationError):
            found.append(msgspec.json.decode(value, type=ScanStatus))
    return sorted(found, key=lambda s: s.started_at, reverse=True)


async def _scan(bus: Backend, scan_id: str) -> ScanStatus | None:
    kv = await bus.js.key_value(topology.SCANS.name)
    try:
        value = (await kv.get(scan_key(scan_id))).value
    except KeyNotFoundError:
        return None
    return msgspec.json.decode(value, type=ScanStatus) if value else None


@router.post(
    "/scans",
    dependencies=CONTROL,
    response_model=ScanAccepted,
    status_code=202,
    summary="Scan the library folders, or some folders inside them",
    description="The id is the scan's: follow it in GET /api/v1/scans, stop it with POST …/{id}/cancel.",
)
async def start_scan(body: ScanIn, bus: Bus, media_paths: MediaPaths) -> object:
    roots = []
    for root in body.roots:
        try:
            roots.append(str(contain(root, media_paths)))
        except (OutsideMediaPaths, RuntimeError, OSError):  # RuntimeError: a symlink loop
            raise HTTPException(400, f"{root} is outside the media paths") from None
    command = await bus.request_scan(tuple(roots), body.force)
    return {"id": command.event_id, "roots": roots, "force": body.force}


@router.get(
    "/scans",
    dependencies=READ,
    response_model=list_of(ScanOut),
    summary="Running and recent scans with their progress",
)
async def scans(bus: Bus) -> list[dict[str, object]]:
    now = datetime.now(UTC)
    return [_out(s, now) for s in (await _scans(bus))[:RECENT]]


@router.get("/scans/{scan_id}", dependencies=READ, response_model=ScanOut, summary="One scan's progress")
async def scan(scan_id: str, bus: Bus) -> dict[str, object]:
    status = await _scan(bus, scan_id) if SCAN_ID.match(scan_id) else None
    if status is None:
        raise HTTPException(404, "no such scan (or it is still waiting for a scanner)")
    return _out(status, datetime.now(UTC))


@router.post(
    "/scans/{scan_id}/cancel",
    dependencies=CONTROL,
    response_model=CancelOut,
    status_code=202,
    summary="Stop a scan",
    description=(
        "A running scan stops after the files being probed; what it did not reach is neither probed nor "
        "forgotten. A scan still waiting for its turn is dropped. 409 when it has already ended."
    ),
)
async def cancel(scan_id: str, bus: Bus) -> dict[str, str]:
    if not SCAN_ID.match(scan_id):
        raise HTTPException(404, "no such scan")
    status = await _scan(bus, scan_id)
    if status is not None and status.state in FINISHED:
        raise HTTPException(409, f"the scan has already ended ({status.state})")
    command = CancelScan(scan_id=scan_id)
    await publish(bus.js, command, topology.scan_cancel_subject(scan_id))
    return {"id": scan_id, "detail": "cancel requested"}


@router.get(
    "/settings/folders",
    dependencies=READ,
    response_model=FoldersOut,
    summary="The library folders and their types",
)
async def get_folders(bus: Bus) -> dict[str, object]:
    value = await bus.setting(FOLDERS_KEY, ScannerFolders, ScannerFolders())
    return {"folders": msgspec.to_builtins(value.folders), "default": not value.folders}


@router.put(
    "/settings/folders",
    dependencies=ADMIN,
    response_model=FoldersOut,
    summary="Set the library folders",
    description=(
        "Each folder must lie inside MEDIA_PATHS (400 otherwise, and nothing changes). The scanner applies "
        "the change without restarting, from its next scan on."
    ),
)
async def put_folders(body: FoldersIn, kv: SettingsBucket, media_paths: MediaPaths) -> dict[str, object]:
    given = [
        LibraryFolder(
            path=f.path,
            type=f.type,
            tracks=msgspec.convert(f.tracks.model_dump(), TrackRules) if f.tracks else None,
            priority=f.priority,
            review=f.review,
        )
        for f in body.folders
    ]
    value = checked_folders(given, media_paths)
    await kv.put(FOLDERS_KEY, msgspec.json.encode(value))
    return {"folders": msgspec.to_builtins(value.folders), "default": not value.folders}


def checked_folders(given: Sequence[LibraryFolder], media_paths: tuple[Path, ...]) -> ScannerFolders:
    """The folders resolved, each inside the media paths and listed once, or a 400 naming the first that is
    not (the settings import checks its folders here too)."""
    folders = []
    for folder in given:
        try:
            resolved = contain(folder.path, media_paths)
        except (OutsideMediaPaths, RuntimeError, OSError):  # RuntimeError: a symlink loop
            raise HTTPException(400, f"{folder.path!r} is outside the media paths") from None
        folders.append(msgspec.structs.replace(folder, path=str(resolved)))
    if len({f.path for f in folders}) != len(folders):
        raise HTTPException(400, "a folder is listed twice")
    return ScannerFolders(folders=tuple(folders))
