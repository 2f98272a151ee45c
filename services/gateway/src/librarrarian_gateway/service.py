"""The gateway process: uvicorn serving the app until asked to stop."""

from __future__ import annotations

import asyncio

import uvicorn
from librarrarian_runtime import lifecycle

from . import live
from .app import create_app
from .settings import Settings


async def run(settings: Settings, stopping: asyncio.Event | None = None) -> None:
    stopping = stopping or lifecycle.stop_event()
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        # X-Forwarded-Proto and -For are believed from these proxies only (none unless FORWARDED_ALLOW_IPS
        # says): a proxy that terminates TLS makes the session cookie Secure, and the login limits count the
        # client's address rather than the proxy's.
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=list(settings.forwarded_allow_ips),
    )
    server = uvicorn.Server(config)
    # uvicorn's serve() captures SIGTERM/SIGINT and re-raises them on exit, which would read as a second
    # signal to our own handler; its inner loop leaves the signals to us.
    serving = asyncio.create_task(server._serve())
    await asyncio.wait({serving, asyncio.create_task(stopping.wait())}, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    live.close_streams(app)  # uvicorn waits for open responses, and an event stream never ends by itself
    await serving
