"""Following a scanner from a test: the media events it publishes, the scans it shows in the ``scans``
bucket, and whether it answers yet."""

from __future__ import annotations

import asyncio

import msgspec
from librarrarian_contracts import MediaEvent, sources, topology, views
from librarrarian_contracts.codec import media_decoder
from librarrarian_contracts.scans import ScanStatus
from librarrarian_runtime import kv_entries
from librarrarian_runtime.errors import ServiceError
from librarrarian_runtime.queries import ask
from nats.aio.client import Client
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext


async def collect(js: JetStreamContext, into: list[MediaEvent], stopping: asyncio.Event) -> None:
    """Append every ``media.*`` event to ``into`` until ``stopping`` is set (run it as a task)."""
    sub = await js.pull_subscribe("media.>", stream=topology.MEDIA.name)
    try:
        while not stopping.is_set():
            try:
                messages = await sub.fetch(100, timeout=0.2)
            except (TimeoutError, NatsTimeoutError):
                continue
            for msg in messages:
                into.append(media_decoder.decode(msg.data))
                await msg.ack()
    finally:
        await sub.unsubscribe()


async def scanner_answers(nc: Client) -> bool:
    """Whether a scanner answers its request/reply endpoints (it is up)."""
    try:
        await ask(nc, topology.SOURCES_STATUS, views.Nothing(), sources.SourcesStatus, timeout=1)
    except ServiceError:
        return False
    return True


async def scan_entries(js: JetStreamContext, trigger: str | None = None) -> list[ScanStatus]:
    """The entries in the ``scans`` bucket (of one ``trigger``, if given), oldest first."""
    entries = [
        msgspec.json.decode(value, type=ScanStatus)
        for _, value in await kv_entries.values(js, topology.SCANS)
    ]
    return sorted((e for e in entries if trigger in (None, e.trigger)), key=lambda e: e.started_at)
