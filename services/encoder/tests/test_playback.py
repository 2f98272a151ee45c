"""Pause while streaming, the whole way: fake Plex and Jellyfin servers (answering as their OpenAPI documents
describe) report a session playing, the real scanner asks them and writes the ``playback`` bucket, and a real
encoder running a real ffmpeg encode suspends it until the playback ends; the job then completes. A node the
user paused stays paused when the playback ends, and a word the scanner stopped renewing goes stale."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import msgspec
import pytest
import yaml
from librarrarian_contracts import JobCompleted, encode, publish, topology
from librarrarian_contracts import sources as contract
from librarrarian_contracts.settings import STREAMING_KEY, NodeControl, StreamingSettings, node_key
from librarrarian_contracts.views import ActivePlayback, Nothing, PlaybackState
from librarrarian_encoder.settings import Settings as EncoderSettings
from librarrarian_runtime import machine
from librarrarian_runtime.outbound import PrivateServers
from librarrarian_runtime.queries import ask
from librarrarian_scanner import service as scanner_service
from librarrarian_scanner.settings import Settings as ScannerSettings
from librarrarian_testing import eventually, library, transcode
from librarrarian_testing.media_servers import (
    FakeJellyfin,
    FakePlexServer,
    FakePlexTv,
    jellyfin_spec,
    plex_server_spec,
    serving,
)
from librarrarian_testing.media_servers.specs import SPECS
from librarrarian_testing.scanning import scanner_answers
from nats.aio.client import Client
from nats.js import JetStreamContext

from .encoder_client import (
    NODE,
    Scheduler,
    cpu_ticks,
    encoding_ffmpeg,
    holds,
    node_status,
    outcome,
    process_state,
    work,
)

Bus = tuple[Client, JetStreamContext]
QUIET_SECONDS = 2.0


@dataclass
class Servers:
    pms: FakePlexServer
    jf: FakeJellyfin


@pytest.fixture
async def servers(
    bus: Bus, nats_url: str, database_url: str, media: library.Library
) -> AsyncIterator[Servers]:
    """The real scanner (asking every second) with a linked fake Plex and a set-up fake Jellyfin."""
    nc, _ = bus
    tv, pms, jf = FakePlexTv(), FakePlexServer(), FakeJellyfin()
    stopping = asyncio.Event()
    async with serving(tv.build()) as tv_url, serving(pms.build()) as pms_url, serving(jf.build()) as jf_url:
        settings = ScannerSettings(
            nats_url=nats_url,
            database_url=database_url,
            media_paths=(media.root.resolve(),),
            scan_on_start=False,
            scan_interval_seconds=0,
            watch=False,
            plex_tv_url=tv_url,
            private_servers=PrivateServers.ALL,  # the fake servers listen on loopback
            playback_poll_seconds=1.0,
        )
        scanner = asyncio.create_task(scanner_service.run(settings, stopping))
        try:
            await eventually(lambda: scanner_answers(nc), timeout=30, message="scanner answering")
            pin = await ask(nc, topology.SOURCES_PLEX_PIN_START, Nothing(), contract.PlexPin)
            tv.link(pin.code)  # the user enters the code at plex.tv/link
            assert (await ask(nc, topology.SOURCES_PLEX_PIN_CHECK, Nothing(), contract.PlexPin)).linked
            server_id = tv.add_server("Living room", pms_url, pms.token)
            await ask(nc, topology.SOURCES_PLEX_SERVERS, Nothing(), contract.PlexServers)
            selection = contract.PlexSelection(server_id=server_id)
            await ask(nc, topology.SOURCES_PLEX_SELECT, selection, contract.PlexStatus)
            setup = contract.JellyfinSetup(url=jf_url, api_key=jf.api_key)
            await ask(nc, topology.SOURCES_JELLYFIN_SET, setup, contract.JellyfinStatus)
            yield Servers(pms, jf)
        finally:
            stopping.set()
            await asyncio.wait_for(scanner, 30)


async def encoding(
    js: JetStreamContext,
    scheduler: Scheduler,
    node_starter: Callable[..., Awaitable[EncoderSettings]],
    source: Path,
) -> int:
    """The node encoding ``source`` (x265 ``medium``: slow enough to act on mid-encode); its ffmpeg's pid."""
    await transcode.put(js, transcode.fastest(x265_preset="medium", max_output_percent=1000))
    await node_starter()
    await publish(js, work(source), topology.transcode_subject("cpu"))
    await eventually(
        lambda: scheduler.progress and scheduler.progress[-1].percent > 0, timeout=60, message="encoding"
    )
    (pid,) = encoding_ffmpeg(source)
    return pid


