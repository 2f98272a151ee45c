"""The encoder process: detect hardware, bind to its classes' durables, run slots, obey the node's controls
(start, stop, pause, resume) and the queue's, follow the shared path mappings, and report the node."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import socket
from collections.abc import Awaitable
from importlib.metadata import version

import msgspec
from librarrarian_contracts import NodeState, encode, provision, topology
from librarrarian_contracts.codec import work_decoder
from librarrarian_contracts.settings import (
    PATHS_KEY,
    QUEUE_KEY,
    TRANSCODE_KEY,
    NodeControl,
    PathSettings,
    QueueControl,
    TranscodeSettings,
    node_key,
)
from librarrarian_contracts.topology import HwClass
from librarrarian_contracts.views import NodeStatus
from librarrarian_media.ffmpeg_builds import candidates
from librarrarian_runtime import bus, lifecycle
from librarrarian_runtime.watched import Watched
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext

from . import hardware
from .binaries import Binaries, chosen
from .profiles import PROFILES
from .settings import Settings
from .worker import Worker

log = logging.getLogger(__name__)


class NoUsableHardware(RuntimeError):
    """Not even the CPU class passed its test encode."""


def clean_scratch(settings: Settings) -> None:
    shutil.rmtree(settings.scratch_dir, ignore_errors=True)
    settings.scratch_dir.mkdir(parents=True, exist_ok=True)


async def usable_classes(
    settings: Settings, binaries: Binaries
) -> tuple[dict[HwClass, tuple[str, ...]], dict[HwClass, str], Binaries]:
    """Class -> codecs it encodes here, class -> why not for the others, and the binaries that passed."""
    if settings.hw_classes:
        log.warning("HW_CLASSES is set: binding to %s without test encodes", ", ".join(settings.hw_classes))
        codecs = {hw: tuple(c for (h, c) in PROFILES if h is hw) for hw in settings.hw_classes}
        return codecs, {}, binaries
    detections = await hardware.detect(binaries.to_try(HwClass))
    usable = {d.hw: d.codecs for d in detections if d.usable}
    unusable = {d.hw: d.detail for d in detections if not d.usable}
    return usable, unusable, binaries.proven(detections)


class Node:
    """The node's controls, applied to its worker and its slots."""

    def __init__(
        self,
        settings: Settings,
        worker: Worker,
        control: Watched[NodeControl],
        queue: Watched[QueueControl],
        stopping: asyncio.Event,
    ) -> None:
        self.settings, self.worker, self.control, self.queue = settings, worker, control, queue
        self.stopping = stopping
        self.open = asyncio.Event()  # set while slots may take work
        self.changed = asyncio.Event()  # wakes the reporter
        self.handling: dict[asyncio.Task[None], int] = {}  # task -> job id
        control.on_change(lambda _: self.apply())
        queue.on_change(lambda _: self.apply())

    def forget(self, handling: asyncio.Task[None]) -> None:
        self.handling.pop(handling, None)
        self.changed.set()

    def apply(self) -> None:
        wanted = self.control.value
        if wanted.state == "paused":
            self.worker.pause()
        else:
            self.worker.resume()
        if wanted.state == "stopped" and wanted.now:
            for task, job_id in self.handling.items():
                if job_id not in self.worker.committed:  # a granted commit finishes in milliseconds
                    task.cancel()  # the worker stops ffmpeg and naks: another node takes the job at once
        if wanted.state == "running" and not self.queue.value.paused and not self.stopping.is_set():
            self.open.set()
        else:
            self.open.clear()
        self.changed.set()

    @property
    def state(self) -> NodeState:
        if self.stopping.is_set():
            return NodeState.STOPPING
        wanted = self.control.value.state
        if wanted == "paused":
            return NodeState.PAUSED
        if wanted == "stopped":
            return NodeState.DRAINING if self.worker.running else NodeState.STOPPED
        return NodeState.QUEUE_PAUSED if self.queue.value.paused else NodeState.RUNNING


