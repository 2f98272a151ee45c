"""The provisioning step: apply the bus topology as the provision user, then give each service its database
role. Run once before the services start (``librarrarian up`` does, and compose's ``provision`` service);
the services themselves only check that what they need is there."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
from librarrarian_contracts.provision import provision as apply_topology
from librarrarian_runtime import bus
from nats.errors import NoServersError
from nats.js.errors import ServiceUnavailableError

from . import database
from .settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")
RETRY_SECONDS = 0.5


async def run(settings: Settings) -> None:
    nc = await _when_up(lambda: bus.connect(settings.nats_url, "provision"), "NATS", settings.wait_seconds)
    try:
        # A JetStream cluster that is just forming answers 503 (or nothing) until it has elected a leader.
        js = nc.jetstream()
        await _when_up(
            lambda: apply_topology(js, settings.replicas, settings.remote_nodes),
            "JetStream",
            settings.wait_seconds,
        )
    finally:
        await nc.drain()
    log.info(
        "bus topology provisioned: streams, durables and buckets, each on %d server(s)", settings.replicas
    )
    if settings.remote_nodes:
        log.info("a transfer store for each node without the library: %s", ", ".join(settings.remote_nodes))
    if settings.database_url is not None:
        url = settings.database_url
        await _when_up(lambda: _reachable(url), "PostgreSQL", settings.wait_seconds)
        await database.provision(url, settings.passwords)
        log.info("database roles provisioned: each service owns its schema and nothing else")


async def _reachable(url: str) -> None:
    conn = await asyncpg.connect(url)
    await conn.close()


async def _when_up(connect: Callable[[], Awaitable[T]], what: str, seconds: float) -> T:
    """``connect()``, tried again until ``seconds`` passed: the server may be starting beside this step (or
    a JetStream cluster electing its leader)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        try:
            return await connect()
        except (
            OSError,
            NoServersError,
            asyncpg.CannotConnectNowError,
            TimeoutError,  # nats' own timeouts too
            ServiceUnavailableError,
        ) as error:
            if loop.time() >= deadline:
                raise ConnectionError(
                    f"{what} did not accept a connection within {seconds:g} s: {error}"
                ) from None
            await asyncio.sleep(RETRY_SECONDS)
