"""After a file is replaced (``job.completed``), the media servers are told, so they show the new file
without a full library scan: Plex rescans the file's folder in its section, Jellyfin hears which files were
created, modified or deleted.

A server that cannot be reached is logged and skipped rather than retried: its own scheduled scan finds the
change later, and a refresh retried for hours would help nobody.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

import httpx
from librarrarian_contracts import JobCompleted, topology
from librarrarian_contracts.codec import job_decoder
from librarrarian_contracts.messages import JobReport
from librarrarian_contracts.sources import JellyfinSettings, PlexSettings
from librarrarian_runtime import consumer
from librarrarian_runtime.media_paths import OutsideMediaPaths, contain
from librarrarian_runtime.outbound import PrivateServers
from librarrarian_runtime.path_mapping import to_server
from nats.js import JetStreamContext

from .jellyfin import Jellyfin
from .plex import PlexMediaServer
from .source_store import SourceError, SourceStore

log = logging.getLogger(__name__)


def _is_within(path: str, folder: str) -> bool:
    """Whether the server path ``path`` lies in the server folder ``folder`` (either kind of separator)."""
    path, folder = path.replace("\\", "/"), folder.replace("\\", "/").rstrip("/")
    windows = len(folder) >= 2 and folder[1] == ":"
    if windows:
        path, folder = path.lower(), folder.lower()
    return path == folder or path.startswith(folder + "/")


@dataclass
class Refresher:
    store: SourceStore
    http: httpx.AsyncClient
    media_paths: tuple[Path, ...]
    plex_timeout_seconds: float = 30.0
    private_servers: PrivateServers = PrivateServers.LAN

    async def consume(self, js: JetStreamContext, stopping: asyncio.Event) -> None:
        await consumer.consume(js, topology.SCANNER_JOBS, job_decoder, self.handle, stopping)

    async def handle(self, event: JobReport) -> None:
        if not isinstance(event, JobCompleted):
            return  # the durable asks for job.completed only; anything else is not ours
        try:
            before = contain(event.path, self.media_paths)
            after = contain(event.output_path, self.media_paths)
        except OutsideMediaPaths as error:
            log.error("job %d: not refreshing the media servers: %s", event.job_id, error)
            return
        plex, jellyfin = await self.store.plex(), await self.store.jellyfin()
        if plex.server_token and plex.url and plex.sections:
            await self._plex(event.job_id, plex, after.parent)
        if jellyfin.api_key and jellyfin.url:
            await self._jellyfin(event.job_id, jellyfin, before, after)

    async def _plex(self, job_id: int, plex: PlexSettings, folder: Path) -> None:
        server_folder = to_server(str(folder), plex.mappings)
        server = PlexMediaServer(plex.url, plex.server_token, self.private_servers, self.plex_timeout_seconds)
        try:
            sections = [
                s
                for s in await server.sections()
                if s.id in plex.sections and any(_is_within(server_folder, loc) for loc in s.locations)
            ]
            if not sections:
                log.info("job %d: no chosen Plex section holds %s; nothing to refresh", job_id, server_folder)
                return
            for section in sections:
                await server.refresh(section.id, server_folder)
                log.info("job %d: Plex section %s rescans %s", job_id, section.title, server_folder)
        except SourceError as error:
            log.warning("job %d: Plex refresh skipped: %s", job_id, error)

    async def _jellyfin(self, job_id: int, jellyfin: JellyfinSettings, before: Path, after: Path) -> None:
        old, new = to_server(str(before), jellyfin.mappings), to_server(str(after), jellyfin.mappings)
        updates = [(new, "Modified")] if old == new else [(old, "Deleted"), (new, "Created")]
        try:
            await Jellyfin(self.http, jellyfin.url, jellyfin.api_key).media_updated(updates)
        except SourceError as error:
            log.warning("job %d: Jellyfin refresh skipped: %s", job_id, error)
            return
        log.info("job %d: Jellyfin told of %s", job_id, ", ".join(f"{k.lower()} {p}" for p, k in updates))
