"""Following a scanner from a test: the media events it publishes, and whether it answers yet."""

from __future__ import annotations

import asyncio

from librarrarian_contracts import MediaEvent, sources, topology
from librarrarian_contracts.codec import media_decoder
from librarrarian_runtime.queries import QueryFailed, ask
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
        await ask(nc, sources.STATUS, sources.Nothing(), sources.SourcesStatus, timeout=1)
    except QueryFailed:
        return False
    return True
