"""The scans API with a real scanner behind it: start a scan, follow it, cancel one, set the library
folders; every route needs a login or an API key (real uvicorn, NATS, PostgreSQL, clips)."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest
from librarrarian_contracts import CancelScan, topology
from librarrarian_contracts.codec import scan_decoder
from librarrarian_contracts.settings import FOLDERS_KEY, ScannerFolders, TrackRules
from librarrarian_scanner import service as scanner
from librarrarian_scanner.settings import Settings as ScannerSettings
from librarrarian_testing import eventually
from nats.aio.client import Client
from nats.js import JetStreamContext

from .sites import Site


@pytest.fixture
async def with_scanner(site: Site, shared_media: Path) -> AsyncIterator[Site]:
    shutil.copyfile(shared_media / "bikes.mp4", site.media / "TV" / "Bikes S01E01.mp4")
    shutil.copyfile(shared_media / "bigbuckbunny.mp4", site.media / "Big Buck Bunny.mp4")
    settings = ScannerSettings(
        nats_url=site.settings.nats_url,
        database_url=site.settings.database_url,
        media_paths=site.settings.media_paths,
        scan_on_start=False,
        scan_interval_seconds=0,
        watch=False,
        watch_settle_seconds=0,
    )
    stopping = asyncio.Event()
    task = asyncio.create_task(scanner.run(settings, stopping))
    yield site
    stopping.set()
    await asyncio.wait_for(task, 30)


async def test_every_scan_route_needs_a_login_or_a_key(site: Site) -> None:
    scan_id = uuid.uuid4().hex
    async with site.client(key=None) as anonymous, site.client(key="wrong") as wrong:
        for client in (anonymous, wrong):
            assert (await client.get("/api/v1/scans")).status_code == 401
            assert (await client.post("/api/v1/scans", json={})).status_code == 401
            assert (await client.get(f"/api/v1/scans/{scan_id}")).status_code == 401
            assert (await client.post(f"/api/v1/scans/{scan_id}/cancel")).status_code == 401
            assert (await client.get("/api/v1/settings/folders")).status_code == 401
            assert (await client.put("/api/v1/settings/folders", json={"folders": []})).status_code == 401


async def test_a_scan_is_started_followed_and_cannot_be_cancelled_once_done(with_scanner: Site) -> None:
    site = with_scanner
    async with site.client() as api:
        accepted = await api.post("/api/v1/scans", json={"roots": [str(site.media / "TV")], "force": True})
        assert accepted.status_code == 202
        scan_id = accepted.json()["id"]

        async def finished() -> dict[str, object] | None:
            listed = (await api.get("/api/v1/scans")).json()
            mine = [s for s in listed if s["id"] == scan_id]
            return mine[0] if mine and mine[0]["state"] == "done" else None

        done = await eventually(finished, timeout=60)
        assert done["trigger"] == "request" and done["roots"] == [str((site.media / "TV").resolve())]
        assert (done["seen"], done["to_probe"], done["probed"], done["queued"], done["errors"]) == (
            1,
            1,
            1,
            1,
            0,
        )
        assert done["force"] is True and done["finished_at"] is not None and done["eta_seconds"] is None
        one = await api.get(f"/api/v1/scans/{scan_id}")
        assert one.status_code == 200 and one.json()["state"] == "done"

        refused = await api.post(f"/api/v1/scans/{scan_id}/cancel")
        assert refused.status_code == 409 and "done" in refused.json()["detail"]
        assert (await api.post("/api/v1/scans/not-an-id/cancel")).status_code == 404
        assert (await api.get(f"/api/v1/scans/{uuid.uuid4().hex}")).status_code == 404


async def test_a_cancel_is_sent_to_the_scanner_on_the_scans_own_subject(
    site: Site, bus: tuple[Client, JetStreamContext]
) -> None:
    _, js = bus
    scan_id = uuid.uuid4().hex  # queued: no scanner has taken it yet
    async with site.client() as api:
        response = await api.post(f"/api/v1/scans/{scan_id}/cancel")
    assert response.status_code == 202 and response.json() == {"id": scan_id, "detail": "cancel requested"}
    msg = await js.get_last_msg(topology.CONTROL.name, topology.scan_cancel_subject(scan_id))
    command = scan_decoder.decode(msg.data)
    assert isinstance(command, CancelScan) and command.scan_id == scan_id


async def test_library_folders_are_checked_and_stored_where_the_scanner_watches(
    site: Site, bus: tuple[Client, JetStreamContext]
) -> None:
    _, js = bus
    async with site.client() as api:
        unset = await api.get("/api/v1/settings/folders")
        assert unset.json() == {"folders": [], "default": True}
        outside = await api.put(
            "/api/v1/settings/folders", json={"folders": [{"path": str(site.media / ".."), "type": "tv"}]}
        )
        assert outside.status_code == 400 and "outside the media paths" in outside.json()["detail"]
        bad_type = await api.put(
            "/api/v1/settings/folders", json={"folders": [{"path": str(site.media), "type": "cartoons"}]}
        )
        assert bad_type.status_code == 422
        bad_language = await api.put(
            "/api/v1/settings/folders",
            json={"folders": [{"path": str(site.media), "tracks": {"languages": ["English"]}}]},
        )
        assert bad_language.status_code == 422
        tracks = {"languages": ["eng", "fre"], "drop_commentary": True, "image_subtitles": False}
        body = {
            "folders": [
                {"path": str(site.media), "type": "movies", "tracks": tracks},
                {"path": str(site.media / "TV"), "type": "tv", "priority": 5, "review": True},
            ]
        }
        stored = await api.put("/api/v1/settings/folders", json=body)
        assert stored.status_code == 200
        resolved = [
            {
                "path": str(site.media.resolve()),
                "type": "movies",
                "tracks": tracks,
                "priority": 0,
                "review": False,
            },
            {
                "path": str((site.media / "TV").resolve()),
                "type": "tv",
                "tracks": None,
                "priority": 5,
                "review": True,
            },
        ]
        assert stored.json() == {"folders": resolved, "default": False}
        assert (await api.get("/api/v1/settings/folders")).json() == stored.json()
    kv = await js.key_value(topology.SETTINGS.name)
    value = msgspec.json.decode((await kv.get(FOLDERS_KEY)).value or b"", type=ScannerFolders)
    assert [(f.path, f.type) for f in value.folders] == [(r["path"], r["type"]) for r in resolved]
    assert [f.review for f in value.folders] == [False, True]
    assert value.folders[0].tracks == TrackRules(
        languages=("eng", "fre"), drop_commentary=True, image_subtitles=False
    )
