"""The pull-consumer loop every service uses: fetch → decode → handle → ack.

Handlers must be idempotent (a message can come twice). An undecodable message is terminated with a log
line; a handler that raises is logged and the message redelivered after a delay, so one bad message or a
database hiccup neither stops the service nor spins it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec
from librarrarian_contracts.topology import ConsumerSpec
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext

log = logging.getLogger(__name__)

T = TypeVar("T")
RETRY_DELAY_SECONDS = 5.0


async def consume(
    js: JetStreamContext,
    spec: ConsumerSpec,
    decoder: msgspec.json.Decoder[T],
    handle: Callable[[T], Awaitable[Any]],
    stopping: asyncio.Event,
    *,
    batch: int = 20,
) -> None:
    async def handle_value(value: T, _: Msg) -> None:
        await handle(value)

    await consume_messages(js, spec, decoder, handle_value, stopping, batch=batch)


async def consume_messages(
    js: JetStreamContext,
    spec: ConsumerSpec,
    decoder: msgspec.json.Decoder[T],
    handle: Callable[[T, Msg], Awaitable[Any]],
    stopping: asyncio.Event,
    *,
    batch: int = 20,
) -> None:
    """:func:`consume` for a handler that also needs the message itself (its delivery count, say)."""
    sub = await js.pull_subscribe_bind(durable=spec.durable, stream=spec.stream)
    try:
        while not stopping.is_set():
            try:
                messages = await sub.fetch(batch, timeout=1.0)
            except (TimeoutError, NatsTimeoutError):
                continue
            for msg in messages:
                try:
                    value = decoder.decode(msg.data)
                except (msgspec.DecodeError, msgspec.ValidationError) as error:
                    log.error(
                        "%s: dropping an undecodable message on %s: %s", spec.durable, msg.subject, error
                    )
                    await msg.term()
                    continue
                try:
                    await handle(value, msg)
                except Exception:
                    log.exception(
                        "%s: handling a message on %s failed; retrying it later", spec.durable, msg.subject
                    )
                    await msg.nak(delay=RETRY_DELAY_SECONDS)
                    continue
                await msg.ack()
    finally:
        await sub.unsubscribe()