async def run(settings: Settings, stopping: asyncio.Event | None = None) -> None:
    stopping = stopping or lifecycle.stop_event()
    binaries = chosen(await asyncio.to_thread(candidates))
    clean_scratch(settings)
    codecs, unusable, binaries = await usable_classes(settings, binaries)
    if not codecs:
        raise NoUsableHardware("no hardware class passed its test encode; see the lines above")

    nc = await bus.connect(settings.nats_url, f"encoder {settings.node}")
    js = nc.jetstream()
    await provision(js)
    nodes = await js.key_value(topology.NODES.name)
    progress = await js.key_value(topology.PROGRESS.name)
    transcode = await Watched(js, TRANSCODE_KEY, TranscodeSettings, TranscodeSettings()).start()
    queue = await Watched(js, QUEUE_KEY, QueueControl, QueueControl()).start()
    first = NodeControl(state="running" if settings.autostart else "stopped")
    control = await Watched(js, node_key(settings.node), NodeControl, first).start()
    paths = await Watched(js, PATHS_KEY, PathSettings, PathSettings()).start()
    worker = Worker(nc, settings, binaries, progress, transcode, codecs, paths=paths)
    paths.on_change(lambda _: log_mappings(settings, worker))
    log_mappings(settings, worker)
    node = Node(settings, worker, control, queue, stopping)
    node.apply()
    slots_per_class = {hw: settings.slots.get(hw, 1) for hw in codecs}

    async def report_node() -> None:
        while True:
            status = NodeStatus(
                node=settings.node,
                hostname=socket.gethostname(),
                version=version("librarrarian-encoder"),
                classes=tuple(codecs),
                slots=sum(slots_per_class.values()),
                state=node.state,
                jobs=tuple(sorted(worker.running)),
                codecs=dict(codecs),
                unusable=unusable,
                slots_per_class=slots_per_class,
                ffmpeg=binaries.shown(codecs),
            )
            with contextlib.suppress(Exception):  # the next beat retries; the TTL covers a long gap
                await nodes.put(settings.node, encode(status))
            node.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(node.changed.wait(), topology.NODE_HEARTBEAT_SECONDS)
            if stopping.is_set() and not worker.running:
                return

    log.info(
        "encoder %s ready: %s; %s",
        settings.node,
        ", ".join(f"{h} ({'/'.join(c)}) x{slots_per_class[h]}" for h, c in codecs.items()),
        node.state,
    )
    reporter = asyncio.create_task(report_node())
    stopping_watch = asyncio.create_task(_on_stop(stopping, node))
    slots = [
        asyncio.create_task(slot(js, node, hw)) for hw, count in slots_per_class.items() for _ in range(count)
    ]
    try:
        await stopping.wait()
        log.info(
            "encoder %s stopping: finishing running jobs for up to %.0f s",
            settings.node,
            settings.grace_seconds,
        )
        await asyncio.gather(*slots, return_exceptions=True)
    finally:
        stopping_watch.cancel()
        reporter.cancel()
        for task in slots:
            task.cancel()
        for watched in (transcode, queue, control, paths):
            await watched.stop()
        worker.close()
        with contextlib.suppress(Exception):
            await nodes.delete(settings.node)
        await nc.drain()
        log.info("encoder %s stopped", settings.node)


def log_mappings(settings: Settings, worker: Worker) -> None:
    mappings = worker.mappings()
    shown = ", ".join(f"{m.server}={m.local}" for m in mappings) or "none"
    log.info("encoder %s path mappings (from the next job on): %s", settings.node, shown)


async def _on_stop(stopping: asyncio.Event, node: Node) -> None:
    await stopping.wait()
    node.worker.resume()  # a paused encode gets its grace period like any other
    node.apply()


async def slot(js: JetStreamContext, node: Node, hw: HwClass) -> None:
    """Fetch one message at a time while the node is open; on shutdown, give the running job its grace.

    A slot is an ffmpeg: once a job's encode ends, the slot takes the next job while the previous one is
    verified and put in place (at most one job finishing per slot), so the encoder never waits on disk
    syncs and round trips between two encodes."""
    spec = topology.WORK_CONSUMERS[hw]
    stopping = node.stopping
    sub = await js.pull_subscribe_bind(durable=spec.durable, stream=spec.stream)
    finishing: tuple[asyncio.Task[None], int] | None = None
    try:
        while not stopping.is_set():
            if not node.open.is_set():
                await _first(node.open.wait(), stopping.wait())
                continue
            try:
                (msg,) = await sub.fetch(1, timeout=1.0)
            except (TimeoutError, NatsTimeoutError):
                continue
            try:
                request = work_decoder.decode(msg.data)
            except (msgspec.DecodeError, msgspec.ValidationError) as error:
                log.error("dropping an undecodable work message: %s", error)
                await msg.term()
                continue
            encoded = asyncio.Event()
            handling = asyncio.create_task(node.worker.handle(msg, request, encoded))
            node.handling[handling] = request.job_id
            handling.add_done_callback(node.forget)
            node.changed.set()
            await _first(encoded.wait(), stopping.wait())
            if finishing is not None:
                await _finish(node, *finishing)
            finishing = (handling, request.job_id)
    finally:
        if finishing is not None:
            await _finish(node, *finishing)
        await sub.unsubscribe()


async def _finish(node: Node, handling: asyncio.Task[None], job_id: int) -> None:
    """Wait for a job to end; on shutdown give it the grace period, then stop it (unless it holds the
    commit: a granted replace takes milliseconds and is reported)."""
    await _first(handling, node.stopping.wait())
    if not handling.done():
        done, _ = await asyncio.wait({handling}, timeout=node.settings.grace_seconds)
        if not done and job_id not in node.worker.committed:
            handling.cancel()
    await asyncio.gather(handling, return_exceptions=True)  # its outcome is already reported


async def _first(*awaitables: Awaitable[object]) -> None:
    """Wait until the first of these is done; cancel the waits that are not tasks of their own."""
    futures = [a if isinstance(a, asyncio.Task) else asyncio.ensure_future(a) for a in awaitables]
    try:
        await asyncio.wait(futures, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for future, original in zip(futures, awaitables, strict=True):
            if future is not original:
                future.cancel()
