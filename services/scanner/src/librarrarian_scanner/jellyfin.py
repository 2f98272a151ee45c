"""Jellyfin through its HTTP API (httpx): the server's name, its libraries, the path of every video in them,
and telling it which files changed.

Endpoints, all in Jellyfin's OpenAPI document: ``GET /System/Info``, ``GET /Library/VirtualFolders``,
``GET /Items`` (with ``fields=Path``, a page at a time), ``POST /Library/Media/Updated`` and ``GET /Sessions``
(who is watching). The API key
travels in the ``Authorization`` header the document declares, never in a URL.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import httpx
from librarrarian_contracts.sources import Library
from librarrarian_runtime.bus import redact

from .source_store import SourceError

PAGE = 500
# The most items read from one library: more than any home library, and a bound on a hostile server.
MAX_ITEMS = 1_000_000
# Jellyfin's item types that are single video files (series and seasons are folders of episodes).
VIDEO_ITEM_TYPES = "Movie,Episode,MusicVideo,Video"
# Sessions heard from within this long count (Jellyfin's own dashboard uses 960 s); a client that vanished
# without saying so drops out after it.
ACTIVE_WITHIN_SECONDS = 960


def authorization(api_key: str) -> str:
    return f'MediaBrowser Client="Librarrarian", Device="scanner", DeviceId="librarrarian-scanner", Version="1", Token="{api_key}"'


class Jellyfin:
    def __init__(self, http: httpx.AsyncClient, url: str, api_key: str) -> None:
        self.http = http
        self.url = url.rstrip("/")
        self.shown = redact(self.url)  # for messages: a URL may carry a user and password
        self._api_key = api_key

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = await self.http.request(
                method,
                f"{self.url}{path}",
                headers={"Authorization": authorization(self._api_key), "Accept": "application/json"},
                **kwargs,
            )
        except httpx.HTTPError as error:
            raise SourceError(f"Jellyfin at {self.shown} cannot be reached: {type(error).__name__}") from None
        if response.is_redirect:
            raise SourceError(f"Jellyfin at {self.shown} answered with a redirect, which is not followed")
        if response.status_code in (401, 403):
            raise SourceError(f"Jellyfin at {self.shown} refused the API key")
        if response.status_code >= 400:
            raise SourceError(f"Jellyfin at {self.shown} answered {response.status_code} to {method} {path}")
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise SourceError(f"Jellyfin at {self.shown} sent something other than JSON for {path}") from None

    async def info(self) -> tuple[str, str]:
        """The server's name and version (and, by answering, proof that the key works)."""
        body = await self._call("GET", "/System/Info")
        return str(body.get("ServerName") or ""), str(body.get("Version") or "")

    async def libraries(self) -> list[Library]:
        folders = await self._call("GET", "/Library/VirtualFolders")
        return [
            Library(
                id=str(folder.get("ItemId") or ""),
                title=str(folder.get("Name") or ""),
                kind=str(folder.get("CollectionType") or ""),
                locations=tuple(str(p) for p in folder.get("Locations") or ()),
            )
            for folder in folders or ()
            if folder.get("ItemId")
        ]

    async def item_paths(self, library_ids: Iterable[str]) -> list[str]:
        """The file of every video item in the libraries, read a page at a time."""
        paths: list[str] = []
        for library_id in library_ids:
            start = 0
            while True:
                page = await self._call(
                    "GET",
                    "/Items",
                    params={
                        "parentId": library_id,
                        "recursive": "true",
                        "includeItemTypes": VIDEO_ITEM_TYPES,
                        "fields": "Path",
                        "startIndex": start,
                        "limit": PAGE,
                        "enableTotalRecordCount": "true",
                        "enableImages": "false",
                    },
                )
                items = (page or {}).get("Items") or []
                paths.extend(str(item["Path"]) for item in items if item.get("Path"))
                start += len(items)
                total = min(int((page or {}).get("TotalRecordCount") or 0), MAX_ITEMS)
                if not items or start >= total:
                    break
        return paths

    async def media_updated(self, updates: list[tuple[str, str]]) -> None:
        """Tell the server these files were ``Created``, ``Modified`` or ``Deleted``; it rescans their folders."""
        body = {"Updates": [{"Path": path, "UpdateType": kind} for path, kind in updates]}
        await self._call("POST", "/Library/Media/Updated", json=body)

    async def playing(self) -> int:
        """How many sessions are playing something now (``GET /Sessions``: a ``NowPlayingItem`` whose
        ``PlayState`` is not paused); a paused film asks nothing of the machine."""
        sessions = await self._call("GET", "/Sessions", params={"activeWithinSeconds": ACTIVE_WITHIN_SECONDS})
        return sum(
            1
            for session in (sessions if isinstance(sessions, list) else ())
            if isinstance(session, dict)
            and session.get("NowPlayingItem")
            and not (session.get("PlayState") or {}).get("IsPaused", False)
        )
