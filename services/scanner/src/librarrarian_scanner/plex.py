"""Plex: the account link by PIN and the list of the account's servers from plex.tv (httpx, async), and the
chosen server's sections, the files of their items and partial refreshes (plexapi, which blocks, so each of
those calls runs in a thread).

Only documented endpoints are used. On plex.tv: ``POST /api/v2/pins`` and ``GET /api/v2/pins/{id}`` (Plex's
PIN sign-in guide), ``GET /api/v2/resources``. On the server: ``GET /``, ``GET /library/sections/all``,
``GET /library/sections/{id}/all``, ``POST /library/sections/{id}/refresh``, and for a webhook's item
``GET /library/metadata/{id}`` (and ``…/allLeaves`` for a show or season) — which is why sections and items are
read from the XML here rather than through plexapi's ``server.library``, which asks for other paths.
Tokens travel in headers only, so no URL in an error message carries one.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar
from xml.etree import ElementTree

import httpx
import plexapi.exceptions
import plexapi.server
import requests
from librarrarian_contracts.sources import Library, PlexConnection, PlexServer
from librarrarian_runtime import outbound
from librarrarian_runtime.bus import redact
from librarrarian_runtime.outbound import PrivateServers

from .source_store import SourceError

T = TypeVar("T")

PRODUCT = "Librarrarian"
# The most items read from one section: more than any home library, and a bound on a hostile server.
MAX_ITEMS = 1_000_000
# Plex's metadata type of the videos each kind of section holds (movie sections also hold "other videos").
VIDEO_TYPES = {"movie": 1, "show": 4}
# A rating key is a number; anything else would be spliced into a URL path.
RATING_KEY = re.compile(r"[0-9]{1,12}")


@dataclass(frozen=True)
class Pin:
    id: int
    code: str
    expires_in: int
    token: str  # "" until the user has entered the code


class PinExpired(SourceError):
    """plex.tv no longer knows the PIN: it expired (after about 15 minutes) or was used elsewhere."""


@dataclass(frozen=True)
class ServerResource:
    server: PlexServer
    access_token: str


class PlexAccount:
    """plex.tv on behalf of one client identifier (ours, made once and kept in the settings)."""

    def __init__(self, http: httpx.AsyncClient, base_url: str, client_id: str) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id

    def _headers(self, token: str | None = None) -> dict[str, str]:
        headers = {
            "Accept": "application/json",
            "X-Plex-Product": PRODUCT,
            "X-Plex-Client-Identifier": self.client_id,
        }
        if token:
            headers["X-Plex-Token"] = token
        return headers

    async def _call(
        self,
        method: str,
        path: str,
        token: str | None = None,
        missing: type[SourceError] = SourceError,
        **kwargs: Any,
    ) -> Any:
        try:
            response = await self.http.request(
                method, f"{self.base_url}{path}", headers=self._headers(token), **kwargs
            )
        except httpx.HTTPError as error:
            raise SourceError(f"plex.tv cannot be reached: {type(error).__name__}") from None
        if response.status_code == 401:
            raise SourceError("plex.tv refused the account's token: link the account again")
        if response.status_code == 404:
            raise missing(f"plex.tv does not know {path}")
        if response.status_code >= 400:
            raise SourceError(f"plex.tv answered {response.status_code} to {method} {path}")
        try:
            return response.json()
        except ValueError:
            raise SourceError(f"plex.tv sent something other than JSON for {path}") from None

    async def create_pin(self) -> Pin:
        """A short code for the user to enter at plex.tv/link (not ``strong``: that one is for a link URL)."""
        return _pin(await self._call("POST", "/api/v2/pins"))

    async def check_pin(self, pin_id: int) -> Pin:
        return _pin(await self._call("GET", f"/api/v2/pins/{pin_id}", missing=PinExpired))

    async def servers(self, token: str) -> list[ServerResource]:
        """The media servers the account can use, each with its own access token."""
        devices = await self._call(
            "GET", "/api/v2/resources", token, params={"includeHttps": 1, "includeRelay": 1}
        )
        found = []
        for device in devices if isinstance(devices, list) else ():
            if "server" not in str(device.get("provides", "")).split(","):
                continue
            connections = tuple(
                PlexConnection(uri=c["uri"], local=bool(c.get("local")), relay=bool(c.get("relay")))
                for c in device.get("connections") or ()
                if c.get("uri")
            )
            server = PlexServer(
                id=str(device.get("clientIdentifier", "")),
                name=str(device.get("name", "")),
                owned=bool(device.get("owned", True)),
                connections=connections,
            )
            found.append(ServerResource(server, str(device.get("accessToken") or token)))
        return found


def _pin(body: Any) -> Pin:
    try:
        return Pin(
            id=int(body["id"]),
            code=str(body["code"]),
            expires_in=int(body.get("expiresIn") or 0),
            token=str(body.get("authToken") or ""),
        )
    except (KeyError, TypeError, ValueError):
        raise SourceError("plex.tv answered the PIN request with something unexpected") from None


def preferred_url(server: PlexServer) -> str:
    """A local connection first (the library is on the local network), then a direct one, then a relay."""
    ranked = sorted(server.connections, key=lambda c: (not c.local, c.relay))
    if not ranked:
        raise SourceError(f"Plex server {server.name!r} has no connection plex.tv knows of")
    return ranked[0].uri


class PlexMediaServer:
    """One Plex Media Server, reached at ``url`` with the server's access token."""

    def __init__(
        self, url: str, token: str, allowed: PrivateServers = PrivateServers.LAN, timeout: float = 30.0
    ) -> None:
        self.url = url.rstrip("/")
        self.shown = redact(self.url)  # for messages: a URL may carry a user and password
        self._token = token
        self.allowed = allowed
        self.timeout = timeout

    async def sections(self) -> list[Library]:
        return await self._in_thread(_sections)

    async def part_files(self, section_ids: Iterable[str]) -> list[str]:
        """The file of every part of every video in the sections (a movie in two files has two parts)."""
        wanted = set(section_ids)

        def files(server: Any) -> list[str]:
            paths: list[str] = []
            for section in _sections(server):
                video_type = VIDEO_TYPES.get(section.kind)
                if section.id not in wanted or video_type is None:
                    continue
                # A server that keeps claiming more items cannot keep us paging for ever.
                items = server.fetchItems(
                    f"/library/sections/{section.id}/all", params={"type": video_type}, maxresults=MAX_ITEMS
                )
                for item in items:
                    for media in getattr(item, "media", None) or ():
                        paths.extend(part.file for part in media.parts if part.file)
            return paths

        return await self._in_thread(files)

    async def info(self) -> tuple[str, str]:
        """The server's name and version, from ``GET /`` (plexapi reads it on connecting)."""
        return await self._in_thread(lambda server: (str(server.friendlyName), str(server.version)))

    async def item_files(self, rating_key: str) -> list[str]:
        """The files of one item's parts: a movie's or an episode's own, a show's or a season's episodes'."""
        if not RATING_KEY.fullmatch(rating_key):
            raise ValueError(f"not a Plex rating key: {rating_key!r}")

        def files(server: Any) -> list[str]:
            container = server.query(f"/library/metadata/{rating_key}")
            items = list(container) if container is not None else []
            if any(i.tag == "Directory" for i in items):  # a show or a season: its episodes
                leaves = server.query(f"/library/metadata/{rating_key}/allLeaves")
                items = list(leaves) if leaves is not None else []
            return [
                str(part.attrib["file"])
                for item in items
                if item.tag == "Video"
                for media in item
                if media.tag == "Media"
                for part in media
                if part.tag == "Part" and part.attrib.get("file")
            ]

        return await self._in_thread(files)

    async def refresh(self, section_id: str, folder: str) -> None:
        """Ask the server to rescan one folder of a section (a partial scan, not the whole library)."""

        def post(server: Any, session: requests.Session) -> None:
            server.query(
                f"/library/sections/{section_id}/refresh", method=session.post, params={"path": folder}
            )

        await self._in_thread(post, with_session=True)

    async def _in_thread(self, work: Callable[..., T], with_session: bool = False) -> T:
        def run() -> T:
            outbound.check_url(
                self.url, self.allowed
            )  # again at each use: the name may resolve elsewhere now
            with requests.Session() as session:
                session.max_redirects = 0  # the token travels in a header, which a redirect would carry along
                try:
                    server = plexapi.server.PlexServer(  # type: ignore[no-untyped-call]
                        self.url, self._token, session=session, timeout=self.timeout
                    )
                    return work(server, session) if with_session else work(server)
                except plexapi.exceptions.Unauthorized:
                    raise SourceError(
                        f"Plex at {self.shown} refused the token: choose the server again"
                    ) from None
                except (plexapi.exceptions.PlexApiException, requests.RequestException) as error:
                    raise SourceError(f"Plex at {self.shown}: {_reason(error)}") from None
                except ElementTree.ParseError:
                    raise SourceError(f"Plex at {self.shown} sent something other than XML") from None

        return await asyncio.to_thread(run)


