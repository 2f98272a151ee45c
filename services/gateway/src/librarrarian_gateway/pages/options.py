"""The options page: transcoding (the ``transcode`` setting, saved through ``PATCH
/api/v1/settings/transcode``), the system (the theme through ``PATCH /api/v1/settings/ui``, the encoders' path
mappings through ``PUT /api/v1/settings/paths``, the media paths to read) and the integrations: the library
folders, and Plex and Jellyfin as the scanner reports them, set up by ``sources.js`` through
``/api/v1/sources``; the notifications (``notifications.js`` through ``/api/v1/notifications``)."""

from __future__ import annotations

from typing import Any

import msgspec
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from librarrarian_contracts import sources, topology, views
from librarrarian_contracts.settings import (
    FOLDERS_KEY,
    NOTIFICATIONS_KEY,
    PATHS_KEY,
    TRANSCODE_KEY,
    EncoderFamily,
    NotificationSettings,
    PathSettings,
    ScannerFolders,
    TranscodeSettings,
)
from librarrarian_runtime.queries import ask

from .. import webhook_secrets
from ..notify import targets
from ..theme import THEMES
from .rendering import backend, render, unless_unanswered

router = APIRouter()
VIEWS = ("standard", "advanced", "all")
FOLDER_TYPES = (
    ("movies", "Movies"),
    ("tv", "TV shows"),
    ("music_videos", "Music videos"),
    ("mixed", "Mixed"),
    ("none", "None (ignore)"),
)
TIERS = (("sd", "SD"), ("720p", "720p"), ("1080p", "1080p"), ("4k", "4K"))
SCANNER_SECONDS = 3.0
NOTIFY_EVENTS = (
    ("job_failed", "a job failed for good"),
    ("node_offline", "an encoder node goes offline"),
    ("queue_drained", "the queue is empty"),
    ("backup_failed", "a backup failed"),
    ("version_mismatch", "a node runs another version than the dashboard"),
)


async def integrations(request: Request) -> tuple[dict[str, Any] | None, str | None]:
    """Plex and Jellyfin as the scanner reports them (``configured``, never a token)."""
    found, problem = await unless_unanswered(
        ask(
            request.app.state.nc,
            topology.SOURCES_STATUS,
            views.Nothing(),
            sources.SourcesStatus,
            SCANNER_SECONDS,
        )
    )
    return (msgspec.to_builtins(found) if found else None), problem


@router.get("/options", response_class=HTMLResponse)
async def options(request: Request, view: str = "standard") -> HTMLResponse:
    bus = backend(request)
    current = await bus.setting(TRANSCODE_KEY, TranscodeSettings, TranscodeSettings())
    folders = await bus.setting(FOLDERS_KEY, ScannerFolders, ScannerFolders())
    paths = await bus.setting(PATHS_KEY, PathSettings, PathSettings())
    live = {view.status.node for view in await bus.nodes()}
    named = {m.node for m in paths.mappings if m.node is not None}
    linked, unreachable = await integrations(request)
    notify = await bus.setting(NOTIFICATIONS_KEY, NotificationSettings, NotificationSettings())
    return render(
        request,
        "options.html",
        transcode=msgspec.to_builtins(current),
        families=[family.value for family in EncoderFamily],
        tiers=TIERS,
        view=view if view in VIEWS else "standard",
        views=VIEWS,
        themes=THEMES,
        media_paths=[str(path) for path in request.app.state.settings.media_paths],
        path_mappings=msgspec.to_builtins(paths.mappings),
        nodes=[(name, name in live) for name in sorted(live | named)],
        sources=linked,
        folders=msgspec.to_builtins(folders.folders),
        folder_types=FOLDER_TYPES,
        sources_problem=unreachable,
        notify=notify,
        notify_events=NOTIFY_EVENTS,
        notify_targets=await targets.listed(request.app.state.pool),
        plex_webhook=await webhook_secrets.made_at(request.app.state.pool, sources.PLEX),
    )
