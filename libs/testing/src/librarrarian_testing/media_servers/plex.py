"""Fake plex.tv (PIN link, resources) and Plex Media Server (XML shaped as plexapi reads it); its webhooks
are sent by ``plex_webhooks``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .recording import Recorder

PLEX_TV_PREFIX = "/api/v2"


# --- plex.tv --------------------------------------------------------------------------------------------


@dataclass
class FakePlexTv(Recorder):
    """plex.tv's PIN sign-in and resources. ``link(code)`` is the user entering the code at plex.tv/link."""

    account_token: str = field(default_factory=lambda: f"acct-{uuid.uuid4().hex}")
    servers: list[dict[str, Any]] = field(default_factory=list)
    pins: dict[int, dict[str, Any]] = field(default_factory=dict)

    def add_server(self, name: str, url: str, token: str, identifier: str | None = None) -> str:
        identifier = identifier or uuid.uuid4().hex
        host_port = url.split("://", 1)[1]
        host, _, port = host_port.partition(":")
        self.servers.append(
            {
                "name": name,
                "product": "Plex Media Server",
                "productVersion": "1.41.0.0",
                "platform": "Linux",
                "platformVersion": "6.1",
                "device": "PC",
                "clientIdentifier": identifier,
                "createdAt": "2024-01-01T00:00:00Z",
                "lastSeenAt": "2024-06-01T00:00:00Z",
                "provides": "server",
                "ownerId": None,
                "sourceTitle": None,
                "publicAddress": "203.0.113.7",
                "accessToken": token,
                "owned": True,
                "home": False,
                "synced": False,
                "relay": True,
                "presence": True,
                "httpsRequired": False,
                "publicAddressMatches": True,
                "dnsRebindingProtection": False,
                "natLoopbackSupported": False,
                "connections": [
                    {
                        "protocol": "https",
                        "address": "203.0.113.7",
                        "port": 32400,
                        "uri": "https://203-0-113-7.example.plex.direct:32400",
                        "local": False,
                        "relay": False,
                        "IPv6": False,
                    },
                    {
                        "protocol": "http",
                        "address": host,
                        "port": int(port or 80),
                        "uri": url,
                        "local": True,
                        "relay": False,
                        "IPv6": False,
                    },
                ],
            }
        )
        # A client of plex.tv's (a player) that is not a server: must not be offered.
        self.servers.append(
            {**self.servers[-1], "name": "Phone", "provides": "client,player", "connections": []}
        )
        return identifier

    def link(self, code: str) -> None:
        for pin in self.pins.values():
            if pin["code"] == code:
                pin["authToken"] = self.account_token
                return
        raise KeyError(code)

    def expire(self, code: str) -> None:
        """The PIN's time ran out: plex.tv forgets it."""
        for pin_id, pin in list(self.pins.items()):
            if pin["code"] == code:
                del self.pins[pin_id]

    def build(self) -> Starlette:
        async def create_pin(request: Request) -> Response:
            seen = await self.record(request)
            client = seen.headers.get("x-plex-client-identifier")
            if not client:
                return JSONResponse(
                    {"errors": [{"code": 1000, "message": "X-Plex-Client-Identifier is missing"}]}, 400
                )
            pin_id = len(self.pins) + 1001
            self.pins[pin_id] = {
                "id": pin_id,
                "code": f"AB{pin_id % 100:02d}",
                "product": seen.headers.get("x-plex-product", ""),
                "trusted": False,
                "clientIdentifier": client,
                "expiresIn": 900,
                "createdAt": "2024-06-01T00:00:00Z",
                "expiresAt": "2024-06-01T00:15:00Z",
                "authToken": None,
                "newRegistration": None,
            }
            return JSONResponse(self.pins[pin_id], status_code=201)

        async def check_pin(request: Request) -> Response:
            seen = await self.record(request)
            pin = self.pins.get(int(request.path_params["pin_id"]))
            if pin is None or pin["clientIdentifier"] != seen.headers.get("x-plex-client-identifier"):
                return JSONResponse({"errors": [{"code": 1020, "message": "Code not found or expired"}]}, 404)
            return JSONResponse(pin)

        async def resources(request: Request) -> Response:
            seen = await self.record(request)
            if seen.headers.get("x-plex-token") != self.account_token:
                return JSONResponse(
                    {"errors": [{"code": 1001, "message": "User could not be authenticated"}]}, 401
                )
            return JSONResponse(self.servers)

        return self.app(
            [
                Route(f"{PLEX_TV_PREFIX}/pins", create_pin, methods=["POST"]),
                Route(f"{PLEX_TV_PREFIX}/pins/{{pin_id:int}}", check_pin, methods=["GET"]),
                Route(f"{PLEX_TV_PREFIX}/resources", resources, methods=["GET"]),
            ]
        )


# --- Plex Media Server ----------------------------------------------------------------------------------


