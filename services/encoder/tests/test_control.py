"""Remote control of a node (start, stop, stop now, pause, resume), the queue's pause, AUTOSTART, the stall
watchdog and path mappings: a real encoder process loop on real NATS with real ffmpeg."""

from __future__ import annotations

import os
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path

import msgspec
from librarrarian_contracts import JobCompleted, JobFailed, JobStarted, publish, topology
from librarrarian_contracts.settings import QUEUE_KEY, NodeControl, QueueControl, node_key
from librarrarian_contracts.topology import HwClass
from librarrarian_encoder.settings import Settings
from librarrarian_runtime.path_mapping import parse
from librarrarian_testing import eventually, library, transcode
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

CPU_WORK = topology.WORK_CONSUMERS[HwClass.CPU]
# How long a test watches for something that must not happen. A node that takes work has a fetch waiting
# on its durable all the time, and a running ffmpeg reports progress twice a second: either shows at once.
QUIET_SECONDS = 2.0


async def control(js: JetStreamContext, key: str, value: msgspec.Struct) -> None:
    kv = await js.key_value(topology.SETTINGS.name)
    await kv.put(key, msgspec.json.encode(value))


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
    (pid,) = encoding_ffmpeg(source)
    return pid


async def takes_no_work(js: JetStreamContext, delivered: int) -> bool:
    """Nobody asks the durable for work, and it delivered nothing since ``delivered`` deliveries."""
    info = await js.consumer_info(CPU_WORK.stream, CPU_WORK.durable)
    return bool(info.num_waiting == 0 and info.delivered.consumer_seq == delivered)


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
    seen, ticks = len(scheduler.progress), cpu_ticks(pid)
    await holds(  # nothing moves while paused
        lambda: process_state(pid) == "T" and cpu_ticks(pid) == ticks and len(scheduler.progress) == seen,
        seconds=QUIET_SECONDS,
        message="ffmpeg suspended, using no CPU, reporting no progress",
    )

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
    await eventually(lambda: not encoding_ffmpeg(source), timeout=15, message="ffmpeg stopped")
    assert await eventually(lambda: _state(js, "stopped"), timeout=10, message="node stopped")
    assert library.sha256(source) == digest
    # The job is back in the durable (nak), ready for whoever asks: a stopped node does not.
    delivered = (await js.consumer_info(CPU_WORK.stream, CPU_WORK.durable)).delivered.consumer_seq
    await eventually(lambda: takes_no_work(js, delivered), timeout=10, message="no fetch waiting")
    await holds(lambda: takes_no_work(js, delivered), seconds=QUIET_SECONDS, message="taking no work")
    assert not encoding_ffmpeg(source) and len(scheduler.of(JobStarted)) == 1

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
    # Started, but the queue is paused: the work waits in the durable, never delivered.
    await holds(lambda: takes_no_work(js, 0), seconds=QUIET_SECONDS, message="taking no work")
    assert not scheduler.events

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
    assert not encoding_ffmpeg(source) and library.sha256(source) == digest


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
