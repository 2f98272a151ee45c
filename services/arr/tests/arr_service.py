"""The arr service in a test: started on a real NATS server and a real database, and asked as the gateway
would."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import msgspec
from librarrarian_arr import service
from librarrarian_arr.settings import Settings
from librarrarian_contracts import topology
from librarrarian_contracts.arr import ArrStatus
from librarrarian_contracts.views import Nothing
from librarrarian_runtime.errors import ServiceError
from librarrarian_runtime.outbound import PrivateServers
from librarrarian_runtime.queries import ask
from librarrarian_testing import eventually
from nats.aio.client import Client
from nats.js import JetStreamContext

T = TypeVar("T")


@dataclass
class ArrService:
    nc: Client
    js: JetStreamContext
    media: Path
    settings: Settings
    stopping: asyncio.Event
    task: asyncio.Task[None]

    async def ask(self, subject: str, request: msgspec.Struct, reply_type: type[T], timeout: float = 30) -> T:
        return await ask(self.nc, subject, request, reply_type, timeout)

    async def stop(self) -> None:
        self.stopping.set()
        await asyncio.wait_for(self.task, 30)


async def answers(nc: Client) -> bool:
    try:
        await ask(nc, topology.ARR_STATUS, Nothing(), ArrStatus, timeout=1)
    except ServiceError:
        return False
    return True


async def start(nc: Client, js: JetStreamContext, settings: Settings, media: Path) -> ArrService:
    stopping = asyncio.Event()
    task = asyncio.create_task(service.run(settings, stopping))
    await eventually(lambda: answers(nc), timeout=30, message="arr service answering")
    return ArrService(nc, js, media, settings, stopping, task)


def service_settings(nats_url: str, database_url: str, media: Path, **changes: Any) -> Settings:
    settings = Settings(
        nats_url=nats_url,
        database_url=database_url,
        media_paths=(media,),
        node="arr-test",
        private_servers=PrivateServers.ALL,  # the fake apps listen on loopback
        timeout_seconds=3.0,
        command_timeout_seconds=20.0,
        scan_interval_seconds=0,
        retry_seconds=0.3,
        max_retry_seconds=1.0,
    )
    return replace(settings, **changes)
