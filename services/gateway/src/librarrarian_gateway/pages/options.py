"""The options page: transcoding (the ``transcode`` setting, saved through ``PATCH
/api/v1/settings/transcode``), the system (the theme through ``PATCH /api/v1/settings/ui``, the encoders' path
mappings through ``PUT /api/v1/settings/paths``, the media paths to read; how often and how hard the
services work: the scan interval, cleanup, the tries per job and each live node's slots, through
``/api/v1/settings/{scanner,cleanup,scheduler}`` and ``/api/v1/nodes/{node}/slots``) and the integrations: the
library folders, picked from the media paths' folders (``/api/v1/media/folders``), and Plex and Jellyfin as
the scanner reports them, set up by ``sources.js`` through ``/api/v1/sources``; Sonarr, Radarr and Lidarr as
the arr service reports them, set up by ``arr.js`` through ``/api/v1/arr``; the notifications
(``notifications.js`` through ``/api/v1/notifications``); the users and API keys, managed by ``access.js``
through ``/api/v1/users`` and ``/api/v1/keys``. Only admins see it."""

from __future__ import annotations

from typing import Any

import msgspec
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from librarrarian_contracts import arr, sources, topology, views
from librarrarian_contracts.settings import (
    CLEANUP_KEY,
    FOLDERS_KEY,
    MAX_SLOTS,
    NOTIFICATIONS_KEY,
    ORDER_KEY,
    PATHS_KEY,
    RETRIES_KEY,
    SCANNER_TIMING_KEY,
    STREAMING_KEY,
    TRANSCODE_KEY,
    CleanupSettings,
    EncoderFamily,
    NodeSlots,
    NotificationSettings,
    PathSettings,
    QueueOrder,
    RetrySettings,
    ScannerFolders,
    ScannerTiming,
    StreamingSettings,
    TranscodeSettings,
    slots_key,
)
from librarrarian_contracts.topology import HwClass
from librarrarian_runtime.queries import ask

from .. import accounts, webhook_secrets
from ..access import ADMIN
from ..api.service_settings import current as stored
from ..backend import Backend
from ..credentials import SCOPES
from ..notify import targets
from ..theme import THEMES
from .rendering import backend, render, unless_unanswered

router = APIRouter()
VIEWS = ("standard", "advanced", "all")
# The pause while streaming's choices, as the Options page names them.
STREAMING_CHOICES = (
    ("off", "Never"),
    ("same_machine", "Nodes on the media server's machine"),
    ("all", "Every node"),
)
FOLDER_TYPES = (
    ("movies", "Movies"),
    ("tv", "TV shows"),
    ("music_videos", "Music videos"),
    ("mixed", "Mixed"),
    ("none", "None (ignore)"),
)
TIERS = (("sd", "SD"), ("720p", "720p"), ("1080p", "1080p"), ("4k", "4K"))
SCANNER_SECONDS = 3.0
ARR_SECONDS = 3.0
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


async def arr_apps(request: Request) -> tuple[dict[str, Any] | None, str | None]:
    """Sonarr, Radarr and Lidarr as the arr service reports them (``configured``, never a key)."""
    found, problem = await unless_unanswered(
        ask(request.app.state.nc, topology.ARR_STATUS, views.Nothing(), arr.ArrStatus, ARR_SECONDS)
    )
    return (msgspec.to_builtins(found) if found else None), problem


@router.get("/options", dependencies=ADMIN, response_class=HTMLResponse)
async def options(request: Request, view: str = "standard") -> HTMLResponse:
    bus = backend(request)
    current = await bus.setting(TRANSCODE_KEY, TranscodeSettings, TranscodeSettings())
    folders = await bus.setting(FOLDERS_KEY, ScannerFolders, ScannerFolders())
    paths = await bus.setting(PATHS_KEY, PathSettings, PathSettings())
    live_nodes = await bus.nodes()
    live = {view.status.node for view in live_nodes}
    named = {m.node for m in paths.mappings if m.node is not None}
    linked, unreachable = await integrations(request)
    apps, apps_problem = await arr_apps(request)
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
        arr=apps,
        arr_problem=apps_problem,
        users=await accounts.users(request.app.state.pool),
        keys=await accounts.keys(request.app.state.pool),
        scopes=SCOPES,
        notify=notify,
        notify_events=NOTIFY_EVENTS,
        notify_targets=await targets.listed(request.app.state.pool),
        scanner=await stored(bus, SCANNER_TIMING_KEY, ScannerTiming()),
        cleanup=await stored(bus, CLEANUP_KEY, CleanupSettings()),
        retries=await stored(bus, RETRIES_KEY, RetrySettings()),
        queue_order=await stored(bus, ORDER_KEY, QueueOrder()),
        streaming=await stored(bus, STREAMING_KEY, StreamingSettings()),
        streaming_choices=STREAMING_CHOICES,
        node_slots=[await _slots(bus, view.status.node, view.status.classes) for view in live_nodes],
        max_slots=MAX_SLOTS,
        plex_webhook=await webhook_secrets.made_at(request.app.state.pool, sources.PLEX),
    )


async def _slots(bus: Backend, node: str, classes: tuple[str, ...]) -> tuple[str, list[tuple[str, int]]]:
    """A live node and, for each class it encodes with, its slots as set (a new node has seeded them)."""
    chosen = await stored(bus, slots_key(node), NodeSlots())
    return node, [(hw, chosen.of(HwClass(hw))) for hw in classes]
