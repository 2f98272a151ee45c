"""The pull-consumer loop every service uses: fetch → decode → handle → ack.

Handlers must be idempotent (a message can come twice). An undecodable message is terminated with a log
line; a handler that raises is logged and the message redelivered after a delay, so one bad message or a
database hiccup neither stops the service nor spins it. A durable that has no leader for a moment (a
JetStream cluster electing one after a server went away) gives nothing until it has one again (:class:`Puller`);
a stop cuts short the fetch under way, so a service stops at once rather than after its fetch's timeout.
:func:`consume_batches` hands a handler everything one fetch brought, for one transaction per batch; when the
batch fails, each message is handled alone, so one bad message holds back only itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec
from librarrarian_contracts.topology import ConsumerSpec
from nats.aio.msg import Msg
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.errors import ServiceUnavailableError

from .streaks import FailureStreak

log = logging.getLogger(__name__)

T = TypeVar("T")
RETRY_DELAY_SECONDS = 5.0
# How long to wait before asking again a durable that answered it has no leader (503 comes at once).
UNAVAILABLE_PAUSE_SECONDS = 0.5


class Puller:
    """``fetch`` on a pull subscription, giving nothing (rather than raising) when there is nothing yet: no
    message within the timeout, no leader for the durable right now, or ``stopping`` set meanwhile. A streak
    of no leader is logged once, and once more when the durable answers again.

    A fetch cut short by ``stopping`` leaves its pull request on the server until it expires; the server
    hands nothing to it once the subscription is gone (no interest), and whatever it handed over in the
    moment between is delivered again after AckWait, as after a crash."""

    def __init__(
        self, sub: JetStreamContext.PullSubscription, durable: str, stopping: asyncio.Event | None = None
    ) -> None:
        self.sub = sub
        self.streak = FailureStreak(log, f"pulling from {durable}")
        self.stopping = stopping

    async def pull(self, batch: int, timeout: float = 1.0) -> list[Msg]:
        if self.stopping is None:
            return await self._fetch(batch, timeout)
        if self.stopping.is_set():
            return []
        fetching = asyncio.create_task(self._fetch(batch, timeout))
        stopped = asyncio.create_task(self.stopping.wait())
        try:
            await asyncio.wait((fetching, stopped), return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
            if not fetching.done():
                fetching.cancel()
                await asyncio.wait((fetching,))  # its own CancelledError stays in it; ours is raised
        # Messages that came with the stop are handed on: the caller deals with them as before a stop.
        return [] if fetching.cancelled() else fetching.result()

    async def _fetch(self, batch: int, timeout: float) -> list[Msg]:
        try:
            messages = await self.sub.fetch(batch, timeout=timeout)
        except (TimeoutError, NatsTimeoutError):
            self.streak.succeeded()  # the durable answered: nothing waits
            return []
        except (ServiceUnavailableError, NoRespondersError) as error:
            self.streak.failed(error)
            await asyncio.sleep(UNAVAILABLE_PAUSE_SECONDS)
            return []
        self.streak.succeeded()
        return messages


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


async def consume_batches(
    js: JetStreamContext,
    spec: ConsumerSpec,
    decoder: msgspec.json.Decoder[T],
    handle_batch: Callable[[list[T]], Awaitable[Any]],
    handle: Callable[[T], Awaitable[Any]],
    stopping: asyncio.Event,
    *,
    batch: int = 200,
) -> None:
    """:func:`consume` for what is cheaper done many at a time: ``handle_batch`` takes every decodable message
    one fetch brought (as many as are waiting, up to ``batch``: a fetch does not wait to fill it), and they are
    acknowledged once it returns. When it raises, ``handle`` takes them one by one, each acknowledged or
    redelivered on its own."""
    sub = await js.pull_subscribe_bind(durable=spec.durable, stream=spec.stream)
    puller = Puller(sub, spec.durable, stopping)
    try:
        while not stopping.is_set():
            decoded = [
                (value, msg)
                for msg in await puller.pull(batch)
                if (value := await _decoded(spec, decoder, msg)) is not None
            ]
            if not decoded:
                continue
            try:
                await handle_batch([value for value, _ in decoded])
            except Exception:
                log.exception("%s: handling a batch of %d failed; one by one", spec.durable, len(decoded))
            else:
                for _, msg in decoded:
                    await msg.ack()
                continue
            for value, msg in decoded:
                await _handled(spec, msg, handle(value))
    finally:
        await sub.unsubscribe()


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
    puller = Puller(sub, spec.durable, stopping)
    try:
        while not stopping.is_set():
            for msg in await puller.pull(batch):
                if (value := await _decoded(spec, decoder, msg)) is not None:
                    await _handled(spec, msg, handle(value, msg))
    finally:
        await sub.unsubscribe()


async def _decoded(spec: ConsumerSpec, decoder: msgspec.json.Decoder[T], msg: Msg) -> T | None:
    """The message's value; None, the message terminated, when it cannot be decoded (it never will be)."""
    try:
        return decoder.decode(msg.data)
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        log.error("%s: dropping an undecodable message on %s: %s", spec.durable, msg.subject, error)
        await msg.term()
        return None


async def _handled(spec: ConsumerSpec, msg: Msg, handling: Awaitable[Any]) -> None:
    """Await the message's handling: acknowledged once done; redelivered after a delay when it raised."""
    try:
        await handling
    except Exception:
        log.exception("%s: handling a message on %s failed; retrying it later", spec.durable, msg.subject)
        await msg.nak(delay=RETRY_DELAY_SECONDS)
        return
    await msg.ack()
