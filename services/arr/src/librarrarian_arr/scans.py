"""Scans of one app: its rename preview of every series, movie or artist (a ``rename`` job per file it would
name otherwise), or its cutoff-unmet list (a ``quality_mismatch`` entry per file below its profile's cutoff).

Each scan shows in the ``scans`` bucket like a library scan (``kind`` rename or quality, ``seen`` counting
the app's items, ``queued`` the files found), rewritten about every second, and stops when cancelled
(``scan.cancel.<id>``, heard by every arr service; a cancel sent before the scan's command was taken is found
in the stream when it is). One scan runs at a time; the others wait their turn.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from librarrarian_contracts import (
    ArrApp,
    ArrScanCompleted,
    QualityMismatchFound,
    RenameWanted,
    StartArrScan,
    publish,
)
from librarrarian_contracts.arr import ArrSettings, ScanKind
from librarrarian_contracts.enums import ScanTrigger
from librarrarian_contracts.messages import utcnow
from librarrarian_contracts.scans import ScanStatus
from librarrarian_runtime.scan_board import ScanBoard
from nats.js import JetStreamContext

from . import apps
from .client import ArrClient, ArrError
from .connections import Connections

log = logging.getLogger(__name__)

PAGE = 100
# The most cutoff-unmet entries read from one app: more than any home library, and a bound on a hostile one.
MAX_ENTRIES = 200_000


@dataclass
class ArrScanRun:
    scan_id: str
    app: ArrApp
    kind: ScanKind
    trigger: ScanTrigger
    state: str = "queued"
    seen: int = 0
    total: int = 0
    found: int = 0
    skipped: int = 0  # files outside the media paths once mapped
    detail: str = ""
    started_at: datetime = field(default_factory=utcnow)
    finished_at: datetime | None = None
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    def status(self) -> ScanStatus:
        return ScanStatus(
            scan_id=self.scan_id,
            trigger=self.trigger,
            roots=(self.app.value,),
            state=self.state,  # type: ignore[arg-type]  # only ScanState values are assigned
            seen=self.seen,
            to_probe=self.total,
            probed=self.seen,
            queued=self.found,
            errors=self.skipped,
            detail=self.detail,
            started_at=self.started_at,
            finished_at=self.finished_at,
            kind=self.kind,
            app=self.app.value,
        )


class Scans:
    def __init__(self, connections: Connections, js: JetStreamContext) -> None:
        self.connections = connections
        self.js = js
        self.board = ScanBoard(js)
        self.runs: dict[str, ArrScanRun] = {}  # running or waiting their turn here
        self._one_scan = asyncio.Lock()

    def cancel(self, scan_id: str) -> None:
        run = self.runs.get(scan_id)
        if run is None:
            return  # another's (a library scan), or not taken yet: its cancel stays in the stream
        run.stop.set()
        log.info("arr scan %s: cancel requested", scan_id[:8])

    async def run(
        self, command: StartArrScan, trigger: ScanTrigger = ScanTrigger.REQUEST
    ) -> ArrScanCompleted:
        run = ArrScanRun(command.event_id, command.app, command.kind, trigger)
        self.runs[run.scan_id] = run
        if await self.board.cancelled_while_queued(run.scan_id):
            run.stop.set()
        started = time.monotonic()
        ticker = asyncio.create_task(self.board.follow(run))
        try:
            await self.board.show(run)
            async with self._one_scan:
                await self._scan(run)
        except ArrError as error:
            run.state, run.detail = "failed", str(error)
            log.warning("arr scan %s of %s failed: %s", run.scan_id[:8], run.app, error)
        except asyncio.CancelledError:
            run.state, run.detail = "failed", "interrupted: the arr service stopped"
            raise
        finally:
            ticker.cancel()
            run.finished_at = utcnow()
            await self.board.show(run)
            del self.runs[run.scan_id]
        completed = ArrScanCompleted(
            scan_id=run.scan_id,
            app=run.app,
            kind=run.kind,
            items=run.seen,
            found=run.found,
            elapsed_seconds=round(time.monotonic() - started, 3),
            cancelled=run.state == "cancelled",
            problem=run.detail if run.state == "failed" else "",
        )
        await publish(self.js, completed)
        log.info(
            "arr %s scan %s of %s %s: %d item(s), %d file(s) found",
            run.kind,
            run.scan_id[:8],
            run.app,
            run.state,
            run.seen,
            run.found,
        )
        return completed

    async def _scan(self, run: ArrScanRun) -> None:
        if not run.stop.is_set():  # a scan cancelled while it waited never asks the app
            settings, client = await self.connections.open(run.app)
            run.state = "probing"
            if run.kind == "rename":
                await self._renames(run, settings, client)
            else:
                await self._qualities(run, settings, client)
        run.state = "cancelled" if run.stop.is_set() else "done"

    async def _renames(self, run: ArrScanRun, settings: ArrSettings, client: ArrClient) -> None:
        items = await client.items()
        run.total = len(items)
        for item in items:
            if run.stop.is_set():
                return
            for entry in await client.rename_preview(item["id"]):
                existing, new = entry.get("existingPath"), entry.get("newPath")
                file_id = entry.get(client.api.file_id)
                if not (isinstance(existing, str) and isinstance(new, str) and isinstance(file_id, int)):
                    continue
                path = self._local(run, settings, apps.join(str(item.get("path") or ""), existing))
                new_path = self._local(run, settings, apps.join(str(item.get("path") or ""), new))
                if path is None or new_path is None:
                    continue
                wanted = RenameWanted(
                    app=run.app,
                    path=path,
                    new_path=new_path,
                    item_id=item["id"],
                    file_id=file_id,
                    title=str(item.get(client.api.title) or ""),
                    approval=settings.rename_approval,
                    scan_id=run.scan_id,
                )
                await publish(self.js, wanted)
                run.found += 1
            run.seen += 1

    async def _qualities(self, run: ArrScanRun, settings: ArrSettings, client: ArrClient) -> None:
        profiles = {p["id"]: p for p in await client.call("GET", "qualityprofile") or () if "id" in p}
        page = 1
        while not run.stop.is_set():
            body = await client.call("GET", "wanted/cutoff", params=client.api.cutoff_params(page, PAGE))
            records = [r for r in (body or {}).get("records") or () if isinstance(r, dict)]
            run.total = min(int((body or {}).get("totalRecords") or 0), MAX_ENTRIES)
            for record in records:
                if run.stop.is_set():
                    return
                for item, file in await self._files_of(client, record):
                    path = self._local(run, settings, str(file.get("path") or ""))
                    if path is None or not isinstance(file.get("id"), int):
                        continue
                    profile = profiles.get(item.get("qualityProfileId"))
                    found = QualityMismatchFound(
                        app=run.app,
                        path=path,
                        item_id=int(item.get("id") or 0),
                        file_id=file["id"],
                        title=str(item.get(client.api.title) or ""),
                        quality=apps.quality_name(file),
                        cutoff=apps.cutoff_name(profile),
                        hold=settings.hold_below_cutoff,
                        scan_id=run.scan_id,
                    )
                    await publish(self.js, found)
                    run.found += 1
                run.seen += 1
            if not records or page * PAGE >= run.total:
                return
            page += 1

    @staticmethod
    async def _files_of(
        client: ArrClient, record: dict[str, Any]
    ) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """(owner, file) of one cutoff-unmet entry: an episode (Sonarr), a movie (Radarr), an album whose
        track files are asked for (Lidarr)."""
        app = client.api.app
        if app is ArrApp.SONARR:
            file, series = record.get("episodeFile"), record.get("series")
            return [(series, file)] if isinstance(file, dict) and isinstance(series, dict) else []
        if app is ArrApp.RADARR:
            file = record.get("movieFile")
            return [(record, file)] if isinstance(file, dict) else []
        artist = record.get("artist")
        owner: dict[str, Any] = artist if isinstance(artist, dict) else {}
        files = await client.call("GET", "trackfile", params={"albumId": record.get("id")})
        return [(owner, f) for f in files or () if isinstance(f, dict)]

    def _local(self, run: ArrScanRun, settings: ArrSettings, app_path: str) -> str | None:
        local = self.connections.local(settings, app_path)
        if local is None:
            run.skipped += 1
            log.warning("%s names %s: outside the media paths once mapped; left alone", run.app, app_path)
            return None
        return str(local)
