"""Live updates at ``GET /api/v1/events``: server-sent events, fed from NATS by the process's one Feed.

A stream opens with a ``retry:`` hint and a ``snapshot`` event, then carries every change as it happens:

| event | data |
|---|---|
| ``snapshot`` | ``{"nodes": [...], "progress": [...], "scans": [...]}``: everything current; replaces what the page held |
| ``node`` | one entry of the ``nodes`` bucket (``NodeStatus``) and its ``key`` |
| ``node-removed`` | ``{"key": ...}``: the node stopped, or its entry expired |
| ``progress`` | one entry of the ``progress`` bucket (``JobProgress``) and its ``key`` |
| ``progress-removed`` | ``{"key": ...}``: the job is no longer running |
| ``scan`` | one entry of the ``scans`` bucket (``ScanStatus``) and its ``key`` |
| ``scan-removed`` | ``{"key": ...}``: the scan's entry expired |
| ``job`` | a node's job report (``type`` is ``job.started``, ``job.completed``, ``job.skipped``, ``job.failed`` or ``job.cleanup_finished``), without its error log |
| ``job-state`` | the scheduler's record of a job changed (``JobStateChanged``): ``change`` (queued, awaiting_approval, released, running, retry_scheduled, done, skipped, failed, removed) and ``job``, the record after the change without its ``error_log``; ``job.version`` grows with every change, so the newest wins |
| ``cleanup`` | a stale-file scan's summary (``CleanupScanCompleted``) |
| ``arr-scan`` | an Arr app scan's summary (``ArrScanCompleted``: ``app``, ``kind`` rename or quality, ``items``, ``found``, ``cancelled``, ``problem``) |

``job-state`` is what a page shows a job as; ``job`` says what a node reported, before the scheduler has
recorded it. Events that happened while a browser was not connected are not replayed: after a reconnect
(a new ``snapshot``) a page reads what it lists again. A comment line every 15 s keeps proxies from closing
a quiet stream. A browser too slow to keep up is dropped; its EventSource reconnects and starts again from
a snapshot.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from ..access import READ, identify
from ..credentials import Principal
from .feed import Feed

HEARTBEAT_SECONDS = 15.0
RETRY = b"retry: 3000\n\n"  # how long a browser waits before reconnecting, in milliseconds
HEARTBEAT = b": keep-alive\n\n"
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}  # no proxy may hold events back

router = APIRouter(tags=["live"])


async def stream(
    feed: Feed, heartbeat_seconds: float, principal: Principal | None = None
) -> AsyncIterator[bytes]:
    snapshot, listener = feed.listen(principal)
    try:
        yield RETRY + snapshot
        while (chunk := await listener.next(heartbeat_seconds)) is not None:
            yield chunk or HEARTBEAT
    finally:
        feed.forget(listener)


@router.get(
    "/events",
    dependencies=READ,
    response_class=StreamingResponse,
    summary="Live updates: nodes, progress, scans, job reports and job state as server-sent events",
    responses={200: {"content": {"text/event-stream": {}}, "description": "an endless event stream"}},
)
async def events(request: Request) -> StreamingResponse:
    """A `snapshot` of every node, running job and recent scan (`{"nodes": [...], "progress": [...],
    "scans": [...]}`), then one event per change: `node`, `node-removed`, `progress`, `progress-removed`,
    `scan`, `scan-removed` (data: the entry and its `key`, or just the `key`), `job` (a node's job report,
    `type` naming it), `job-state` (the scheduler's record of a job after a change: `change` and `job`,
    whose `version` grows with every change; without the error log), `cleanup` (a stale-file scan's
    summary) and `arr-scan` (an Arr app scan's summary). Each event's data is one line of JSON."""
    feed: Feed = request.app.state.feed
    principal = await identify(request)
    return StreamingResponse(
        stream(feed, HEARTBEAT_SECONDS, principal), media_type="text/event-stream", headers=HEADERS
    )