def _sections(server: Any) -> list[Library]:
    container = server.query("/library/sections/all")
    libraries = []
    for directory in container if container is not None else ():
        if directory.tag != "Directory":
            continue
        libraries.append(
            Library(
                id=str(directory.attrib.get("key", "")),
                title=str(directory.attrib.get("title", "")),
                kind=str(directory.attrib.get("type", "")),
                locations=tuple(
                    str(location.attrib["path"])
                    for location in directory
                    if location.tag == "Location" and "path" in location.attrib
                ),
            )
        )
    return libraries


def _reason(error: Exception) -> str:
    """Why, in our words: never the server's own text, which a hostile server could fill with anything."""
    if isinstance(error, requests.TooManyRedirects):
        return "answered with a redirect, which is not followed"
    if isinstance(error, requests.exceptions.SSLError):  # before ConnectionError: it is one
        return "TLS failed: its certificate is not trusted here, or it does not speak TLS at that address"
    if isinstance(error, requests.Timeout):  # before ConnectionError: a connect timeout is both
        return "did not answer in time"
    if isinstance(error, requests.ConnectionError):
        return "cannot be reached"
    status = getattr(getattr(error, "response", None), "status_code", None)
    if status is None:
        found = re.match(r"\((\d{3})\)", str(error))  # plexapi's own errors start with "(status) "
        status = found.group(1) if found else None
    return f"answered {status}" if status else type(error).__name__
