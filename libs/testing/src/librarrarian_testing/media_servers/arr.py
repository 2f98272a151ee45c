"""Fake Sonarr, Radarr and Lidarr answering from their OpenAPI documents, over a fixture library of real files.

Every request is checked against the app's document first (:func:`specs.arr_spec`): an undocumented method or
path is answered 404, an undocumented query parameter, a mistyped value or a body that does not match the
documented schema 400; each is kept in ``rejected`` for the test to assert empty. The documents describe a
command's resource but not each command's own fields (``seriesId``, ``files``…, the apps' command classes'):
:data:`COMMAND_FIELDS` adds exactly those of the commands the fake runs, so any other field is still refused.

Items (series, movies, artists) have folders under the app's ``root`` that are real folders under
``local_root``; ``RenameFiles`` really renames the files on disk, and a rescan finds a file whose extension
changed (a transcode to MKV). ``command_polls`` says how many looks at a command it takes to complete.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .recording import Recorder
from .specs import arr_spec

NAMES = {"sonarr": "Sonarr", "radarr": "Radarr", "lidarr": "Lidarr"}
PREFIX = {"sonarr": "/api/v3", "radarr": "/api/v3", "lidarr": "/api/v1"}
ITEMS = {"sonarr": "series", "radarr": "movie", "lidarr": "artist"}
ITEM_ID = {"sonarr": "seriesId", "radarr": "movieId", "lidarr": "artistId"}
FILE_ID = {"sonarr": "episodeFileId", "radarr": "movieFileId", "lidarr": "trackFileId"}
INTS = {"type": "array", "items": {"type": "integer"}}
# The fields of the commands the fake runs, from each app's command classes (RenameFilesCommand,
# RescanSeriesCommand, RescanMovieCommand, RescanFoldersCommand).
COMMAND_FIELDS: dict[str, dict[str, dict[str, Any]]] = {
    "sonarr": {
        "RenameFiles": {"seriesId": {"type": "integer"}, "files": INTS},
        "RescanSeries": {"seriesId": {"type": "integer"}},
    },
    "radarr": {
        "RenameFiles": {"movieId": {"type": "integer"}, "files": INTS},
        "RescanMovie": {"movieId": {"type": "integer"}},
    },
    "lidarr": {
        "RenameFiles": {"artistId": {"type": "integer"}, "files": INTS},
        "RescanFolders": {"folders": {"type": "array", "items": {"type": "string"}}, "artistIds": INTS},
    },
}
VIDEO_SUFFIXES = (".mkv", ".mp4", ".m4v", ".avi", ".mov")
PROFILE = {
    "id": 1,
    "name": "HD-1080p",
    "upgradeAllowed": True,
    "cutoff": 7,
    "items": [
        {"quality": {"id": 4, "name": "HDTV-720p"}, "allowed": True, "items": []},
        {"quality": {"id": 7, "name": "Bluray-1080p"}, "allowed": True, "items": []},
    ],
}


@dataclass
class FakeFile:
    id: int
    relative: str  # below its item's folder, as the app keeps it
    desired: str | None = None  # the name the app's naming scheme gives it; None: it fits already
    quality: str = "Bluray-1080p"
    cutoff_met: bool = True


@dataclass
class FakeItem:
    id: int
    title: str
    folder: str  # below the app's root
    files: list[FakeFile] = field(default_factory=list)


@dataclass
class FakeArr(Recorder):
    kind: str = "sonarr"  # sonarr, radarr or lidarr
    root: str = "/tv"  # the app's library folder, as it sees it
    local_root: Path = Path("/nonexistent")  # the same folder here
    items: list[FakeItem] = field(default_factory=list)
    api_key: str = field(default_factory=lambda: uuid.uuid4().hex)
    version: str = "4.0.14.2939"
    command_polls: int = 2
    delay_seconds: float = 0.0  # before each answer: a slow app, for a scan to be cancelled midway
    commands: list[dict[str, Any]] = field(default_factory=list)  # bodies of the commands it completed
    rejected: list[str] = field(default_factory=list)
    _running: dict[int, dict[str, Any]] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))

    # --- the fixture library ---------------------------------------------------------------------------

    def item_path(self, item: FakeItem) -> str:
        return f"{self.root}/{item.folder}"

    def local(self, item: FakeItem, relative: str) -> Path:
        return self.local_root / item.folder / relative

    def file(self, file_id: int) -> tuple[FakeItem, FakeFile]:
        for item in self.items:
            for file in item.files:
                if file.id == file_id:
                    return item, file
        raise KeyError(file_id)

    def file_resource(self, item: FakeItem, file: FakeFile) -> dict[str, Any]:
        return {
            "id": file.id,
            ITEM_ID[self.kind]: item.id,
            "relativePath": file.relative,
            "path": f"{self.item_path(item)}/{file.relative}",
            "size": self.local(item, file.relative).stat().st_size,
            "quality": {"quality": {"id": 4 if not file.cutoff_met else 7, "name": file.quality}},
            "qualityCutoffNotMet": not file.cutoff_met,
        }

    def item_resource(self, item: FakeItem) -> dict[str, Any]:
        title = "artistName" if self.kind == "lidarr" else "title"
        return {"id": item.id, title: item.title, "path": self.item_path(item), "qualityProfileId": 1}

    # --- webhook bodies, as the app sends them ---------------------------------------------------------

    def _owner_key(self) -> str:
        return {"sonarr": "series", "radarr": "movie", "lidarr": "artist"}[self.kind]

    def download_payload(
        self, item: FakeItem, file: FakeFile, *, upgrade: bool = False, deleted: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "eventType": "Download",
            "instanceName": NAMES[self.kind],
            self._owner_key(): self.item_resource(item),
            "isUpgrade": upgrade,
        }
        resource = self.file_resource(item, file)
        if self.kind == "lidarr":
            body["trackFiles"] = [resource]
        else:
            body["episodeFile" if self.kind == "sonarr" else "movieFile"] = resource
        body["deletedFiles"] = [{"path": f"{self.item_path(item)}/{r}", "relativePath": r} for r in deleted]
        return body

    def rename_payload(self, item: FakeItem, renamed: list[tuple[str, FakeFile]]) -> dict[str, Any]:
        key = {"sonarr": "renamedEpisodeFiles", "radarr": "renamedMovieFiles", "lidarr": "renamedTrackFiles"}
        files = [
            {
                **self.file_resource(item, f),
                "previousRelativePath": old,
                "previousPath": f"{self.item_path(item)}/{old}",
            }
            for old, f in renamed
        ]
        return {"eventType": "Rename", self._owner_key(): self.item_resource(item), key[self.kind]: files}

    def delete_payload(self, item: FakeItem, relative: str, reason: str = "manual") -> dict[str, Any]:
        event = {"sonarr": "EpisodeFileDelete", "radarr": "MovieFileDelete", "lidarr": "TrackFileDelete"}
        key = {"sonarr": "episodeFile", "radarr": "movieFile", "lidarr": "trackFile"}
        file = {"path": f"{self.item_path(item)}/{relative}", "relativePath": relative}
        body: dict[str, Any] = {
            "eventType": event[self.kind],
            self._owner_key(): self.item_resource(item),
            "deleteReason": reason,
            key[self.kind]: file,
        }
        if self.kind == "lidarr":
            body["trackFiles"] = [file]
        return body

    # --- the API ----------------------------------------------------------------------------------------

    def build(self) -> Starlette:
        spec = arr_spec(self.kind)
        prefix = PREFIX[self.kind]
        handlers = {
            ("GET", f"{prefix}/system/status"): self._status,
            ("GET", f"{prefix}/{ITEMS[self.kind]}"): self._items,
            ("GET", f"{prefix}/rename"): self._rename_preview,
            ("POST", f"{prefix}/command"): self._command,
            ("GET", f"{prefix}/command/{{id}}"): self._command_status,
            ("GET", f"{prefix}/wanted/cutoff"): self._cutoff,
            ("GET", f"{prefix}/qualityprofile"): lambda _r, _b: [PROFILE],
            ("GET", f"{prefix}/trackfile"): self._track_files,
        }

        async def any_request(request: Request) -> Response:
            seen = await self.record(request)
            if self.delay_seconds:
                await asyncio.sleep(self.delay_seconds)
            op = spec.find(seen.method, seen.path)
            if op is None:
                self.rejected.append(f"{seen.method} {seen.path} is not a documented operation")
                return Response("Not Found", 404)
            problems = spec.problems(seen)
            body: Any = None
            if seen.body:
                try:
                    body = json.loads(seen.body)
                except ValueError:
                    problems.append("the body is not JSON")
                else:
                    problems += self._body_problems(spec, op.body_schema, body)
            elif op.body_schema is not None and seen.method in {"POST", "PUT"}:
                problems.append("no body")
            if problems:
                self.rejected.extend(f"{seen.method} {op.template}: {p}" for p in problems)
                return JSONResponse({"message": "; ".join(problems)}, 400)
            if seen.headers.get("x-api-key") != self.api_key:
                return Response("Unauthorized", 401)
            handler = handlers.get((seen.method, op.template))
            if handler is None:
                self.rejected.append(f"{seen.method} {op.template} is documented but not part of this fake")
                return Response("Not Implemented", 501)
            return JSONResponse(handler(request, body))

        return Starlette(
            routes=[Route("/{path:path}", any_request, methods=["GET", "POST", "PUT", "DELETE"])]
        )

    def _body_problems(self, spec: Any, schema: dict[str, Any] | None, body: Any) -> list[str]:
        if schema is None:
            return ["a body where the document describes none"]
        if schema.get("$ref", "").endswith("/CommandResource"):
            fields = COMMAND_FIELDS[self.kind].get(str(body.get("name")) if isinstance(body, dict) else "")
            if fields is None:
                return [f"a command this fake does not run: {body!r:.100}"]
            schema = copy.deepcopy(spec.document["components"]["schemas"]["CommandResource"])
            schema["properties"] |= fields
            schema["required"] = ["name", *fields]
        problems: list[str] = spec.body_problems(schema, body)
        return problems

    def _status(self, _: Request, __: Any) -> dict[str, Any]:
        return {
            "appName": NAMES[self.kind],
            "instanceName": NAMES[self.kind],
            "version": self.version,
            "isLinux": True,
            "isDocker": False,
            "urlBase": "",
        }

    def _items(self, _: Request, __: Any) -> list[dict[str, Any]]:
        return [self.item_resource(i) for i in self.items]

    def _rename_preview(self, request: Request, _: Any) -> list[dict[str, Any]]:
        wanted = int(request.query_params.get(ITEM_ID[self.kind]) or 0)
        return [
            {
                ITEM_ID[self.kind]: item.id,
                FILE_ID[self.kind]: f.id,
                "existingPath": f.relative,
                "newPath": f.desired,
            }
            for item in self.items
            if item.id == wanted
            for f in item.files
            if f.desired and f.desired != f.relative
        ]

    def _command(self, _: Request, body: dict[str, Any]) -> dict[str, Any]:
        command_id = next(self._ids)
        self._running[command_id] = {"body": body, "looks": 0}
        return self._command_resource(command_id, "queued")

    def _command_resource(self, command_id: int, status: str) -> dict[str, Any]:
        body = self._running[command_id]["body"]
        return {
            "id": command_id,
            "name": body["name"],
            "commandName": body["name"],
            "status": status,
            "result": "successful" if status == "completed" else "unknown",
            "priority": "normal",
            "trigger": "manual",
            "queued": "2026-01-01T00:00:00Z",
        }

    def _command_status(self, request: Request, _: Any) -> dict[str, Any]:
        command_id = int(request.path_params["path"].rsplit("/", 1)[1])
        running = self._running[command_id]
        running["looks"] += 1
        if running["looks"] < self.command_polls:
            return self._command_resource(command_id, "started")
        if not running.get("done"):
            running["done"] = True
            self._run(running["body"])
            self.commands.append(running["body"])
        return self._command_resource(command_id, "completed")

    def _run(self, body: dict[str, Any]) -> None:
        if body["name"] == "RenameFiles":
            for file_id in body["files"]:
                item, file = self.file(file_id)
                if file.desired:
                    target = self.local(item, file.desired)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    os.rename(self.local(item, file.relative), target)
                    file.relative, file.desired = file.desired, None
            return
        wanted = body.get(ITEM_ID[self.kind]) or (body.get("artistIds") or [None])[0]
        for item in self.items:  # a rescan: a file whose extension changed is found again
            for file in item.files if item.id == wanted else ():
                here = self.local(item, file.relative)
                if not here.exists():
                    for suffix in VIDEO_SUFFIXES:
                        if here.with_suffix(suffix).exists():
                            file.relative = str(Path(file.relative).with_suffix(suffix))

    def _cutoff(self, request: Request, _: Any) -> dict[str, Any]:
        page, size = (
            int(request.query_params.get("page") or 1),
            int(request.query_params.get("pageSize") or 10),
        )
        records: list[dict[str, Any]] = []
        for item in self.items:
            below = [f for f in item.files if not f.cutoff_met]
            if self.kind == "sonarr":
                records += [
                    {
                        "id": f.id * 10,
                        "seriesId": item.id,
                        "episodeFileId": f.id,
                        "hasFile": True,
                        "series": self.item_resource(item),
                        "episodeFile": self.file_resource(item, f),
                    }
                    for f in below
                ]
            elif self.kind == "radarr":
                records += [
                    {**self.item_resource(item), "hasFile": True, "movieFile": self.file_resource(item, f)}
                    for f in below[:1]
                ]
            elif below:
                records.append(
                    {
                        "id": item.id * 100,
                        "title": f"{item.title} album",
                        "artistId": item.id,
                        "artist": self.item_resource(item),
                    }
                )
        return {
            "page": page,
            "pageSize": size,
            "totalRecords": len(records),
            "records": records[(page - 1) * size : page * size],
        }

    def _track_files(self, request: Request, _: Any) -> list[dict[str, Any]]:
        album = int(request.query_params.get("albumId") or 0)
        return [
            self.file_resource(item, f)
            for item in self.items
            if item.id * 100 == album
            for f in item.files
            if not f.cutoff_met
        ]
