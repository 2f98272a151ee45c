"""Live updates at ``GET /api/v1/events``: server-sent events, fed from NATS by the process's one Feed.

A stream opens with a ``retry:`` hint and a ``snapshot`` event, then carries every change as it happens:

| event | data |
|---|---|
| ``snapshot`` | ``{"nodes": [...], "progress": [...]}``: everything current; replaces what the page held |
| ``node`` | one entry of the ``nodes`` bucket (``NodeStatus``) and its ``key`` |
| ``node-removed`` | ``{"key": ...}``: the node stopped, or its entry expired |
| ``progress`` | one entry of the ``progress`` bucket (``JobProgress``) and its ``key`` |
| ``progress-removed`` | ``{"key": ...}``: the job is no longer running |
| ``job`` | a job event (``type`` is ``job.started``, ``job.completed``, ``job.skipped`` or ``job.failed``), without its error log |

A comment line every 15 s keeps proxies from closing a quiet stream. A browser too slow to keep up is
dropped; its EventSource reconnects and starts again from a snapshot.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import StreamingResponse

from .access import require_api
from .feed import Feed

HEARTBEAT_SECONDS = 15.0
RETRY = b"retry: 3000\n\n"  # how long a browser waits before reconnecting, in milliseconds
HEARTBEAT = b": keep-alive\n\n"
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}  # no proxy may hold events back


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The Feed lives as long as the app. FastAPI runs an included router's lifespan inside the app's own,
    so the NATS connection in ``app.state.nc`` is there already and is drained only after the Feed stops."""
    feed = Feed(app.state.nc)
    await feed.start()
    app.state.feed = feed
    try:
        yield
    finally:
        await feed.stop()


router = APIRouter(prefix="/api/v1", tags=["live"], dependencies=[Depends(require_api)], lifespan=lifespan)


def close_streams(app: FastAPI) -> None:
    """End every open stream now. Called when the gateway stops, before uvicorn waits for open responses
    to finish (which an event stream never does by itself); later connections end at once."""
    feed: Feed | None = getattr(app.state, "feed", None)
    if feed is not None:
        feed.broadcaster.close()


async def stream(feed: Feed, heartbeat_seconds: float) -> AsyncIterator[bytes]:
    snapshot, listener = feed.listen()
    try:
        yield RETRY + snapshot
        while (chunk := await listener.next(heartbeat_seconds)) is not None:
            yield chunk or HEARTBEAT
    finally:
        feed.forget(listener)


@router.get(
    "/events",
    response_class=StreamingResponse,
    summary="Live updates: nodes, progress and job events as server-sent events",
    responses={200: {"content": {"text/event-stream": {}}, "description": "an endless event stream"}},
)
async def events(request: Request) -> StreamingResponse:
    """A `snapshot` of every node, running job and recent scan (`{"nodes": [...], "progress": [...],
    "scans": [...]}`), then one event per change: `node`, `node-removed`, `progress`, `progress-removed`,
    `scan`, `scan-removed` (data: the entry and its `key`, or just the `key`), `job` (a job event, `type`
    naming it) and `cleanup` (a stale-file scan's summary). Each event's data is one line of JSON."""
    feed: Feed = request.app.state.feed
    return StreamingResponse(stream(feed, HEARTBEAT_SECONDS), media_type="text/event-stream", headers=HEADERS)
