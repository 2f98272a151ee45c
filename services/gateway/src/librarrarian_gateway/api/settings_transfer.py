"""Exporting and importing the settings as one JSON document (``/api/v1/settings/export`` and ``/import``).

The export holds the cluster's settings (what to encode and how, the library folders, the encoders' path
mappings, the theme, the events notified), never a secret and never a state: Plex and Jellyfin tokens stay with
the scanner, notification URLs with the gateway, node and queue controls are not settings. An import is
checked whole before anything is written, exactly as the routes that set each setting check it (the
contract's type, no unknown field, library folders inside ``MEDIA_PATHS``, no NUL byte anywhere): a bad file
changes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Body, HTTPException
from librarrarian_contracts.settings import (
    FOLDERS_KEY,
    NOTIFICATIONS_KEY,
    PATHS_KEY,
    TRANSCODE_KEY,
    UI_KEY,
    NotificationSettings,
    PathSettings,
    ScannerFolders,
    TranscodeSettings,
    UiSettings,
)

from ..access import ADMIN
from .dependencies import Bus, MediaPaths, SettingsBucket
from .scans import checked_folders

router = APIRouter(tags=["settings"])

FORMAT = 1
# Every exported setting: its key in the settings bucket, and the type that checks it.
EXPORTED: dict[str, type[Any]] = {
    TRANSCODE_KEY: TranscodeSettings,
    FOLDERS_KEY: ScannerFolders,
    PATHS_KEY: PathSettings,
    UI_KEY: UiSettings,
    NOTIFICATIONS_KEY: NotificationSettings,  # which events; the URLs are secrets and stay in the gateway
}


@router.get(
    "/settings/export", dependencies=ADMIN, summary="Every setting, as one JSON document (no secrets)"
)
async def export_settings(bus: Bus) -> dict[str, Any]:
    settings = {
        key: msgspec.to_builtins(await bus.setting(key, kind, kind())) for key, kind in EXPORTED.items()
    }
    return {
        "format": FORMAT,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": settings,
    }


@router.post(
    "/settings/import",
    dependencies=ADMIN,
    summary="Replace the settings with an exported document",
    description=(
        "Each setting in the document replaces the current one; settings it does not name stay as they are. "
        "The whole document is checked first: any error is a 422 and nothing changes."
    ),
)
async def import_settings(
    kv: SettingsBucket, media_paths: MediaPaths, document: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    if _holds_nul(document):
        raise HTTPException(400, "the document holds a NUL byte: no path or name may")
    if document.get("format") != FORMAT:
        raise HTTPException(422, f"not a settings export (format {FORMAT} expected)")
    given = document.get("settings")
    if not isinstance(given, dict):
        raise HTTPException(422, "the document has no settings")
    unknown = set(given) - set(EXPORTED)
    if unknown:
        raise HTTPException(422, f"unknown settings: {', '.join(sorted(unknown))}")
    checked = {}
    for key, value in given.items():
        kind = EXPORTED[key]
        if isinstance(value, dict) and (extra := set(value) - set(kind.__struct_fields__)):
            raise HTTPException(422, f"{key}: unknown fields {', '.join(sorted(extra))}")
        try:
            checked[key] = msgspec.convert(value, kind)
        except msgspec.ValidationError as error:
            raise HTTPException(422, f"{key}: {error}") from None
    if FOLDERS_KEY in checked:  # as PUT /settings/folders: each inside MEDIA_PATHS, stored resolved
        folders = [(f.path, f.type) for f in checked[FOLDERS_KEY].folders]
        checked[FOLDERS_KEY] = checked_folders(folders, media_paths)
    for key, value in checked.items():
        await kv.put(key, msgspec.json.encode(value))
    return {"imported": sorted(checked)}


def _holds_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False
