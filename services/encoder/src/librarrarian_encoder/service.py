"""The encoder process: detect hardware, bind to its classes' durables, run slots, report the node."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import socket
from importlib.metadata import version

import msgspec
from librarrarian_contracts import encode, provision, topology
from librarrarian_contracts.codec import work_decoder
from librarrarian_contracts.views import NodeStatus
from librarrarian_runtime import bus, ffmpeg_binary, lifecycle
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext

from . import hardware
from .settings import Settings
from .worker import Worker

log = logging.getLogger(__name__)


class NoUsableHardware(RuntimeError):
    """Not even the CPU class passed its test encode."""


def clean_scratch(settings: Settings) -> None:
    shutil.rmtree(settings.scratch_dir, ignore_errors=True)
    settings.scratch_dir.mkdir(parents=True, exist_ok=True)


async def run(settings: Settings, stopping: asyncio.Event | None = None) -> None:
    stopping = stopping or lifecycle.stop_event()
    ffmpeg_path, origin = ffmpeg_binary.locate()
    log.info("using ffmpeg %s (from %s)", ffmpeg_path, origin)
    clean_scratch(settings)
    usable = [d.hw for d in await hardware.detect(ffmpeg_path) if d.usable]
    if not usable:
        raise NoUsableHardware("no hardware class passed its test encode; see the lines above")

    nc = await bus.connect(settings.nats_url, f"encoder {settings.node}")
    js = nc.jetstream()
    await provision(js)
    nodes = await js.key_value(topology.NODES.name)
    progress = await js.key_value(topology.PROGRESS.name)
    worker = Worker(nc, settings, ffmpeg_path, progress)
    state = {"value": "running"}

    async def report_node() -> None:
        while True:
            status = NodeStatus(
                node=settings.node,
                hostname=socket.gethostname(),
                version=version("librarrarian-encoder"),
                classes=tuple(h.value for h in usable),
                slots=settings.slots,
                state=state["value"],
                jobs=tuple(sorted(worker.running)),
            )
            with contextlib.suppress(Exception):  # the next beat retries; the TTL covers a long gap
                await nodes.put(settings.node, encode(status))
            if await lifecycle.wait_or_stop(stopping, topology.NODE_HEARTBEAT_SECONDS):
                return

    log.info(
        "encoder %s ready: classes %s, %d slot(s)",
        settings.node,
        ", ".join(h.value for h in usable),
        settings.slots,
    )
    reporter = asyncio.create_task(report_node())
    slots = [
        asyncio.create_task(slot(js, worker, hw, stopping, settings.grace_seconds))
        for hw in usable
        for _ in range(settings.slots)
    ]
    try:
        await stopping.wait()
        state["value"] = "stopping"
        log.info(
            "encoder %s stopping: finishing running jobs for up to %.0f s",
            settings.node,
            settings.grace_seconds,
        )
        await asyncio.gather(*slots, return_exceptions=True)
    finally:
        reporter.cancel()
        for task in slots:
            task.cancel()
        with contextlib.suppress(Exception):
            await nodes.delete(settings.node)
        await nc.drain()
        log.info("encoder %s stopped", settings.node)


async def slot(
    js: JetStreamContext, worker: Worker, hw: topology.HwClass, stopping: asyncio.Event, grace_seconds: float
) -> None:
    """Fetch one message at a time while not stopping; on stop, give the running job its grace period."""
    spec = topology.WORK_CONSUMERS[hw]
    sub = await js.pull_subscribe_bind(durable=spec.durable, stream=spec.stream)
    try:
        while not stopping.is_set():
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
            handling = asyncio.create_task(worker.handle(msg, request))
            stop_wait = asyncio.create_task(stopping.wait())
            await asyncio.wait({handling, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
            stop_wait.cancel()
            if not handling.done():
                done, _ = await asyncio.wait({handling}, timeout=grace_seconds)
                if not done:
                    handling.cancel()
            await asyncio.gather(handling, return_exceptions=True)  # its outcome is already reported
    finally:
        await sub.unsubscribe()
