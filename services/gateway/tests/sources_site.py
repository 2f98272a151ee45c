"""Plex, plex.tv and Jellyfin fakes behind a real gateway and the real scanner: the site the sources'
API and webhook tests run against, and linking Plex through the API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from librarrarian_runtime.outbound import PrivateServers
from librarrarian_scanner import service as scanner
from librarrarian_scanner.settings import Settings as ScannerSettings
from librarrarian_testing import eventually
from librarrarian_testing.media_servers import (
    FakeJellyfin,
    FakeLibrary,
    FakePlexServer,
    FakePlexTv,
    FakeSection,
    serving,
)
from nats.aio.client import Client
from nats.js import JetStreamContext

from .sites import API_KEY, gateway_settings, start


@dataclass
class Sources:
    """The gateway, its scanner, and the fake plex.tv, Plex and Jellyfin servers the scanner talks to."""

    url: str
    media: Path
    tv: FakePlexTv
    pms: FakePlexServer
    pms_url: str
    jf: FakeJellyfin
    jf_url: str

    def client(self, key: str | None = API_KEY) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, headers={"X-Api-Key": key} if key else {}, timeout=30)

    def secrets(self) -> list[str]:
        return [self.tv.account_token, self.pms.token, self.jf.api_key]


@pytest.fixture
async def site(
    nats_url: str, database_url: str, tmp_path: Path, bus: tuple[Client, JetStreamContext]
) -> AsyncIterator[Sources]:
    media = (tmp_path / "media").resolve()
    (media / "Movies").mkdir(parents=True)
    tv, pms = FakePlexTv(), FakePlexServer()
    pms.sections = [FakeSection("1", "Movies", "movie", ("/data/Movies",), {"A": ("/data/Movies/a.mkv",)})]
    jf = FakeJellyfin(
        libraries=[FakeLibrary("Movies", "movies", ("/media/Movies",), ("/media/Movies/a.mkv",))]
    )
    settings = gateway_settings(nats_url, database_url, media)
    async with serving(tv.build()) as tv_url, serving(pms.build()) as pms_url, serving(jf.build()) as jf_url:
        scanner_settings = ScannerSettings(
            nats_url=nats_url,
            database_url=database_url,
            media_paths=(media,),
            scan_on_start=False,
            scan_interval_seconds=0,
            watch=False,
            plex_tv_url=tv_url,
            private_servers=PrivateServers.ALL,  # the fake servers listen on loopback
        )
        scanning = asyncio.Event()
        scanner_task = asyncio.create_task(scanner.run(scanner_settings, scanning))
        stopping, gateway_task = await start(settings)
        found = Sources(f"http://127.0.0.1:{settings.port}", media, tv, pms, pms_url, jf, jf_url)

        async def answering() -> bool:
            assert not scanner_task.done(), scanner_task
            async with found.client() as client:
                return (await client.get("/api/v1/sources")).status_code == 200

        try:
            await eventually(answering, timeout=30, message="scanner answering")
            yield found
        finally:
            stopping.set()
            scanning.set()
            await asyncio.wait_for(asyncio.gather(scanner_task, gateway_task), 30)


async def link_plex(site: Sources, sections: tuple[str, ...] = ("1",)) -> str:
    """Link the account, choose the fake server with ``sections`` and ``/data`` mapped to the media path;
    the server's id."""
    async with site.client() as client:
        pin = (await client.post("/api/v1/sources/plex/pin")).json()
        site.tv.link(pin["code"])
        assert (await client.get("/api/v1/sources/plex/pin")).json()["linked"]
        server_id = site.tv.add_server("Den", site.pms_url, site.pms.token, site.pms.identifier)
        chosen = await client.put(
            "/api/v1/sources/plex",
            json={
                "server_id": server_id,
                "sections": list(sections),
                "mappings": [{"server": "/data", "local": str(site.media)}],
            },
        )
        assert chosen.status_code == 200, chosen.text
    return server_id
