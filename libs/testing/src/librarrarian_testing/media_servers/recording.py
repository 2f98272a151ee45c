"""What every fake server shares: a record of the requests it got, and serving a Starlette app on a free
local port for the length of a test."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


@dataclass(frozen=True)
class Seen:
    """One request a fake received."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    headers: dict[str, str]
    body: bytes

    def params(self) -> set[str]:
        return {name for name, _ in self.query}


@dataclass
class Recorder:
    seen: list[Seen] = field(default_factory=list)

    async def record(self, request: Request) -> Seen:
        seen = Seen(
            request.method,
            request.url.path,
            tuple(request.query_params.multi_items()),
            {k.lower(): v for k, v in request.headers.items()},
            await request.body(),
        )
        self.seen.append(seen)
        return seen

    def app(self, routes: list[Route]) -> Starlette:
        async def not_found(request: Request, _: Exception) -> Response:
            await self.record(request)
            return Response("not found", status_code=404)

        async def not_allowed(request: Request, _: Exception) -> Response:
            await self.record(request)
            return Response("method not allowed", status_code=405)

        return Starlette(routes=routes, exception_handlers={404: not_found, 405: not_allowed})


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # the test runner owns the signals
        yield


@contextlib.asynccontextmanager
async def serving(
    app: Starlette, port: int = 0, *, certificate: tuple[Path, Path] | None = None
) -> AsyncIterator[str]:
    """Run ``app`` on a loopback port (a free one unless given: a server stopped and started again on its
    old port, like an app that was down); yields its base URL. With ``certificate`` (its file and its key's),
    over HTTPS."""
    cert, key = certificate or (None, None)
    server = _Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="off",
            access_log=False,
            ssl_certfile=str(cert) if cert else None,
            ssl_keyfile=str(key) if key else None,
            timeout_graceful_shutdown=2,  # a client holding a TLS connection open must not hold the test
        )
    )
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"{'https' if certificate else 'http'}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