@dataclass
class FakeSection:
    key: str
    title: str
    type: str  # movie | show | artist
    locations: tuple[str, ...]
    # title → the files of its parts (a movie in two files has two)
    items: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass
class FakePlexServer(Recorder):
    token: str = field(default_factory=lambda: f"srv-{uuid.uuid4().hex}")
    identifier: str = field(default_factory=lambda: uuid.uuid4().hex)
    sections: list[FakeSection] = field(default_factory=list)
    refreshes: list[tuple[str, str]] = field(default_factory=list)  # (section key, path)
    name: str = "Fake Plex"
    version: str = "1.41.0.0"
    # Players watching now, by their state (``playing``, ``paused``, ``buffering``): ``/status/sessions``.
    players: list[str] = field(default_factory=list)

    def sessions_json(self) -> dict[str, Any]:
        """``GET /status/sessions`` as the document describes it: a MediaContainer whose Metadata items
        carry their Player, Session and User."""
        metadata = [
            {
                "addedAt": 1_700_000_000,
                "key": f"/library/metadata/{9000 + number}",
                "ratingKey": str(9000 + number),
                "title": f"Film {number}",
                "type": "movie",
                "viewOffset": 60_000,
                "Player": {
                    "address": "192.0.2.50",
                    "local": True,
                    "machineIdentifier": f"player-{number}",
                    "platform": "Android",
                    "product": "Plex for Android (TV)",
                    "state": state,
                    "title": "Living room",
                },
                "Session": {"bandwidth": 8000, "id": f"session-{number}", "location": "lan"},
                "User": {"id": "1", "title": "viewer"},
            }
            for number, state in enumerate(self.players, 1)
        ]
        return {"MediaContainer": {"size": len(metadata), "Metadata": metadata}}

    def rating_key(self, title: str) -> str:
        """The rating key of the item ``title`` (as the section lists give it)."""
        for section in self.sections:
            for number, known in enumerate(section.items, 1):
                if known == title:
                    return f"{section.key}{number:04d}"
        raise KeyError(title)

    def show_key(self, section_key: str) -> str:
        """A show section holds one show, whose episodes are the section's items."""
        return f"{section_key}0000"

    def item(self, rating_key: str) -> tuple[FakeSection, str | None] | None:
        """The section and title of a rating key (title None: the show of a show section)."""
        for section in self.sections:
            if section.type == "show" and rating_key == self.show_key(section.key):
                return section, None
            for number, title in enumerate(section.items, 1):
                if rating_key == f"{section.key}{number:04d}":
                    return section, title
        return None

    def build(self) -> Starlette:
        def xml(element: ElementTree.Element) -> Response:
            return Response(ElementTree.tostring(element, encoding="unicode"), media_type="application/xml")

        def unauthorized() -> Response:
            return Response("<html><body>401 Unauthorized</body></html>", 401, media_type="text/html")

        async def identity_root(request: Request) -> Response:
            seen = await self.record(request)
            if seen.headers.get("x-plex-token") != self.token:
                return unauthorized()
            return xml(
                ElementTree.Element(
                    "MediaContainer",
                    size="0",
                    friendlyName=self.name,
                    machineIdentifier=self.identifier,
                    version=self.version,
                    platform="Linux",
                    myPlex="1",
                    transcoderActiveVideoSessions="0",
                )
            )

        async def sections(request: Request) -> Response:
            seen = await self.record(request)
            if seen.headers.get("x-plex-token") != self.token:
                return unauthorized()
            root = ElementTree.Element("MediaContainer", size=str(len(self.sections)), title1="Plex Library")
            for section in self.sections:
                directory = ElementTree.SubElement(
                    root,
                    "Directory",
                    key=section.key,
                    type=section.type,
                    title=section.title,
                    agent="tv.plex.agents.none",
                    scanner="Plex Video Files Scanner",
                    language="xn",
                    uuid=str(uuid.uuid5(uuid.NAMESPACE_URL, section.key)),
                )
                for number, path in enumerate(section.locations, 1):
                    ElementTree.SubElement(directory, "Location", id=str(number), path=path)
            return xml(root)

        async def section_items(request: Request) -> Response:
            seen = await self.record(request)
            if seen.headers.get("x-plex-token") != self.token:
                return unauthorized()
            section = next((s for s in self.sections if s.key == request.path_params["section_id"]), None)
            if section is None:
                return Response("not found", 404)
            item_type = {"movie": ("movie", "1"), "show": ("episode", "4")}.get(section.type)
            wanted = request.query_params.get("type")
            entries = (
                [] if item_type is None or wanted not in (None, item_type[1]) else list(section.items.items())
            )
            start = int(
                request.headers.get("x-plex-container-start")
                or request.query_params.get("X-Plex-Container-Start")
                or 0
            )
            size = int(
                request.headers.get("x-plex-container-size")
                or request.query_params.get("X-Plex-Container-Size")
                or 50
            )
            page = entries[start : start + size]
            root = ElementTree.Element(
                "MediaContainer",
                size=str(len(page)),
                totalSize=str(len(entries)),
                offset=str(start),
                librarySectionID=section.key,
                librarySectionTitle=section.title,
            )
            for number, (title, files) in enumerate(page, start + 1):
                rating_key = f"{section.key}{number:04d}"
                video = ElementTree.SubElement(
                    root,
                    "Video",
                    ratingKey=rating_key,
                    key=f"/library/metadata/{rating_key}",
                    type=item_type[0] if item_type else "movie",
                    title=title,
                    librarySectionID=section.key,
                )
                media = ElementTree.SubElement(
                    video, "Media", id=f"{rating_key}1", container=Path(files[0]).suffix[1:]
                )
                for part_number, file in enumerate(files, 1):
                    ElementTree.SubElement(
                        media,
                        "Part",
                        id=f"{rating_key}{part_number}",
                        key=f"/library/parts/{rating_key}{part_number}/1/file{Path(file).suffix}",
                        file=file,
                    )
            return xml(root)

        def video(parent: ElementTree.Element, section: FakeSection, title: str) -> None:
            rating_key = self.rating_key(title)
            files = section.items[title]
            element = ElementTree.SubElement(
                parent,
                "Video",
                ratingKey=rating_key,
                key=f"/library/metadata/{rating_key}",
                type="episode" if section.type == "show" else "movie",
                title=title,
                librarySectionID=section.key,
            )
            media = ElementTree.SubElement(
                element, "Media", id=f"{rating_key}1", container=Path(files[0]).suffix[1:]
            )
            for part_number, file in enumerate(files, 1):
                ElementTree.SubElement(
                    media,
                    "Part",
                    id=f"{rating_key}{part_number}",
                    key=f"/library/parts/{rating_key}{part_number}/1/file{Path(file).suffix}",
                    file=file,
                )

        async def metadata(request: Request) -> Response:
            seen = await self.record(request)
            if seen.headers.get("x-plex-token") != self.token:
                return unauthorized()
            found = self.item(request.path_params["ids"])
            if found is None:
                return Response("not found", 404)
            section, title = found
            root = ElementTree.Element(
                "MediaContainer", size="1", librarySectionID=section.key, librarySectionTitle=section.title
            )
            if title is None:
                key = self.show_key(section.key)
                ElementTree.SubElement(
                    root,
                    "Directory",
                    ratingKey=key,
                    key=f"/library/metadata/{key}/children",
                    type="show",
                    title=section.title,
                    leafCount=str(len(section.items)),
                )
            else:
                video(root, section, title)
            return xml(root)

        async def all_leaves(request: Request) -> Response:
            seen = await self.record(request)
            if seen.headers.get("x-plex-token") != self.token:
                return unauthorized()
            found = self.item(request.path_params["ids"])
            if found is None:
                return Response("not found", 404)
            section, title = found
            titles = list(section.items) if title is None else []  # an episode has no leaves
            root = ElementTree.Element("MediaContainer", size=str(len(titles)))
            for each in titles:
                video(root, section, each)
            return xml(root)

        async def refresh(request: Request) -> Response:
            seen = await self.record(request)
            if seen.headers.get("x-plex-token") != self.token:
                return unauthorized()
            key = request.path_params["section_id"]
            if not any(s.key == key for s in self.sections):
                return Response("not found", 404)
            self.refreshes.append((key, request.query_params.get("path", "")))
            return Response(status_code=200)

        async def sessions(request: Request) -> Response:
            seen = await self.record(request)
            if seen.headers.get("x-plex-token") != self.token:
                return unauthorized()
            body = self.sessions_json()
            if "json" in seen.headers.get("accept", ""):
                return JSONResponse(body)
            root = ElementTree.Element("MediaContainer", size=str(len(self.players)))  # what plexapi reads
            for item in body["MediaContainer"]["Metadata"]:
                video = ElementTree.SubElement(
                    root,
                    "Video",
                    ratingKey=item["ratingKey"],
                    key=item["key"],
                    title=item["title"],
                    type="movie",
                )
                ElementTree.SubElement(video, "Player", state=item["Player"]["state"], title="Living room")
                ElementTree.SubElement(video, "Session", id=item["Session"]["id"], location="lan")
            return xml(root)

        return self.app(
            [
                Route("/", identity_root, methods=["GET"]),
                Route("/status/sessions", sessions, methods=["GET"]),
                Route("/library/sections/all", sections, methods=["GET"]),
                Route("/library/sections/{section_id}/all", section_items, methods=["GET"]),
                Route("/library/sections/{section_id}/refresh", refresh, methods=["POST"]),
                Route("/library/metadata/{ids}", metadata, methods=["GET"]),
                Route("/library/metadata/{ids}/allLeaves", all_leaves, methods=["GET"]),
            ]
        )
