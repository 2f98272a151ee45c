"""Fake plex.tv, Plex Media Server and Jellyfin on real local sockets, answering what their published API
documents (``../shared/specs``) describe, and a checker that tells whether a request is one those documents
list. Plex answers XML shaped as plexapi reads it; plex.tv and Jellyfin answer JSON.

Each fake records every request it gets, so a test can check that the project asked only for documented
things, and refuses what it does not know (404) or a wrong token (401) like the real servers do.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import uvicorn
import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

SPECS = Path(__file__).resolve().parents[4].parent / "shared" / "specs"
PLEX_TV_PREFIX = "/api/v2"


@dataclass(frozen=True)
class Seen:
    """One request a fake received."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    headers: dict[str, str]
    body: bytes

    def params(self) -> set[str]:
        return {name for name, _ in self.query}


@dataclass
class Recorder:
    seen: list[Seen] = field(default_factory=list)

    async def record(self, request: Request) -> Seen:
        seen = Seen(
            request.method,
            request.url.path,
            tuple(request.query_params.multi_items()),
            {k.lower(): v for k, v in request.headers.items()},
            await request.body(),
        )
        self.seen.append(seen)
        return seen

    def app(self, routes: list[Route]) -> Starlette:
        async def not_found(request: Request, _: Exception) -> Response:
            await self.record(request)
            return Response("not found", status_code=404)

        async def not_allowed(request: Request, _: Exception) -> Response:
            await self.record(request)
            return Response("method not allowed", status_code=405)

        return Starlette(routes=routes, exception_handlers={404: not_found, 405: not_allowed})


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # the test runner owns the signals
        yield


@contextlib.asynccontextmanager
async def serving(app: Starlette) -> AsyncIterator[str]:
    """Run ``app`` on a free loopback port; yields its base URL."""
    server = _Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off", access_log=False)
    )
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


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
                    friendlyName="Fake Plex",
                    machineIdentifier=self.identifier,
                    version="1.41.0.0",
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

        async def refresh(request: Request) -> Response:
            seen = await self.record(request)
            if seen.headers.get("x-plex-token") != self.token:
                return unauthorized()
            key = request.path_params["section_id"]
            if not any(s.key == key for s in self.sections):
                return Response("not found", 404)
            self.refreshes.append((key, request.query_params.get("path", "")))
            return Response(status_code=200)

        return self.app(
            [
                Route("/", identity_root, methods=["GET"]),
                Route("/library/sections/all", sections, methods=["GET"]),
                Route("/library/sections/{section_id}/all", section_items, methods=["GET"]),
                Route("/library/sections/{section_id}/refresh", refresh, methods=["POST"]),
            ]
        )


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

        return self.app(
            [
                Route("/System/Info", system_info, methods=["GET"]),
                Route("/Library/VirtualFolders", virtual_folders, methods=["GET"]),
                Route("/Items", items, methods=["GET"]),
                Route("/Library/Media/Updated", media_updated, methods=["POST"]),
            ]
        )


# --- what the API documents -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    method: str
    pattern: re.Pattern[str]
    template: str
    query: frozenset[str]  # documented query parameter names
    body_schema: dict[str, Any] | None


@dataclass(frozen=True)
class Spec:
    """The operations an OpenAPI document lists, matched by method and (templated) path."""

    operations: tuple[Operation, ...]
    document: dict[str, Any]

    def find(self, method: str, path: str) -> Operation | None:
        for op in self.operations:
            if op.method == method.upper() and op.pattern.fullmatch(path):
                return op
        return None

    def problems(self, seen: Seen) -> list[str]:
        """Why a request is not one the document lists (empty: it is)."""
        op = self.find(seen.method, seen.path)
        if op is None:
            return [f"{seen.method} {seen.path} is not a documented operation"]
        undocumented = seen.params() - op.query
        if undocumented:
            return [f"{seen.method} {op.template}: undocumented query parameters {sorted(undocumented)}"]
        return []


def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    return re.compile("".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts))


def _resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = document
        for key in node["$ref"].removeprefix("#/").split("/"):
            target = target[key]
        node = target
    return node


def _query_names(document: dict[str, Any], parameters: list[dict[str, Any]]) -> frozenset[str]:
    names = set()
    for raw in parameters:
        parameter = _resolve(document, raw)
        if parameter.get("in") != "query":
            continue
        schema = _resolve(document, parameter.get("schema") or {})
        if parameter.get("explode") and schema.get("type") == "object" and "properties" in schema:
            names.update(schema["properties"])  # form-exploded object: its properties are the names
        else:
            names.add(parameter["name"])
    return frozenset(names)


def _load(document: dict[str, Any], server_prefix: str | None) -> Spec:
    """Operations of ``document``; with ``server_prefix``, only those served there (their full path), else
    only those served by the document's default servers."""
    operations = []
    for template, item in document["paths"].items():
        for method, op in item.items():
            if method not in {"get", "post", "put", "delete", "patch", "head"}:
                continue
            servers = op.get("servers") or item.get("servers")
            if server_prefix is None and servers:
                continue
            if server_prefix is not None and not any(s["url"].endswith(server_prefix) for s in servers or ()):
                continue
            full = (server_prefix or "") + template
            parameters = [*item.get("parameters", []), *op.get("parameters", [])]
            body = (op.get("requestBody") or {}).get("content", {}).get("application/json", {}).get("schema")
            operations.append(
                Operation(method.upper(), _pattern(full), full, _query_names(document, parameters), body)
            )
    return Spec(tuple(operations), document)


@cache
def _plex_document() -> dict[str, Any]:
    return yaml.safe_load((SPECS / "plex.openapi.yaml").read_text())  # type: ignore[no-any-return]


@cache
def plex_server_spec() -> Spec:
    return _load(_plex_document(), None)


@cache
def plex_tv_spec() -> Spec:
    return _load(_plex_document(), PLEX_TV_PREFIX)


@cache
def jellyfin_spec() -> Spec:
    return _load(json.loads((SPECS / "jellyfin.openapi.json").read_text()), None)
