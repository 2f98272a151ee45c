"""A gateway running for a test on the test's own NATS and PostgreSQL, alone or with the real scheduler and
history behind it: starting it, waiting until it and its services answer, and talking to it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from librarrarian_embedded.nats_server import free_port
from librarrarian_gateway import service as gateway
from librarrarian_gateway.settings import Settings
from librarrarian_history import service as history
from librarrarian_history.settings import Settings as HistorySettings
from librarrarian_runtime.outbound import PrivateServers
from librarrarian_scheduler import service as scheduler
from librarrarian_scheduler.settings import Settings as SchedulerSettings
from librarrarian_testing import eventually
from nats.js import JetStreamContext

USER, PASSWORD, API_KEY = "admin", "correct horse battery", "test-key-0123456789abcdef"


@dataclass
class Site:
    url: str
    settings: Settings
    media: Path  # the gateway's one media path
    js: JetStreamContext
    stopping: asyncio.Event  # set it to stop the gateway
    task: asyncio.Task[None]  # the gateway, running

    def client(self, key: str | None = API_KEY, timeout: float = 10) -> httpx.AsyncClient:
        """A client with ``key``, or without one like a browser on the dashboard: its requests say they
        come from the dashboard's own pages (``Origin``), as a browser's do."""
        headers = {"X-Api-Key": key} if key else {"Origin": self.url}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=timeout)


def gateway_settings(
    nats_url: str, database_url: str, *media: Path, private_servers: PrivateServers = PrivateServers.LAN
) -> Settings:
    return Settings(
        nats_url=nats_url,
        database_url=database_url,
        host="127.0.0.1",
        port=free_port(),
        local_user=USER,
        local_password=PASSWORD,
        api_key=API_KEY,
        media_paths=media,
        private_servers=private_servers,
    )


async def start(settings: Settings) -> tuple[asyncio.Event, asyncio.Task[None]]:
    """A gateway, once its health check answers; set the event to stop it."""
    stopping = asyncio.Event()
    task = asyncio.create_task(gateway.run(settings, stopping))

    async def up() -> bool:
        assert not task.done(), task
        try:
            async with httpx.AsyncClient() as client:
                return (await client.get(f"http://127.0.0.1:{settings.port}/healthz")).status_code == 200
        except httpx.TransportError:
            return False

    await eventually(up, timeout=30, message="gateway up")
    return stopping, task


async def services_answering(url: str, api_key: str = API_KEY) -> None:
    """Wait until the scheduler and history answer through the gateway: until then its lists are 503s."""

    async def answering() -> bool:
        async with httpx.AsyncClient(base_url=url, headers={"X-Api-Key": api_key}) as api:
            return all(
                [(await api.get(path)).status_code == 200 for path in ("/api/v1/jobs", "/api/v1/history")]
            )

    await eventually(answering, timeout=30, message="scheduler and history answering")


@contextlib.asynccontextmanager
async def running_site(
    settings: Settings, js: JetStreamContext, *, with_services: bool = True, **scheduler_settings: Any
) -> AsyncIterator[Site]:
    """The gateway for the block's length, with the real scheduler (given ``scheduler_settings``: its
    retries, say) and history behind it unless told not to; everything answers before the block starts and
    has stopped when it ends."""
    stops = [asyncio.Event(), asyncio.Event()] if with_services else []
    tasks = []
    if with_services:
        urls = {"nats_url": settings.nats_url, "database_url": settings.database_url}
        tasks = [
            asyncio.create_task(scheduler.run(SchedulerSettings(**urls, **scheduler_settings), stops[0])),
            asyncio.create_task(history.run(HistorySettings(**urls), stops[1])),
        ]
    stopping, task = await start(settings)
    url = f"http://127.0.0.1:{settings.port}"
    try:
        if with_services:
            await services_answering(url)
        yield Site(url, settings, settings.media_paths[0], js, stopping, task)
    finally:
        for event in (stopping, *stops):
            event.set()
        await asyncio.wait_for(asyncio.gather(task, *tasks), 30)
