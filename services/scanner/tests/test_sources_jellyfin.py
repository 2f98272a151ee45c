"""Jellyfin as a source, against a fake Jellyfin built from its OpenAPI document: URL and API key, the
connection test, library choice, a paged sync whose files are really probed, refusals outside the media
paths, the media-updated notice after a replace, and that every request was one the document lists."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import msgspec
import pytest
from librarrarian_contracts import JobCompleted, MediaProbed, MediaProbeFailed, publish, topology
from librarrarian_contracts import sources as contract
from librarrarian_contracts.messages import MediaEvent
from librarrarian_contracts.views import Nothing
from librarrarian_runtime import outbound
from librarrarian_runtime.errors import BadRequest, ServiceError
from librarrarian_runtime.outbound import PrivateServers
from librarrarian_runtime.queries import ask
from librarrarian_scanner import jellyfin as jellyfin_adapter
from librarrarian_scanner import service
from librarrarian_scanner.settings import Settings
from librarrarian_testing import eventually, library
from librarrarian_testing.media_servers import FakeJellyfin, FakeLibrary, jellyfin_spec, serving
from librarrarian_testing.scanning import collect, scan_entries, scanner_answers
from nats.aio.client import Client
from nats.js import JetStreamContext
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

Bus = tuple[Client, JetStreamContext]


@dataclass
class World:
    nc: Client
    js: JetStreamContext
    media: Path
    lib: library.Library
    jf: FakeJellyfin
    url: str
    events: list[MediaEvent]


@pytest.fixture
async def world(
    bus: Bus,
    nats_url: str,
    database_url: str,
    tmp_path: Path,
    shared_media: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[World]:
    monkeypatch.setattr(jellyfin_adapter, "PAGE", 2)  # several pages from a small library
    nc, js = bus
    media = tmp_path / "media"
    lib = library.build(media, shared_media)
    jf = FakeJellyfin(
        libraries=[
            FakeLibrary(
                "Movies",
                "movies",
                ("/media/Movies",),
                (
                    "/media/Movies/Big Buck Bunny (2008)/Big Buck Bunny.mp4",
                    "/media/Movies/Already HEVC.mkv",
                    "/media/Movies/Broken.mp4",
                    "/srv/other/Stolen.mkv",  # no mapping covers it, and it is not in the media paths
                ),
            ),
            FakeLibrary(
                "Shows",
                "tvshows",
                ("/media/TV",),
                ("/media/TV/Bikes/Season 01/Bikes S01E01.mkv", "/media/TV/Bikes/Season 01/Bikes S01E02.avi"),
            ),
            FakeLibrary("Other", "movies", ("/media/Other",), ("/media/Other/not-chosen.mkv",)),
        ]
    )
    stopping = asyncio.Event()
    events: list[MediaEvent] = []
    async with serving(jf.build()) as url:
        settings = Settings(
            nats_url=nats_url,
            database_url=database_url,
            media_paths=(media.resolve(),),
            scan_on_start=False,
            scan_interval_seconds=0,
            watch=False,
            private_servers=PrivateServers.ALL,  # the fake servers listen on loopback
        )
        scanner = asyncio.create_task(service.run(settings, stopping))
        collector = asyncio.create_task(collect(js, events, stopping))
        try:
            await eventually(lambda: scanner_answers(nc), timeout=30, message="scanner answering")
            yield World(nc, js, media.resolve(), lib, jf, url, events)
        finally:
            stopping.set()
            await asyncio.wait_for(asyncio.gather(scanner, collector), 30)


async def set_up(w: World, api_key: str | None = None) -> None:
    setup = contract.JellyfinSetup(
        url=w.url,
        api_key=api_key or w.jf.api_key,
        libraries=(w.jf.libraries[0].item_id, w.jf.libraries[1].item_id),
        mappings=(contract.PathMapping(server="/media", local=str(w.media)),),
    )
    status = await ask(w.nc, topology.SOURCES_JELLYFIN_SET, setup, contract.JellyfinStatus)
    assert status.configured


async def test_a_sync_probes_every_item_jellyfin_knows_inside_the_media_paths(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    w = world
    await set_up(w)
    check = await ask(w.nc, topology.SOURCES_JELLYFIN_TEST, Nothing(), contract.JellyfinCheck)
    assert check.ok and check.server_name == "Fake Jellyfin"
    found = await ask(w.nc, topology.SOURCES_JELLYFIN_LIBRARIES, Nothing(), contract.Libraries)
    assert [(lib.title, lib.kind) for lib in found.libraries] == [
        ("Movies", "movies"),
        ("Shows", "tvshows"),
        ("Other", "movies"),
    ]

    accepted = await ask(
        w.nc, topology.SOURCES_SYNC, contract.SyncRequest(sources=("jellyfin",)), contract.SyncAccepted
    )
    assert accepted.sources == ("jellyfin",)
    expected = {
        str(p.resolve())
        for p in (
            w.lib.transcode["mp4"],
            w.lib.transcode["mkv"],
            w.lib.transcode["avi"],
            w.lib.already_hevc,
            w.lib.corrupt,
        )
        if p is not None
    }

    def probed() -> set[str]:
        return {e.path for e in w.events if isinstance(e, MediaProbed | MediaProbeFailed)}

    await eventually(lambda: probed() >= expected, timeout=60, message="every Jellyfin file probed")
    await eventually(lambda: "jellyfin sync done" in caplog.text, message="sync summary logged")
    assert probed() == expected
    (entry,) = await scan_entries(w.js, "jellyfin")
    assert (entry.state, entry.seen, entry.probed, entry.queued, entry.errors) == ("done", 5, 5, 5, 1)
    assert "refusing /srv/other/Stolen.mkv" in caplog.text and "outside the media paths" in caplog.text
    pages = [s for s in w.jf.seen if s.path == "/Items"]
    assert len(pages) == 3, "read a page at a time (4 items, then 2)"
    assert w.jf.api_key not in caplog.text
    _only_documented_requests(w)


async def test_a_replaced_file_is_announced_as_deleted_and_created(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    w = world
    await set_up(w)
    source = w.lib.transcode["avi"].resolve()
    for job_id, output in ((1, source.with_suffix(".mkv")), (2, w.lib.transcode["mkv"].resolve())):
        path = source if job_id == 1 else output
        await publish(
            w.js,
            JobCompleted(
                job_id=job_id,
                attempt=1,
                node="n1",
                path=str(path),
                output_path=str(output),
                encoder="libx265",
                codec_before="mpeg4",
                codec_after="hevc",
                size_before=100,
                size_after=50,
                duration=4.0,
                elapsed_seconds=1.0,
            ),
        )
    await eventually(lambda: len(w.jf.updates) >= 2, timeout=30, message="Jellyfin told twice")
    assert w.jf.updates == [
        {
            "Updates": [
                {"Path": "/media/TV/Bikes/Season 01/Bikes S01E02.avi", "UpdateType": "Deleted"},
                {"Path": "/media/TV/Bikes/Season 01/Bikes S01E02.mkv", "UpdateType": "Created"},
            ]
        },
        {"Updates": [{"Path": "/media/TV/Bikes/Season 01/Bikes S01E01.mkv", "UpdateType": "Modified"}]},
    ]
    _only_documented_requests(w)


async def test_the_api_key_is_kept_secret_and_a_wrong_one_is_reported(world: World) -> None:
    w = world
    await set_up(w, api_key="wrong-key-0123456789")
    check = await ask(w.nc, topology.SOURCES_JELLYFIN_TEST, Nothing(), contract.JellyfinCheck)
    assert not check.ok and "refused the API key" in check.problem
    with pytest.raises(ServiceError, match="refused the API key"):
        await ask(w.nc, topology.SOURCES_JELLYFIN_LIBRARIES, Nothing(), contract.Libraries)

    # A new URL without a key keeps the stored key; the status says "configured", never the key.
    await set_up(w)
    keep = contract.JellyfinSetup(url=w.url + "/", libraries=(w.jf.libraries[0].item_id,))
    await ask(w.nc, topology.SOURCES_JELLYFIN_SET, keep, contract.JellyfinStatus)
    assert (await ask(w.nc, topology.SOURCES_JELLYFIN_TEST, Nothing(), contract.JellyfinCheck)).ok
    reply = await w.nc.request(topology.SOURCES_STATUS, msgspec.json.encode(Nothing()), timeout=5)
    assert w.jf.api_key.encode() not in reply.data
    status = msgspec.json.decode(reply.data, type=contract.SourcesStatus)
    assert status.jellyfin.configured and status.jellyfin.url == w.url

    with pytest.raises(ServiceError, match="not an http"):
        await ask(
            w.nc,
            topology.SOURCES_JELLYFIN_SET,
            contract.JellyfinSetup(url="file:///etc"),
            contract.JellyfinStatus,
        )


async def test_a_url_with_a_password_in_it_is_logged_without_it(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    w = world
    caplog.set_level(logging.INFO)
    with_password = w.url.replace("://", "://viewer:hunter2-secret@")
    setup = contract.JellyfinSetup(
        url=with_password, api_key=w.jf.api_key, libraries=(w.jf.libraries[0].item_id,)
    )
    await ask(w.nc, topology.SOURCES_JELLYFIN_SET, setup, contract.JellyfinStatus)
    await eventually(lambda: "Jellyfin at" in caplog.text, message="the set-up logged")
    assert "hunter2-secret" not in caplog.text and "***@" in caplog.text


async def test_the_key_never_goes_to_another_server_or_to_the_metadata_service(world: World) -> None:
    """Pointing Jellyfin elsewhere without giving a key is refused (the stored key stays with its server);
    addresses never allowed are refused whatever the key."""
    w = world
    await set_up(w)
    port = int(w.url.rsplit(":", 1)[1].rstrip("/"))
    for elsewhere in (f"http://127.0.0.2:{port}", f"http://localhost:{port + 1}", "https://" + w.url[7:]):
        with pytest.raises(BadRequest, match="give its API key again"):
            await ask(
                w.nc,
                topology.SOURCES_JELLYFIN_SET,
                contract.JellyfinSetup(url=elsewhere),
                contract.JellyfinStatus,
            )
    assert len([s for s in w.jf.seen if s.path == "/System/Info"]) == 0  # nothing was sent anywhere
    with pytest.raises(BadRequest, match="never allowed"):
        await ask(
            w.nc,
            topology.SOURCES_JELLYFIN_SET,
            contract.JellyfinSetup(url="http://169.254.169.254/", api_key="k"),
            contract.JellyfinStatus,
        )
    stored = await ask(w.nc, topology.SOURCES_STATUS, Nothing(), contract.SourcesStatus)
    assert stored.jellyfin.url == w.url  # the refusals changed nothing


async def test_a_hostile_server_can_neither_redirect_nor_speak_through_our_errors(
    tmp_path: Path, nats_url: str, database_url: str, bus: tuple[Client, JetStreamContext]
) -> None:
    """A 'Jellyfin' that redirects to the metadata service, or answers an error with text of its own: the
    redirect is not followed, and the reason a user reads is ours."""
    nc, _ = bus

    async def redirect(request: Request) -> Response:
        return RedirectResponse("http://169.254.169.254/latest/meta-data/iam/", status_code=302)

    async def chatty(request: Request) -> Response:
        return Response("<h1>ADMIN PASSWORD IS hunter2</h1>", status_code=500)

    app = Starlette(routes=[Route("/redirect/System/Info", redirect), Route("/chatty/System/Info", chatty)])
    stopping = asyncio.Event()
    async with serving(app) as url:
        settings = Settings(
            nats_url=nats_url,
            database_url=database_url,
            media_paths=(tmp_path,),
            scan_on_start=False,
            scan_interval_seconds=0,
            watch=False,
            private_servers=PrivateServers.ALL,  # the fake server listens on loopback
        )
        scanner = asyncio.create_task(service.run(settings, stopping))
        try:
            await eventually(lambda: scanner_answers(nc), timeout=30, message="scanner answering")
            for path, reason in (("redirect", "redirect, which is not followed"), ("chatty", "answered 500")):
                setup = contract.JellyfinSetup(url=f"{url}/{path}", api_key="k")
                await ask(nc, topology.SOURCES_JELLYFIN_SET, setup, contract.JellyfinStatus)
                check = await ask(nc, topology.SOURCES_JELLYFIN_TEST, Nothing(), contract.JellyfinCheck)
                assert not check.ok and reason in check.problem and "hunter2" not in check.problem
        finally:
            stopping.set()
            await asyncio.wait_for(scanner, 30)


async def test_a_loopback_server_is_refused_unless_allowed(
    tmp_path: Path, nats_url: str, database_url: str, bus: tuple[Client, JetStreamContext]
) -> None:
    nc, _ = bus
    stopping = asyncio.Event()
    settings = Settings(
        nats_url=nats_url,
        database_url=database_url,
        media_paths=(tmp_path,),
        scan_on_start=False,
        scan_interval_seconds=0,
        watch=False,
    )
    assert settings.private_servers == PrivateServers.LAN  # the default: the home network, not this machine
    scanner = asyncio.create_task(service.run(settings, stopping))
    try:
        await eventually(lambda: scanner_answers(nc), timeout=30, message="scanner answering")
        setup = contract.JellyfinSetup(url="http://127.0.0.1:8096", api_key="k")
        with pytest.raises(BadRequest, match="PRIVATE_SERVERS=all"):
            await ask(nc, topology.SOURCES_JELLYFIN_SET, setup, contract.JellyfinStatus)
    finally:
        stopping.set()
        await asyncio.wait_for(scanner, 30)


def _only_documented_requests(w: World) -> None:
    assert w.jf.seen
    spec = jellyfin_spec()
    problems = [problem for seen in w.jf.seen for problem in spec.problems(seen)]
    assert not problems, problems
    for seen in w.jf.seen:
        operation = spec.find(seen.method, seen.path)
        assert operation is not None
        if operation.body_schema is not None:
            schema = {**operation.body_schema, "components": spec.document["components"]}
            jsonschema.validate(json.loads(seen.body), schema)
        assert seen.headers["authorization"].startswith("MediaBrowser "), "the header the document declares"


async def test_a_server_that_never_stops_paging_is_read_only_so_far(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 'Jellyfin' that claims a billion items and answers every page with the same one: reading stops at
    the bound, instead of paging (and growing) for ever."""
    pages: list[int] = []

    async def items(request: Request) -> Response:
        pages.append(int(request.query_params["startIndex"]))
        item = {"Path": "/media/same.mkv", "Type": "Movie", "Id": "x", "Name": "x"}
        return JSONResponse({"Items": [item] * 500, "TotalRecordCount": 10**9, "StartIndex": 0})

    monkeypatch.setattr(jellyfin_adapter, "MAX_ITEMS", 1_500)
    app = Starlette(routes=[Route("/Items", items)])
    async with serving(app) as url, outbound.client(PrivateServers.ALL, timeout=10) as http:
        found = await jellyfin_adapter.Jellyfin(http, url, "k").item_paths(["library"])
    assert pages == [0, 500, 1000] and len(found) == 1_500
