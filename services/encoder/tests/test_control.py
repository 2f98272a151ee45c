"""Remote control of a node (start, stop, stop now, pause, resume), the queue's pause, AUTOSTART, the stall
watchdog and path mappings: a real encoder process loop on real NATS with real ffmpeg."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import msgspec
import pytest
from librarrarian_contracts import JobCompleted, JobFailed, JobStarted, publish, topology
from librarrarian_contracts.settings import QUEUE_KEY, NodeControl, QueueControl, node_key
from librarrarian_encoder import service
from librarrarian_encoder.settings import Settings
from librarrarian_runtime.path_mapping import parse
from librarrarian_testing import eventually, library, transcode
from nats.aio.client import Client
from nats.js import JetStreamContext

from .test_encoder import Scheduler, outcome, scheduler, work
from .test_kill import processes_mentioning
from .test_transcoding import node_status

__all__ = ["scheduler"]

NODE = "node-c"


def process_state(pid: int) -> str:
    """R, S (running, sleeping) or T (stopped by a signal), from /proc."""
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0]


async def control(js: JetStreamContext, key: str, value: msgspec.Struct) -> None:
    kv = await js.key_value(topology.SETTINGS.name)
    await kv.put(key, msgspec.json.encode(value))


@pytest.fixture
async def media(tmp_path: Path, shared_media: Path) -> library.Library:
    return library.build(tmp_path / "media", shared_media)


@pytest.fixture
async def node_starter(
    bus: tuple[Client, JetStreamContext], nats_url: str, media: library.Library, tmp_path: Path
) -> AsyncIterator[Callable[..., Awaitable[Settings]]]:
    """Starts the encoder ``node-c`` (with overrides of its settings) and stops it after the test."""
    running: list[tuple[asyncio.Event, asyncio.Task[None]]] = []

    async def start(**overrides: object) -> Settings:
        settings = Settings(
            nats_url=nats_url,
            media_paths=(media.root.resolve(),),
            node=NODE,
            scratch_dir=tmp_path / "scratch",
            grace_seconds=5,
        )
        settings = dataclasses.replace(settings, **overrides)  # type: ignore[arg-type]
        stopping = asyncio.Event()
        running.append((stopping, asyncio.create_task(service.run(settings, stopping))))
        await node_status(bus[1], NODE)
        return settings

    yield start
    for stopping, task in running:
        stopping.set()
        await asyncio.wait_for(task, 30)


def encoding_ffmpeg(job_id: int) -> list[int]:
    return processes_mentioning(f".tmp_librarrarian-{job_id}-")


async def encoding(
    js: JetStreamContext,
    scheduler: Scheduler,
    node_starter: Callable[..., Awaitable[Settings]],
    source: Path,
    **settings: object,
) -> int:
    """Start the node with ``settings``, give it ``source`` as job 1, and return its ffmpeg's pid once the
    encode is under way (x265 ``medium``: slow enough to act on mid-encode)."""
    await transcode.put(js, transcode.fastest(x265_preset="medium", **settings))  # type: ignore[arg-type]
    await node_starter()
    await publish(js, work(source), topology.transcode_subject("cpu"))
    await eventually(
        lambda: scheduler.progress and scheduler.progress[-1].percent > 0, timeout=60, message="encoding"
    )
    (pid,) = encoding_ffmpeg(1)
    return pid


async def test_pause_suspends_ffmpeg_and_resume_finishes_the_job(
    bus: tuple[Client, JetStreamContext],
    scheduler: Scheduler,
    node_starter: Callable[..., Awaitable[Settings]],
    media: library.Library,
) -> None:
    _, js = bus
    pid = await encoding(js, scheduler, node_starter, media.transcode["mp4"], max_output_percent=1000)

    await control(js, node_key(NODE), NodeControl(state="paused"))
    await eventually(lambda: process_state(pid) == "T", timeout=10, message="ffmpeg suspended")
    assert await eventually(lambda: _state(js, "paused"), timeout=10, message="node paused")
    seen = len(scheduler.progress)
    await asyncio.sleep(2)
    assert len(scheduler.progress) == seen  # nothing moves while paused
    assert process_state(pid) == "T"

    await control(js, node_key(NODE), NodeControl(state="running"))
    done = await outcome(scheduler, 1)
    assert isinstance(done, JobCompleted), getattr(done, "reason", done)


async def test_stop_now_hands_the_job_back_and_start_takes_it_again(
    bus: tuple[Client, JetStreamContext],
    scheduler: Scheduler,
    node_starter: Callable[..., Awaitable[Settings]],
    media: library.Library,
) -> None:
    _, js = bus
    source = media.transcode["mp4"]
    digest = library.sha256(source)
    await encoding(js, scheduler, node_starter, source, max_output_percent=1000)

    await control(js, node_key(NODE), NodeControl(state="stopped", now=True))
    await eventually(lambda: not encoding_ffmpeg(1), timeout=15, message="ffmpeg stopped")
    assert await eventually(lambda: _state(js, "stopped"), timeout=10, message="node stopped")
    assert library.sha256(source) == digest
    await asyncio.sleep(2)
    assert not encoding_ffmpeg(1) and len(scheduler.of(JobStarted)) == 1  # a stopped node takes nothing

    await transcode.put(js, transcode.fastest())
    await control(js, node_key(NODE), NodeControl(state="running"))
    done = await outcome(scheduler, 1)
    assert isinstance(done, JobCompleted), getattr(done, "reason", done)
    assert len(scheduler.of(JobStarted)) == 2  # the job was handed back (nak) and started again


async def test_a_paused_queue_and_autostart_off_hold_work_until_released(
    bus: tuple[Client, JetStreamContext],
    scheduler: Scheduler,
    node_starter: Callable[..., Awaitable[Settings]],
    media: library.Library,
) -> None:
    _, js = bus
    await transcode.put(js, transcode.fastest())
    await control(js, QUEUE_KEY, QueueControl(paused=True))
    await node_starter(autostart=False)
    assert (await node_status(js, NODE)).state == "stopped"  # a new node waits to be started
    await publish(js, work(media.transcode["mp4"]), topology.transcode_subject("cpu"))

    await control(js, node_key(NODE), NodeControl(state="running"))
    assert await eventually(lambda: _state(js, "queue paused"), timeout=10, message="queue paused")
    await asyncio.sleep(2)
    assert not scheduler.events  # started, but the queue is paused

    await control(js, QUEUE_KEY, QueueControl(paused=False))
    done = await outcome(scheduler, 1)
    assert isinstance(done, JobCompleted), getattr(done, "reason", done)


async def test_an_encode_that_stops_progressing_is_stopped_and_failed_with_its_log(
    bus: tuple[Client, JetStreamContext],
    scheduler: Scheduler,
    node_starter: Callable[..., Awaitable[Settings]],
    media: library.Library,
) -> None:
    """A hung ffmpeg (here: frozen by SIGSTOP from outside, as a dead NFS mount would) is not waited on forever."""
    _, js = bus
    source = media.transcode["mp4"]
    digest = library.sha256(source)
    pid = await encoding(js, scheduler, node_starter, source, stall_seconds=10)
    os.kill(pid, signal.SIGSTOP)

    failed = await outcome(scheduler, 1)
    assert isinstance(failed, JobFailed), failed
    assert failed.reason.startswith("stalled: no progress for 1") and failed.retryable
    assert not encoding_ffmpeg(1) and library.sha256(source) == digest


async def test_path_mappings_translate_the_servers_paths_both_ways(
    bus: tuple[Client, JetStreamContext],
    scheduler: Scheduler,
    node_starter: Callable[..., Awaitable[Settings]],
    media: library.Library,
) -> None:
    _, js = bus
    await transcode.put(js, transcode.fastest())
    server_root = "/srv/library"
    await node_starter(path_mappings=parse(f"{server_root}={media.root.resolve()}"))
    source = media.transcode["avi"]
    local = work(source)
    server_path = server_root + local.path.removeprefix(str(media.root.resolve()))
    await publish(js, msgspec.structs.replace(local, path=server_path), topology.transcode_subject("cpu"))
    done = await outcome(scheduler, 1)
    assert isinstance(done, JobCompleted), getattr(done, "reason", done)
    assert done.path == server_path
    assert done.output_path == server_path.removesuffix(".avi") + ".mkv"
    assert source.with_suffix(".mkv").exists() and not source.exists()


async def _state(js: JetStreamContext, wanted: str) -> bool:
    return (await node_status(js, NODE)).state == wanted
