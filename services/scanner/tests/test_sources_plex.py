"""Plex as a source, against a fake plex.tv and a fake Plex Media Server built from Plex's API document:
the PIN link, server and section choice, a sync whose files are really probed, refusals outside the media
paths, the partial refresh after a replace, and that every request was one the document lists."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import msgspec
import pytest
from librarrarian_contracts import JobCompleted, MediaProbed, MediaProbeFailed, publish, topology
from librarrarian_contracts import sources as contract
from librarrarian_contracts.messages import MediaEvent
from librarrarian_contracts.views import Nothing
from librarrarian_runtime import kv_entries
from librarrarian_runtime.errors import BadRequest, ServiceError
from librarrarian_runtime.outbound import PrivateServers
from librarrarian_runtime.queries import ask
from librarrarian_scanner import service
from librarrarian_scanner.settings import Settings
from librarrarian_testing import eventually, library
from librarrarian_testing.media_servers import (
    FakePlexServer,
    FakePlexTv,
    FakeSection,
    plex_server_spec,
    plex_tv_spec,
    serving,
)
from librarrarian_testing.scanning import collect, scan_entries, scanner_answers
from nats.aio.client import Client
from nats.js import JetStreamContext

Bus = tuple[Client, JetStreamContext]
# plex.tv's PIN sign-in is documented in Plex's developer guide ("Authenticating with Plex"), not in the
# OpenAPI document of the server; these two, and only these, are allowed on top of the document.
PIN_ENDPOINTS = {("POST", "/api/v2/pins"), ("GET", "/api/v2/pins/{id}")}


@dataclass
class World:
    nc: Client
    js: JetStreamContext
    media: Path
    lib: library.Library
    tv: FakePlexTv
    pms: FakePlexServer
    pms_url: str
    events: list[MediaEvent]


@pytest.fixture
async def world(
    bus: Bus, nats_url: str, database_url: str, tmp_path: Path, shared_media: Path
) -> AsyncIterator[World]:
    nc, js = bus
    media = tmp_path / "media"
    lib = library.build(media, shared_media)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "Secret.mkv").write_bytes((shared_media / "bikes.mp4").read_bytes())
    tv, pms = FakePlexTv(), FakePlexServer()
    pms.sections = [
        FakeSection(
            "1",
            "Movies",
            "movie",
            ("/data/Movies",),
            {
                "Big Buck Bunny": ("/data/Movies/Big Buck Bunny (2008)/Big Buck Bunny.mp4",),
                "Already HEVC": ("/data/Movies/Already HEVC.mkv",),
                "Broken": ("/data/Movies/Broken.mp4",),
                # Plex may see folders the scanner must not touch: unmapped, or mapped but escaping.
                "Elsewhere": ("/elsewhere/Secret.mkv",),
                "Escape": ("/data/../outside/Secret.mkv",),
            },
        ),
        FakeSection(
            "2",
            "TV Shows",
            "show",
            ("/data/TV",),
            {
                "Bikes S01E01": ("/data/TV/Bikes/Season 01/Bikes S01E01.mkv",),
                "Bikes S01E02": ("/data/TV/Bikes/Season 01/Bikes S01E02.avi",),
            },
        ),
        FakeSection("3", "Music", "artist", ("/data/Music",)),
        FakeSection("4", "Home Videos", "movie", ("/data/Home",), {"Not chosen": ("/data/Home/a.mkv",)}),
    ]
    stopping = asyncio.Event()
    events: list[MediaEvent] = []
    async with serving(tv.build()) as tv_url, serving(pms.build()) as pms_url:
        settings = Settings(
            nats_url=nats_url,
            database_url=database_url,
            media_paths=(media.resolve(),),
            scan_on_start=False,
            scan_interval_seconds=0,
            watch=False,
            plex_tv_url=tv_url,
            private_servers=PrivateServers.ALL,  # the fake servers listen on loopback
        )
        scanner = asyncio.create_task(service.run(settings, stopping))
        collector = asyncio.create_task(collect(js, events, stopping))
        try:
            await eventually(lambda: scanner_answers(nc), timeout=30, message="scanner answering")
            yield World(nc, js, media.resolve(), lib, tv, pms, pms_url, events)
        finally:
            stopping.set()
            await asyncio.wait_for(asyncio.gather(scanner, collector), 30)


async def link_and_choose(w: World) -> str:
    pin = await ask(w.nc, topology.SOURCES_PLEX_PIN_START, Nothing(), contract.PlexPin)
    assert pin.code and not pin.linked and pin.link_url == "https://plex.tv/link"
    waiting = await ask(w.nc, topology.SOURCES_PLEX_PIN_CHECK, Nothing(), contract.PlexPin)
    assert not waiting.linked
    w.tv.link(pin.code)  # the user enters the code at plex.tv/link
    linked = await ask(w.nc, topology.SOURCES_PLEX_PIN_CHECK, Nothing(), contract.PlexPin)
    assert linked.linked

    server_id = w.tv.add_server("Living room", w.pms_url, w.pms.token)
    found = await ask(w.nc, topology.SOURCES_PLEX_SERVERS, Nothing(), contract.PlexServers)
    assert [s.name for s in found.servers] == ["Living room"], "a player is not a server"
    selection = contract.PlexSelection(
        server_id=server_id,
        sections=("1", "2"),
        mappings=(contract.PathMapping(server="/data", local=str(w.media)),),
    )
    chosen = await ask(w.nc, topology.SOURCES_PLEX_SELECT, selection, contract.PlexStatus)
    assert chosen.url == w.pms_url, "the local connection is preferred"
    return server_id


async def test_a_sync_probes_every_part_plex_knows_inside_the_media_paths(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    w = world
    await link_and_choose(w)
    sections = await ask(w.nc, topology.SOURCES_PLEX_LIBRARIES, Nothing(), contract.Libraries)
    assert [(s.id, s.kind, s.locations) for s in sections.libraries][:2] == [
        ("1", "movie", ("/data/Movies",)),
        ("2", "show", ("/data/TV",)),
    ]

    accepted = await ask(w.nc, topology.SOURCES_SYNC, contract.SyncRequest(), contract.SyncAccepted)
    assert accepted.sources == ("plex",)

    expected = {
        w.lib.transcode["mp4"],
        w.lib.transcode["mkv"],
        w.lib.transcode["avi"],
        w.lib.already_hevc,
        w.lib.corrupt,
    }
    expected_paths = {str(p.resolve()) for p in expected if p is not None}

    def probed() -> set[str]:
        return {e.path for e in w.events if isinstance(e, MediaProbed | MediaProbeFailed)}

    await eventually(lambda: probed() >= expected_paths, timeout=60, message="every Plex file probed")
    assert probed() == expected_paths, "nothing outside the chosen sections or the media paths"
    by_path = {e.path: e for e in w.events if isinstance(e, MediaProbed | MediaProbeFailed)}
    assert isinstance(by_path[str(w.lib.corrupt.resolve())], MediaProbeFailed)  # type: ignore[union-attr]
    mp4 = by_path[str(w.lib.transcode["mp4"].resolve())]
    assert isinstance(mp4, MediaProbed) and mp4.probe.video_codec == "h264"

    await eventually(lambda: "plex sync done" in caplog.text, message="sync summary logged")
    assert "refusing /elsewhere/Secret.mkv" in caplog.text
    assert "refusing /data/../outside/Secret.mkv" in caplog.text
    assert "outside the media paths" in caplog.text
    # The sync shows in the scans bucket as one entry, whatever the number of hand-overs.
    (entry,) = await scan_entries(w.js, "plex")
    assert (entry.state, entry.roots) == ("done", (str(w.media),))
    assert (entry.seen, entry.to_probe, entry.probed, entry.queued, entry.errors) == (5, 5, 5, 5, 1)
    # A second sync finds nothing new to probe.
    count = len(probed())
    await ask(w.nc, topology.SOURCES_SYNC, contract.SyncRequest(sources=("plex",)), contract.SyncAccepted)
    await eventually(lambda: caplog.text.count("plex sync done") >= 2, message="second sync")
    assert len(probed()) == count
    earlier, second = await scan_entries(w.js, "plex")  # each sync an entry of its own
    assert earlier.scan_id == entry.scan_id and (second.state, second.seen, second.probed) == ("done", 5, 0)

    _no_secret_leaks(w, caplog)
    _only_documented_requests(w)


async def test_a_replaced_file_gets_its_folder_refreshed_in_its_section(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    w = world
    await link_and_choose(w)
    source = w.lib.transcode["avi"].resolve()
    output = source.with_suffix(".mkv")
    await publish(
        w.js,
        JobCompleted(
            job_id=7,
            attempt=1,
            node="n1",
            path=str(source),
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
    await eventually(lambda: w.pms.refreshes, timeout=30, message="Plex asked to refresh")
    assert w.pms.refreshes == [("2", "/data/TV/Bikes/Season 01")], "only the folder, only in its section"

    # A job whose output lies outside the media paths is refused, not passed on to Plex.
    await publish(
        w.js,
        JobCompleted(
            job_id=8,
            attempt=1,
            node="n1",
            path="/etc/passwd",
            output_path="/etc/passwd",
            encoder="libx265",
            codec_before="h264",
            codec_after="hevc",
            size_before=1,
            size_after=1,
            duration=None,
            elapsed_seconds=1.0,
        ),
    )
    await eventually(lambda: "job 8: not refreshing" in caplog.text, message="refusal logged")
    assert len(w.pms.refreshes) == 1
    _no_secret_leaks(w, caplog)
    _only_documented_requests(w)


async def test_status_never_shows_a_token_and_unlinking_forgets_it(world: World) -> None:
    w = world
    await link_and_choose(w)
    reply = await w.nc.request(topology.SOURCES_STATUS, msgspec.json.encode(Nothing()), timeout=5)
    assert w.tv.account_token.encode() not in reply.data
    assert w.pms.token.encode() not in reply.data
    status = msgspec.json.decode(reply.data, type=contract.SourcesStatus)
    assert status.plex.configured and status.plex.server_name == "Living room"
    assert status.plex.sections == ("1", "2")
    # No token in NATS at all: every node (remote encoders too) can read the buckets.
    for bucket in topology.BUCKETS:
        for key, value in await kv_entries.values(w.js, bucket):
            assert w.tv.account_token.encode() not in value and w.pms.token.encode() not in value, key

    await ask(w.nc, topology.SOURCES_PLEX_UNLINK, Nothing(), contract.PlexStatus)
    status = await ask(w.nc, topology.SOURCES_STATUS, Nothing(), contract.SourcesStatus)
    assert not status.plex.configured and not status.plex.url
    with pytest.raises(ServiceError, match="no Plex account is linked"):
        await ask(w.nc, topology.SOURCES_PLEX_SERVERS, Nothing(), contract.PlexServers)
    accepted = await ask(w.nc, topology.SOURCES_SYNC, contract.SyncRequest(), contract.SyncAccepted)
    assert accepted.sources == ()


async def test_a_wrong_server_token_is_a_reason_not_a_crash(world: World) -> None:
    w = world
    await link_and_choose(w)
    w.pms.token = "rotated"
    with pytest.raises(ServiceError, match="refused the token"):
        await ask(w.nc, topology.SOURCES_PLEX_LIBRARIES, Nothing(), contract.Libraries)


async def test_the_server_token_goes_only_to_a_connection_plex_tv_lists(world: World) -> None:
    w = world
    server_id = await link_and_choose(w)
    port = int(w.pms_url.rsplit(":", 1)[1].rstrip("/"))
    for elsewhere in (f"http://127.0.0.2:{port}", f"http://localhost:{port + 1}"):
        selection = contract.PlexSelection(server_id=server_id, url=elsewhere, sections=("1",))
        with pytest.raises(BadRequest, match=r"not one of the connections plex\.tv lists"):
            await ask(w.nc, topology.SOURCES_PLEX_SELECT, selection, contract.PlexStatus)
    status = await ask(w.nc, topology.SOURCES_STATUS, Nothing(), contract.SourcesStatus)
    assert status.plex.url == w.pms_url  # refused: nothing changed
    listed = contract.PlexSelection(server_id=server_id, url=w.pms_url + "/", sections=("1",))
    assert (await ask(w.nc, topology.SOURCES_PLEX_SELECT, listed, contract.PlexStatus)).sections == ("1",)


def _no_secret_leaks(w: World, caplog: pytest.LogCaptureFixture) -> None:
    for secret in (w.tv.account_token, w.pms.token):
        assert secret not in caplog.text


def _only_documented_requests(w: World) -> None:
    assert w.tv.seen and w.pms.seen
    problems = []
    for seen in w.tv.seen:
        template = "/api/v2/pins/{id}" if seen.path.startswith("/api/v2/pins/") else seen.path
        if (seen.method, template) in PIN_ENDPOINTS:
            continue
        problems += plex_tv_spec().problems(seen)
    for seen in w.pms.seen:
        problems += plex_server_spec().problems(seen)
    assert not problems, problems
    assert all(s.headers.get("x-plex-token") for s in w.pms.seen), "the token travels in a header"
    assert not any("X-Plex-Token" in name for s in [*w.tv.seen, *w.pms.seen] for name in s.params())


async def test_an_expired_code_asks_for_a_new_link(world: World) -> None:
    w = world
    pin = await ask(w.nc, topology.SOURCES_PLEX_PIN_START, Nothing(), contract.PlexPin)
    status = await ask(w.nc, topology.SOURCES_STATUS, Nothing(), contract.SourcesStatus)
    assert status.plex.pin_code == pin.code and not status.plex.configured
    w.tv.expire(pin.code)
    with pytest.raises(ServiceError, match="expired"):
        await ask(w.nc, topology.SOURCES_PLEX_PIN_CHECK, Nothing(), contract.PlexPin)
    with pytest.raises(ServiceError, match="no Plex link in progress"):
        await ask(w.nc, topology.SOURCES_PLEX_PIN_CHECK, Nothing(), contract.PlexPin)
    _only_documented_requests_of(w.tv)


def _only_documented_requests_of(tv: FakePlexTv) -> None:
    for seen in tv.seen:
        template = "/api/v2/pins/{id}" if seen.path.startswith("/api/v2/pins/") else seen.path
        assert (seen.method, template) in PIN_ENDPOINTS or not plex_tv_spec().problems(seen)
