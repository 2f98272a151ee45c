"""Connecting to NATS the same way in every service."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import nats
from nats.aio.client import Client

log = logging.getLogger(__name__)


async def connect(url: str, name: str) -> Client:
    """Connect with reconnects forever: a restarting NATS server must not kill the services."""

    async def on_disconnect() -> None:
        log.warning("disconnected from NATS")

    async def on_reconnect() -> None:
        log.info("reconnected to NATS")

    async def on_error(error: Exception) -> None:
        log.warning("NATS error: %s", error)

    return await nats.connect(
        url,
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        connect_timeout=5,
        allow_reconnect=True,
        disconnected_cb=on_disconnect,
        reconnected_cb=on_reconnect,
        error_cb=on_error,
    )


@contextlib.asynccontextmanager
async def connection(url: str, name: str) -> AsyncIterator[Client]:
    """A connection for a service's whole life, drained when it ends: after a stop, and after a failed
    start too, so nothing the service published is lost and the server forgets it at once."""
    nc = await connect(url, name)
    try:
        yield nc
    finally:
        if not nc.is_closed:
            try:
                await nc.drain()
            except Exception as error:  # noqa: BLE001 - closing is best effort; the process ends anyway
                log.warning("draining the NATS connection failed: %r", error)


def redact(url: str) -> str:
    """A URL fit for a log line: credentials replaced."""
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.rpartition('@')[2]}"
