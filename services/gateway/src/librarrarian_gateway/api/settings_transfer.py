"""Exporting and importing the settings as one JSON document (``/api/v1/settings/export`` and ``/import``).

The export holds every setting a user chooses, never a secret and never a state: what to encode and how, the
library folders, the encoders' path mappings, the theme, the events notified, the scan interval, the cleanup
age and interval, the tries per job, each node's schedule and slots, and the Plex and Jellyfin servers,
libraries and path mappings. Plex and Jellyfin tokens stay with the scanner, notification URLs with the
gateway; node and queue controls (start, stop, pause) are not settings.

An import is checked whole before anything is written, each part exactly as its own route checks it (the
contract's type, no unknown field, library folders inside ``MEDIA_PATHS``, no NUL byte anywhere; Plex and
Jellyfin by the scanner, which checks without storing first): a bad file changes nothing. Settings it does not name stay as they are.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Body, HTTPException
from librarrarian_contracts import sources, topology
from librarrarian_contracts.settings import (
    CLEANUP_KEY,
    FOLDERS_KEY,
    NOTIFICATIONS_KEY,
    ORDER_KEY,
    PATHS_KEY,
    RETRIES_KEY,
    SCANNER_TIMING_KEY,
    STREAMING_KEY,
    TRANSCODE_KEY,
    UI_KEY,
    CleanupSettings,
    NodeSchedule,
    NodeSlots,
    NotificationSettings,
    PathSettings,
    QueueOrder,
    RetrySettings,
    ScannerFolders,
    ScannerTiming,
    StreamingSettings,
    TranscodeSettings,
    UiSettings,
)
from librarrarian_runtime import kv_entries
from librarrarian_runtime.errors import BadRequest, Conflict, NotFound, Unavailable
from nats.js import JetStreamContext
from pydantic import BaseModel, ConfigDict, ValidationError

from ..access import ADMIN
from ..backend import Backend
from .dependencies import Bus, MediaPaths, SettingsBucket
from .scans import checked_folders
from .sources import NOTHING, JellyfinIn, PlexSelectionIn, ask_scanner, jellyfin_setup, plex_selection

router = APIRouter(tags=["settings"])

FORMAT = 1
# Every exported setting of the cluster: its key in the settings bucket, and the type that checks it.
EXPORTED: dict[str, type[Any]] = {
    TRANSCODE_KEY: TranscodeSettings,
    FOLDERS_KEY: ScannerFolders,
    PATHS_KEY: PathSettings,
    UI_KEY: UiSettings,
    NOTIFICATIONS_KEY: NotificationSettings,  # which events; the URLs are secrets and stay in the gateway
    SCANNER_TIMING_KEY: ScannerTiming,
    CLEANUP_KEY: CleanupSettings,
    RETRIES_KEY: RetrySettings,
    ORDER_KEY: QueueOrder,
    STREAMING_KEY: StreamingSettings,
}
# Each node's settings, one key per node (``schedule.<node>``): the prefix and the type.
PER_NODE: dict[str, type[Any]] = {"schedule": NodeSchedule, "slots": NodeSlots}
_PER_NODE_KEY = re.compile(r"^(schedule|slots)\.[-_=a-zA-Z0-9]{1,128}$")


class SourcesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    plex: PlexSelectionIn | None = None
    jellyfin: JellyfinIn | None = None


def _type_of(key: str) -> type[Any] | None:
    if key in EXPORTED:
        return EXPORTED[key]
    if _PER_NODE_KEY.match(key):
        return PER_NODE[key.partition(".")[0]]
    return None


async def _node_keys(js: JetStreamContext) -> list[str]:
    """The per-node settings there are (listed from the stream: ``kv_entries``); deleted ones too, which
    read as unset."""
    return [k for k in await kv_entries.keys(js, topology.SETTINGS) if _PER_NODE_KEY.match(k)]


async def _stored(bus: Backend, key: str, kind: type[Any]) -> Any:
    try:
        return await bus.setting(key, kind, kind())
    except (msgspec.DecodeError, msgspec.ValidationError):
        return kind()  # written by hand and ignored by its service: the defaults are what applies


@router.get(
    "/settings/export", dependencies=ADMIN, summary="Every setting, as one JSON document (no secrets)"
)
async def export_settings(bus: Bus) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for key in [*EXPORTED, *await _node_keys(bus.js)]:
        kind = _type_of(key)
        assert kind is not None
        value = await _stored(bus, key, kind)
        settings[key] = msgspec.to_builtins(value, order="deterministic")
    document: dict[str, Any] = {
        "format": FORMAT,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": settings,
    }
    try:
        document["sources"] = await _chosen_sources(bus)
    except Unavailable:
        # The rest is still worth having; the document says what it lacks rather than holding an empty part.
        document["missing"] = ["sources: no scanner answered, so Plex and Jellyfin are not in this export"]
    return document


async def _chosen_sources(bus: Backend) -> dict[str, Any]:
    """Plex's and Jellyfin's servers, libraries and mappings, without their tokens and keys."""
    status = await ask_scanner(bus, topology.SOURCES_STATUS, NOTHING, sources.SourcesStatus)
    chosen: dict[str, Any] = {}
    if status.plex.server_id:
        plex = status.plex
        chosen["plex"] = {
            "server_id": plex.server_id,
            "url": plex.url,
            "sections": plex.sections,
            "mappings": plex.mappings,
        }
    if status.jellyfin.url:
        jellyfin = status.jellyfin
        chosen["jellyfin"] = {
            "url": jellyfin.url,
            "libraries": jellyfin.libraries,
            "mappings": jellyfin.mappings,
        }
    return msgspec.to_builtins(chosen)  # type: ignore[no-any-return]


@router.post(
    "/settings/import",
    dependencies=ADMIN,
    summary="Replace the settings with an exported document",
    description=(
        "Each setting in the document replaces the current one; settings it does not name stay as they are. "
        "Plex and Jellyfin (`sources`) are set as their own routes set them: Plex needs a linked account "
        "whose servers include the one named, and Jellyfin keeps its stored API key only for the same "
        "server. The whole document is checked first: any error is a 422 and nothing changes."
    ),
)
async def import_settings(
    kv: SettingsBucket, bus: Bus, media_paths: MediaPaths, document: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    if _holds_nul(document):
        raise HTTPException(400, "the document holds a NUL byte: no path or name may")
    if document.get("format") != FORMAT:
        raise HTTPException(422, f"not a settings export (format {FORMAT} expected)")
    unknown_parts = set(document) - {"format", "exported_at", "settings", "sources", "missing"}
    if unknown_parts:
        raise HTTPException(422, f"unknown parts: {', '.join(sorted(unknown_parts))}")
    given = document.get("settings", {})
    if not isinstance(given, dict):
        raise HTTPException(422, "the document's settings are not an object")
    checked = {key: _checked(key, value) for key, value in given.items()}
    if FOLDERS_KEY in checked:  # as PUT /settings/folders: each inside MEDIA_PATHS, stored resolved
        checked[FOLDERS_KEY] = checked_folders(checked[FOLDERS_KEY].folders, media_paths)
    try:
        chosen = SourcesIn.model_validate(document.get("sources") or {})
    except ValidationError as error:
        raise HTTPException(422, f"sources: {_first(error)}") from None
    plex = plex_selection(chosen.plex) if chosen.plex else None
    jellyfin = jellyfin_setup(chosen.jellyfin) if chosen.jellyfin else None
    # The scanner checks each source as it would set it, storing nothing; only then is anything written. A
    # refusal is the document's fault (422); the rest (no scanner, Plex down) keep their status.
    for name, subject, request, reply in _source_requests(plex, jellyfin, check_only=True):
        try:
            await ask_scanner(bus, subject, request, reply)
        except (BadRequest, NotFound, Conflict) as error:
            raise HTTPException(422, f"sources.{name}: {error}") from None
    for _, subject, request, reply in _source_requests(plex, jellyfin, check_only=False):
        await ask_scanner(bus, subject, request, reply)
    for key, value in checked.items():
        await kv.put(key, msgspec.json.encode(value))
    imported = sorted(checked) + [f"sources.{name}" for name, *_ in _source_requests(plex, jellyfin, False)]
    return {"imported": imported}


def _checked(key: str, value: object) -> Any:
    kind = _type_of(key)
    if kind is None:
        raise HTTPException(422, f"unknown setting: {key}")
    unknown = set(value) - set(kind.__struct_encode_fields__) if isinstance(value, dict) else set()
    if unknown:  # as the routes refuse them: a misspelt field is not silently dropped
        raise HTTPException(422, f"{key}: unknown fields: {', '.join(sorted(unknown))}")
    try:
        return msgspec.convert(value, kind)
    except msgspec.ValidationError as error:
        raise HTTPException(422, f"{key}: {error}") from None


def _source_requests(
    plex: sources.PlexSelection | None, jellyfin: sources.JellyfinSetup | None, check_only: bool
) -> list[tuple[str, str, msgspec.Struct, type[Any]]]:
    found: list[tuple[str, str, msgspec.Struct, type[Any]]] = []
    if plex is not None:
        request = msgspec.structs.replace(plex, check_only=check_only)
        found.append((sources.PLEX, topology.SOURCES_PLEX_SELECT, request, sources.PlexStatus))
    if jellyfin is not None:
        request_j = msgspec.structs.replace(jellyfin, check_only=check_only)
        found.append((sources.JELLYFIN, topology.SOURCES_JELLYFIN_SET, request_j, sources.JellyfinStatus))
    return found


def _first(error: ValidationError) -> str:
    problem = error.errors()[0]
    where = ".".join(str(part) for part in problem["loc"])
    return f"{where}: {problem['msg']}" if where else str(problem["msg"])


def _holds_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False
