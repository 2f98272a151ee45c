"""The encoder process: detect hardware, connect, follow the shared settings, and run the node (its slots,
its reporter and its stop watcher) in one task group until it stopped; the connection is drained on the way
out, also after a failed start."""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack
from typing import TypeVar

from librarrarian_contracts import require, topology
from librarrarian_contracts.catalog import Role
from librarrarian_contracts.provision import require_remote
from librarrarian_contracts.settings import (
    PATHS_KEY,
    QUEUE_KEY,
    STREAMING_KEY,
    TRANSCODE_KEY,
    NodeControl,
    NodeSchedule,
    NodeSlots,
    PathSettings,
    QueueControl,
    StreamingSettings,
    TranscodeSettings,
    node_key,
    schedule_key,
    slots_key,
)
from librarrarian_contracts.topology import HwClass
from librarrarian_contracts.views import PlaybackState
from librarrarian_media.ffmpeg_builds import candidates
from librarrarian_runtime import bus, lifecycle
from librarrarian_runtime.watched import Watched

from . import hardware, scratch
from .binaries import Binaries, chosen
from .clock import Clock, SystemClock
from .node import Hardware, Node, Watching
from .profiles import PROFILES
from .settings import Settings
from .slots import SlotPool
from .worker import Worker

log = logging.getLogger(__name__)

T = TypeVar("T")


class NoUsableHardware(RuntimeError):
    """Not even the CPU class passed its test encode."""


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


async def run(settings: Settings, stopping: asyncio.Event | None = None, clock: Clock | None = None) -> None:
    stopping = stopping or lifecycle.stop_event()
    if removed := scratch.remove_leftovers():
        log.info("removed %d scratch folder(s) (samples, segments) left by a process that is gone", removed)
    binaries = chosen(await asyncio.to_thread(candidates))
    codecs, unusable, binaries = await usable_classes(settings, binaries)
    if not codecs:
        raise NoUsableHardware("no hardware class passed its test encode; see the lines above")
    found = Hardware(codecs, unusable, binaries.shown(codecs))

    async with (
        bus.connection(settings.nats_url, f"encoder {settings.node}", stopping) as nc,
        AsyncExitStack() as stack,
    ):
        js = nc.jetstream()
        if settings.media_paths:
            await require(js, Role.ENCODER)
        else:  # logged in as remote-<node>: its own store, and segments only
            await require_remote(js, settings.node)
        nodes = await js.key_value(topology.NODES.name)
        progress = await js.key_value(topology.PROGRESS.name)
        first = NodeControl(state="running" if settings.autostart else "stopped")
        transcode = await _started(stack, Watched(js, TRANSCODE_KEY, TranscodeSettings, TranscodeSettings()))
        queue = await _started(stack, Watched(js, QUEUE_KEY, QueueControl, QueueControl()))
        control = await _started(stack, Watched(js, node_key(settings.node), NodeControl, first))
        paths = await _started(stack, Watched(js, PATHS_KEY, PathSettings, PathSettings()))
        timetable = await _started(
            stack, Watched(js, schedule_key(settings.node), NodeSchedule, NodeSchedule())
        )
        seed = NodeSlots(slots=settings.slots)  # SLOTS: the first-start default
        slots = await _started(
            stack, Watched(js, slots_key(settings.node), NodeSlots, NodeSlots(), seed=seed)
        )
        watching = Watching(
            streaming=await _started(
                stack, Watched(js, STREAMING_KEY, StreamingSettings, StreamingSettings())
            ),
            playback=await _started(
                stack,
                Watched(
                    js,
                    topology.PLAYBACK_KEY,
                    PlaybackState,
                    PlaybackState(),
                    bucket=topology.PLAYBACK.name,
                ),
            ),
        )
        worker = Worker(nc, settings, binaries, progress, transcode, codecs, paths=paths)
        stack.callback(worker.close)
        paths.on_change(lambda _: log_mappings(settings, worker))
        log_mappings(settings, worker)
        node = Node(
            settings,
            found,
            worker,
            control,
            queue,
            timetable,
            clock or SystemClock(),
            stopping,
            watching,
        )
        node.apply()
        log.info("encoder %s ready: %s; %s", settings.node, found, node.state)
        try:
            async with asyncio.TaskGroup() as tasks:
                pool = SlotPool(js, node, tasks)
                pool.resize(slots.value)
                slots.on_change(pool.resize)
                tasks.create_task(node.report(nodes), name="node reporter")
                tasks.create_task(node.watch_stop(), name="stop watcher")
                tasks.create_task(node.follow_schedule(), name="schedule follower")
                tasks.create_task(node.follow_playback(), name="playback follower")
        finally:
            try:
                await nodes.delete(settings.node)  # off the dashboard now, not when its entry expires
            except Exception as error:  # noqa: BLE001 - the entry expires by itself
                log.warning(
                    "encoder %s: could not remove its entry from the nodes bucket: %r", settings.node, error
                )
    log.info("encoder %s stopped", settings.node)


async def _started(stack: AsyncExitStack, watched: Watched[T]) -> Watched[T]:
    """``watched``, following its key until the service ends."""
    await watched.start()
    stack.push_async_callback(watched.stop)
    return watched


def log_mappings(settings: Settings, worker: Worker) -> None:
    mappings = worker.mappings()
    shown = ", ".join(f"{m.server}={m.local}" for m in mappings) or "none"
    log.info("encoder %s path mappings (from the next job on): %s", settings.node, shown)
