"""The gateway process: uvicorn serving the app until asked to stop."""

from __future__ import annotations

import asyncio

import uvicorn
from librarrarian_runtime import lifecycle

from .app import create_app
from .settings import Settings


async def run(settings: Settings, stopping: asyncio.Event | None = None) -> None:
    stopping = stopping or lifecycle.stop_event()
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]  # we own the signals
    serving = asyncio.create_task(server.serve())
    await asyncio.wait({serving, asyncio.create_task(stopping.wait())}, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    await serving
