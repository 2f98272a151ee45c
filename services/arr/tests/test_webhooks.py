"""The apps' Connect → Webhook through the real gateway, with the arr service, the scanner and the scheduler
behind it: an import is probed and queued at once, a deleted file's waiting job is dropped, a file the app
renamed keeps its job and its catalogue record; the webhook key is checked and nothing else opens it."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from librarrarian_embedded.nats_server import free_port
from librarrarian_gateway import service as gateway
from librarrarian_gateway.settings import Settings as GatewaySettings
from librarrarian_testing import eventually
from librarrarian_testing.clips import lavfi_clip
from librarrarian_testing.media_servers import FakeFile

from .arr_cluster import catalogued, job_list, scanner_and_scheduler, shows
from .arr_service import ArrService

API_KEY = "gateway-test-key-0123456789"


@pytest.fixture
async def gateway_url(nats_url: str, database_url: str, media: Path) -> AsyncIterator[str]:
    settings = GatewaySettings(
        nats_url=nats_url, database_url=database_url, host="127.0.0.1", port=free_port(), api_key=API_KEY,
        media_paths=(media,),
    )  # fmt: skip
    stopping = asyncio.Event()
    task = asyncio.create_task(gateway.run(settings, stopping))
    url = f"http://127.0.0.1:{settings.port}"

    async def up() -> bool:
        try:
            async with httpx.AsyncClient() as client:
                return (await client.get(f"{url}/healthz")).status_code == 200
        except httpx.TransportError:
            return False

    await eventually(up, timeout=30, message="gateway up")
    try:
        yield url
    finally:
        stopping.set()
        await asyncio.wait_for(task, 30)


def basic(password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"sonarr:{password}".encode()).decode()}


async def test_webhooks_queue_imports_at_once_drop_deleted_files_and_follow_renames(
    arr: ArrService, gateway_url: str, nats_url: str, database_url: str, media: Path, shared_media: Path
) -> None:
    library = shows(media, shared_media)
    fake, nc = library.fake, arr.nc
    async with (
        scanner_and_scheduler(nc, nats_url, database_url, media),
        httpx.AsyncClient(base_url=gateway_url, headers={"X-Api-Key": API_KEY}, timeout=30) as api,
        httpx.AsyncClient(base_url=gateway_url, timeout=30) as app,
    ):
        mapping = {"server": fake.root, "local": str(fake.local_root)}
        body = {"url": "http://127.0.0.1:8989", "api_key": fake.api_key, "mappings": [mapping]}
        assert (await api.put("/api/v1/arr/sonarr", json=body)).json()["configured"] is True
        made = await api.post("/api/v1/arr/webhook-key")
        assert made.status_code == 201
        key = made.json()["key"]
        hook = "/api/v1/arr/sonarr/webhook"

        # The key is needed, and only it: not the gateway's API key, not a wrong one.
        test_event = {"eventType": "Test", "series": fake.item_resource(library.series)}
        assert (await app.post(hook, json=test_event)).status_code == 401
        assert (await app.post(hook, json=test_event, headers=basic("wrong"))).status_code == 401
        assert (await app.post(hook, json=test_event, headers={"X-Api-Key": API_KEY})).status_code == 401
        answer = await app.post(hook, json=test_event, headers=basic(key))
        assert answer.status_code == 200 and answer.json() == {"event": "Test", "detail": "nothing to do"}

        # An import: probed and queued at once (no scan runs: the scanner neither watches nor scans here).
        season = library.path(library.first).parent
        lavfi_clip(season / "Bikes - S01E03.mp4", seconds=2)
        imported = FakeFile(id=73, relative="Season 01/Bikes - S01E03.mp4")
        library.series.files.append(imported)
        sent = time.monotonic()
        answer = await app.post(
            hook, json=fake.download_payload(library.series, imported), headers=basic(key)
        )
        assert answer.status_code == 200 and answer.json()["detail"] == "1 file event(s)"
        new_file = str(season / "Bikes - S01E03.mp4")
        (queued,) = await eventually(
            lambda: job_list(nc, "transcode"), timeout=10, interval=0.02, message="the import queued"
        )
        print(f"webhook import to queued transcode: {time.monotonic() - sent:.3f} s")
        assert (queued.path, queued.status) == (new_file, "pending")

        # Sonarr renames it: the waiting job and the catalogue record follow the file.
        renamed_relative = "Season 01/Bikes - S01E03 - Climb [WEBDL-1080p].mp4"
        (season / "Bikes - S01E03.mp4").rename(fake.local(library.series, renamed_relative))
        old_relative, imported.relative = imported.relative, renamed_relative
        payload = fake.rename_payload(library.series, [(old_relative, imported)])
        assert (await app.post(hook, json=payload, headers=basic(key))).status_code == 200
        renamed = str(fake.local(library.series, renamed_relative))
        await eventually(lambda: _paths(job_list(nc, "transcode"), [renamed]), timeout=10, message="followed")
        await eventually(lambda: _has(catalogued(database_url), renamed), timeout=10, message="record moved")
        assert new_file not in await catalogued(database_url)

        # Sonarr deletes it: the waiting job is dropped.
        payload = fake.delete_payload(library.series, renamed_relative)
        assert (await app.post(hook, json=payload, headers=basic(key))).status_code == 200
        await eventually(lambda: _paths(job_list(nc, "transcode"), []), timeout=10, message="job dropped")

        # A new key replaces the old one.
        assert (await api.post("/api/v1/arr/webhook-key")).status_code == 201
        assert (await app.post(hook, json=test_event, headers=basic(key))).status_code == 401
        assert (
            await app.post("/api/v1/arr/nonesuch/webhook", json={}, headers=basic(key))
        ).status_code == 404
    assert fake.rejected == []


async def _paths(found: object, paths: list[str]) -> bool:
    return [j.path for j in await found] == paths  # type: ignore[attr-defined]


async def _has(found: object, path: str) -> bool:
    return path in await found  # type: ignore[operator]
