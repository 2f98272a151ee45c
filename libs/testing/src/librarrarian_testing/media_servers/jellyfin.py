"""A fake Jellyfin answering JSON as its OpenAPI document describes."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .recording import Recorder, Seen

# --- Jellyfin -------------------------------------------------------------------------------------------


@dataclass
class FakeLibrary:
    name: str
    collection_type: str  # movies | tvshows | musicvideos | mixed
    locations: tuple[str, ...]
    files: tuple[str, ...] = ()
    item_id: str = field(default_factory=lambda: uuid.uuid4().hex)


@dataclass
class FakeJellyfin(Recorder):
    api_key: str = field(default_factory=lambda: uuid.uuid4().hex)
    libraries: list[FakeLibrary] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)  # bodies of POST /Library/Media/Updated
    # Clients watching now, each paused or not (``GET /Sessions``); an idle client is listed too.
    watching: list[bool] = field(default_factory=list)  # IsPaused of each

    def sessions_json(self) -> list[dict[str, Any]]:
        """``GET /Sessions`` as the document describes it: SessionInfoDto items, one idle (no
        NowPlayingItem) and one per watcher with its NowPlayingItem and PlayState."""
        idle = {
            "Id": "idle-session",
            "UserName": "viewer",
            "Client": "Jellyfin Web",
            "DeviceName": "Laptop",
            "DeviceId": "device-idle",
            "IsActive": True,
            "PlayState": {"CanSeek": False, "IsPaused": False, "IsMuted": False, "RepeatMode": "RepeatNone"},
        }
        playing = [
            {
                "Id": f"session-{number}",
                "UserName": "viewer",
                "Client": "Jellyfin Android TV",
                "DeviceName": "Living room",
                "DeviceId": f"device-{number}",
                "IsActive": True,
                "NowPlayingItem": {
                    "Name": f"Film {number}",
                    "Id": uuid.uuid5(uuid.NAMESPACE_URL, f"film-{number}").hex,
                    "Type": "Movie",
                    "MediaType": "Video",
                    "IsFolder": False,
                },
                "PlayState": {
                    "PositionTicks": 600_000_000,
                    "CanSeek": True,
                    "IsPaused": paused,
                    "IsMuted": False,
                    "PlayMethod": "Transcode",
                    "RepeatMode": "RepeatNone",
                },
            }
            for number, paused in enumerate(self.watching, 1)
        ]
        return [idle, *playing]

    def _authorized(self, seen: Seen) -> bool:
        return f'Token="{self.api_key}"' in seen.headers.get("authorization", "")

    def build(self) -> Starlette:
        item_types = {"movies": "Movie", "tvshows": "Episode", "musicvideos": "MusicVideo"}

        async def system_info(request: Request) -> Response:
            seen = await self.record(request)
            if not self._authorized(seen):
                return Response(status_code=401)
            return JSONResponse(
                {
                    "ServerName": "Fake Jellyfin",
                    "Version": "10.10.7",
                    "Id": "f" * 32,
                    "StartupWizardCompleted": True,
                }
            )

        async def virtual_folders(request: Request) -> Response:
            seen = await self.record(request)
            if not self._authorized(seen):
                return Response(status_code=401)
            return JSONResponse(
                [
                    {
                        "Name": lib.name,
                        "Locations": list(lib.locations),
                        "CollectionType": lib.collection_type,
                        "ItemId": lib.item_id,
                        "RefreshStatus": "Idle",
                    }
                    for lib in self.libraries
                ]
            )

        async def items(request: Request) -> Response:
            seen = await self.record(request)
            if not self._authorized(seen):
                return Response(status_code=401)
            query = request.query_params
            libraries = [lib for lib in self.libraries if query.get("parentId") in (None, lib.item_id)]
            wanted = set(filter(None, (query.get("includeItemTypes") or "").split(",")))
            fields = set((query.get("fields") or "").split(","))
            everything = []
            for lib in libraries:
                kind = item_types.get(lib.collection_type, "Video")
                if wanted and kind not in wanted:
                    continue
                for file in lib.files:
                    item: dict[str, Any] = {
                        "Name": Path(file).stem,
                        "Id": str(uuid.uuid5(uuid.NAMESPACE_URL, file)),
                        "Type": kind,
                        "IsFolder": False,
                        "MediaType": "Video",
                    }
                    if "Path" in fields:
                        item["Path"] = file
                    everything.append(item)
            start = int(query.get("startIndex") or 0)
            limit = int(query.get("limit") or len(everything) or 1)
            return JSONResponse(
                {
                    "Items": everything[start : start + limit],
                    "TotalRecordCount": len(everything),
                    "StartIndex": start,
                }
            )

        async def media_updated(request: Request) -> Response:
            seen = await self.record(request)
            if not self._authorized(seen):
                return Response(status_code=401)
            self.updates.append(json.loads(seen.body))
            return Response(status_code=204)

        async def sessions(request: Request) -> Response:
            seen = await self.record(request)
            if not self._authorized(seen):
                return Response(status_code=401)
            return JSONResponse(self.sessions_json())

        return self.app(
            [
                Route("/System/Info", system_info, methods=["GET"]),
                Route("/Sessions", sessions, methods=["GET"]),
                Route("/Library/VirtualFolders", virtual_folders, methods=["GET"]),
                Route("/Items", items, methods=["GET"]),
                Route("/Library/Media/Updated", media_updated, methods=["POST"]),
            ]
        )
