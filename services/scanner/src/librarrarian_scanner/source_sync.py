"""A sync: the file paths Plex and Jellyfin know, mapped to ours, kept only if they lie inside the media
paths, then handed to the scanner like the watcher's finds, so they are probed and published like any file.

Runs on demand and on the scanner's schedule; one at a time, and only for the sources that are configured.
Each source's sync shows as one entry in the ``scans`` bucket (trigger ``plex`` or ``jellyfin``), whatever
the number of hand-overs; cancelling it there stops the sync.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from librarrarian_contracts.enums import ScanTrigger
from librarrarian_contracts.sources import JELLYFIN, PLEX, PathMapping
from librarrarian_runtime import cadence
from librarrarian_runtime.cadence import Cadence
from librarrarian_runtime.media_paths import OutsideMediaPaths, contain
from librarrarian_runtime.outbound import PrivateServers
from librarrarian_runtime.path_mapping import to_local

from .jellyfin import Jellyfin
from .plex import PlexMediaServer
from .progress import ScanRun
from .scan import Scanner
from .source_store import SourceError, SourceStore

log = logging.getLogger(__name__)

# Files handed to the scanner at once: each hand-over is one catalogue look-up and one summary event.
CHUNK = 500
# Refused paths named one by one in the log; past that, only counted.
NAMED_REFUSALS = 20


@dataclass
class SyncReport:
    source: str
    reported: int = 0  # paths the server gave
    refused: int = 0  # outside the media paths once mapped
    handed: int = 0  # given to the scanner
    probed: int = 0
    failed: int = 0
    problem: str = ""


@dataclass
class Taken:
    report: SyncReport
    kept: list[Path]


@dataclass
class SourceSync:
    scanner: Scanner
    store: SourceStore
    http: httpx.AsyncClient
    media_paths: tuple[Path, ...]
    plex_timeout_seconds: float = 30.0
    private_servers: PrivateServers = PrivateServers.LAN
    _one_sync: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def running(self) -> bool:
        return self._one_sync.locked()

    async def configured(self) -> tuple[str, ...]:
        plex, jellyfin = await self.store.plex(), await self.store.jellyfin()
        found = []
        if plex.server_token and plex.url and plex.sections:
            found.append(PLEX)
        if jellyfin.api_key and jellyfin.url and jellyfin.libraries:
            found.append(JELLYFIN)
        return tuple(found)

    async def sync(self, sources: tuple[str, ...] = ()) -> list[SyncReport]:
        """Sync ``sources`` (default: every configured one). A source that fails is reported, not raised:
        the other one still runs."""
        async with self._one_sync:
            reports = []
            for source in await self.configured():
                if sources and source not in sources:
                    continue
                report = SyncReport(source)
                try:
                    paths, mappings = await self._paths(source)
                    await self._hand_over(report, paths, mappings)
                except SourceError as error:
                    report.problem = str(error)
                    log.warning("%s sync failed: %s", source, error)
                reports.append(report)
            return reports

    async def _paths(self, source: str) -> tuple[list[str], tuple[PathMapping, ...]]:
        if source == PLEX:
            plex = await self.store.plex()
            server = PlexMediaServer(
                plex.url, plex.server_token, self.private_servers, self.plex_timeout_seconds
            )
            return await server.part_files(plex.sections), plex.mappings
        jellyfin = await self.store.jellyfin()
        client = Jellyfin(self.http, jellyfin.url, jellyfin.api_key)
        return await client.item_paths(jellyfin.libraries), jellyfin.mappings

    def take(self, source: str, paths: list[str], mappings: tuple[PathMapping, ...]) -> Taken:
        """What a media server reported, mapped here and kept only inside the media paths (a webhook's)."""
        report = SyncReport(source, reported=len(paths))
        return Taken(report, self._kept(report, paths, mappings))

    async def probe(self, taken: Taken) -> None:
        """Probe and queue what ``take`` kept, as one entry in the scans bucket; run in the background."""
        try:
            completed = await self.scanner.scan_files(taken.kept, trigger=ScanTrigger(taken.report.source))
        except Exception:  # the task's outermost edge: nobody awaits it
            log.exception("%s: probing %d files failed", taken.report.source, len(taken.kept))
            return
        log.info(
            "%s webhook: %d files looked at, %d probed, %d failed",
            taken.report.source,
            completed.seen,
            completed.probed,
            completed.failed,
        )

    def _kept(self, report: SyncReport, paths: list[str], mappings: tuple[PathMapping, ...]) -> list[Path]:
        kept: list[Path] = []
        for path in dict.fromkeys(paths):  # a file in two libraries is looked at once
            local = to_local(path, mappings)
            try:
                kept.append(contain(local, self.media_paths))
            except (OutsideMediaPaths, RuntimeError) as error:  # RuntimeError: a symlink loop
                report.refused += 1
                if report.refused <= NAMED_REFUSALS:
                    log.warning(
                        "%s: refusing %s (here %s): %s; check the path mappings",
                        report.source,
                        path,
                        local,
                        "it lies outside the media paths" if isinstance(error, OutsideMediaPaths) else error,
                    )
        return kept

    async def _hand_over(
        self, report: SyncReport, paths: list[str], mappings: tuple[PathMapping, ...]
    ) -> None:
        report.reported = len(paths)
        kept = self._kept(report, paths, mappings)
        run = ScanRun(uuid.uuid4().hex, ScanTrigger(report.source), ())
        for start in range(0, len(kept), CHUNK):
            completed = await self.scanner.scan_files(kept[start : start + CHUNK], run=run)
            report.handed += completed.seen
            report.probed += completed.probed
            report.failed += completed.failed
            if run.cancelled:
                report.problem = "cancelled"
                break
        log.info(
            "%s sync %s: %d paths reported, %d refused, %d videos found here, %d probed, %d failed",
            report.source,
            "cancelled" if run.cancelled else "done",
            report.reported,
            report.refused,
            report.handed,
            report.probed,
            report.failed,
        )

    async def run_on_schedule(self, interval: Cadence, stopping: asyncio.Event) -> None:
        """Sync every configured source now (unless the interval is 0) and then on the scan interval (0:
        only on demand), following its changes."""
        await cadence.every(
            stopping, interval, self.sync, what="scheduled source sync", at_start=interval.seconds > 0
        )