async def shown(js: JetStreamContext) -> tuple[str, str]:
    status = await node_status(js, NODE)
    return status.state, status.paused_for


async def suspended(pid: int, scheduler: Scheduler) -> None:
    """ffmpeg stays stopped: no CPU used, no progress reported."""
    seen, ticks = len(scheduler.progress), cpu_ticks(pid)
    await holds(
        lambda: process_state(pid) == "T" and cpu_ticks(pid) == ticks and len(scheduler.progress) == seen,
        seconds=QUIET_SECONDS,
        message="ffmpeg suspended, using no CPU, reporting no progress",
    )


async def test_a_plex_session_playing_pauses_the_encode_on_its_machine_until_it_ends(
    bus: Bus,
    servers: Servers,
    scheduler: Scheduler,
    node_starter: Callable[..., Awaitable[EncoderSettings]],
    media: library.Library,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    _, js = bus
    pid = await encoding(js, scheduler, node_starter, media.transcode["mp4"])

    servers.pms.players = ["paused", "playing"]  # the default setting: same machine (the fake is on loopback)
    await eventually(lambda: process_state(pid) == "T", timeout=15, message="ffmpeg suspended")
    reason = "someone is watching on Plex"
    assert await eventually(
        lambda: _is(js, ("paused for playback", reason)), timeout=10, message="the node says why"
    )
    await suspended(pid, scheduler)
    kv = await js.key_value(topology.PLAYBACK.name)
    state = msgspec.json.decode((await kv.get(topology.PLAYBACK_KEY)).value or b"", type=PlaybackState)
    assert [(p.source, p.host, p.sessions) for p in state.playing] == [("plex", "127.0.0.1", 1)]

    servers.pms.players = ["paused"]  # the film is paused: nothing asks the machine for work
    done = await outcome(scheduler, 1)
    assert isinstance(done, JobCompleted), getattr(done, "reason", done)
    assert (await node_status(js, NODE)).state == "running"

    _documented(servers)
    assert servers.pms.token not in caplog.text and servers.jf.api_key not in caplog.text


async def test_a_jellyfin_session_pauses_and_a_user_pause_outlasts_it(
    bus: Bus,
    servers: Servers,
    scheduler: Scheduler,
    node_starter: Callable[..., Awaitable[EncoderSettings]],
    media: library.Library,
) -> None:
    _, js = bus
    settings_kv = await js.key_value(topology.SETTINGS.name)
    await settings_kv.put(STREAMING_KEY, msgspec.json.encode(StreamingSettings(pause_while_streaming="all")))
    pid = await encoding(js, scheduler, node_starter, media.transcode["mp4"])

    servers.jf.watching = [False]  # one client playing (IsPaused false)
    await eventually(lambda: process_state(pid) == "T", timeout=15, message="ffmpeg suspended")
    assert await eventually(
        lambda: _is(js, ("paused for playback", "someone is watching on Jellyfin")), timeout=10, message="why"
    )

    await settings_kv.put(node_key(NODE), msgspec.json.encode(NodeControl(state="paused")))  # the user's own
    assert await eventually(lambda: _is(js, ("paused", "")), timeout=10, message="paused by the user")
    servers.jf.watching = [True]  # the viewer paused: the playback no longer holds the node
    await eventually(lambda: _not_watched(js), timeout=15, message="the scanner says nobody watches")
    await suspended(pid, scheduler)  # the user's pause holds
    assert await _is(js, ("paused", ""))

    await settings_kv.put(node_key(NODE), msgspec.json.encode(NodeControl(state="running")))
    done = await outcome(scheduler, 1)
    assert isinstance(done, JobCompleted), getattr(done, "reason", done)


async def test_with_the_setting_off_nobody_is_asked_and_nothing_pauses(
    bus: Bus,
    servers: Servers,
    scheduler: Scheduler,
    node_starter: Callable[..., Awaitable[EncoderSettings]],
    media: library.Library,
) -> None:
    _, js = bus
    settings_kv = await js.key_value(topology.SETTINGS.name)
    await settings_kv.put(STREAMING_KEY, msgspec.json.encode(StreamingSettings(pause_while_streaming="off")))
    servers.pms.players = ["playing"]
    servers.jf.watching = [False]
    await eventually(lambda: _not_watched(js), timeout=15, message="an empty playback state")
    asked = len(servers.pms.seen) + len(servers.jf.seen)
    pid = await encoding(js, scheduler, node_starter, media.transcode["mp4"])
    await holds(lambda: process_state(pid) != "T", seconds=QUIET_SECONDS, message="ffmpeg runs")
    done = await outcome(scheduler, 1)
    assert isinstance(done, JobCompleted), getattr(done, "reason", done)
    sessions = [s for s in [*servers.pms.seen, *servers.jf.seen][asked:] if "essions" in s.path]
    assert not sessions, "nobody asked who is watching"


async def _is(js: JetStreamContext, wanted: tuple[str, str]) -> bool:
    return await shown(js) == wanted


async def _not_watched(js: JetStreamContext) -> bool:
    kv = await js.key_value(topology.PLAYBACK.name)
    entry = await kv.get(topology.PLAYBACK_KEY)
    return not msgspec.json.decode(entry.value or b"{}", type=PlaybackState).playing


def _documented(servers: Servers) -> None:
    """Every request is one the documents list, and the fakes' answers match the documented responses."""
    asked = [s for s in servers.pms.seen if s.path == "/status/sessions"]
    assert asked and all(s.headers.get("x-plex-token") for s in asked), "the token travels in a header"
    problems = [p for s in servers.pms.seen for p in plex_server_spec().problems(s)]
    problems += [p for s in servers.jf.seen for p in jellyfin_spec().problems(s)]
    assert not problems, problems
    assert any(s.path == "/Sessions" for s in servers.jf.seen)
    plex_doc = yaml.safe_load((SPECS / "plex.openapi.yaml").read_text())
    plex_schema = plex_doc["paths"]["/status/sessions"]["get"]["responses"]["200"]["content"]
    body = servers.pms.sessions_json()
    assert not plex_server_spec().body_problems(plex_schema["application/json"]["schema"], body)
    jf_doc = json.loads((SPECS / "jellyfin.openapi.json").read_text())
    jf_schema = jf_doc["paths"]["/Sessions"]["get"]["responses"]["200"]["content"]["application/json"]
    assert not jellyfin_spec().body_problems(jf_schema["schema"], servers.jf.sessions_json())


async def test_a_word_the_scanner_stopped_renewing_goes_stale_and_the_node_resumes(
    bus: Bus,
    scheduler: Scheduler,
    node_starter: Callable[..., Awaitable[EncoderSettings]],
    media: library.Library,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A scanner that wrote "someone is watching here" and died never leaves the node paused for good."""
    monkeypatch.setattr(topology, "PLAYBACK_STALE_SECONDS", 4.0)
    _, js = bus
    pid = await encoding(js, scheduler, node_starter, media.transcode["mp4"])
    here = ActivePlayback(source="plex", host="localhost", addresses=tuple(machine.own_addresses()))
    kv = await js.key_value(topology.PLAYBACK.name)
    await kv.put(topology.PLAYBACK_KEY, encode(PlaybackState(playing=(here,))))  # then nothing more
    await eventually(lambda: process_state(pid) == "T", timeout=10, message="ffmpeg suspended")
    done = await outcome(scheduler, 1)
    assert isinstance(done, JobCompleted), getattr(done, "reason", done)
    assert (await node_status(js, NODE)).state == "running"
