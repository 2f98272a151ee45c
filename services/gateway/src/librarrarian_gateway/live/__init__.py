"""The live room: ``GET /api/v1/events``, the server-sent events every page follows (``events``), fed by
one Feed per process (``feed``) that fans out to every browser (``broadcaster``).

The door is the API's (``access.require_api``): a session or an ``X-Api-Key``. The Feed lives as long as
the app, started by this room's lifespan.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI

from ..access import require_api
from ..credentials import Principal
from . import events
from .feed import Feed

__all__ = ["close_streams", "end_streams", "router"]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """FastAPI runs an included router's lifespan inside the app's own, so the NATS connection in
    ``app.state.nc`` is there already and is drained only after the Feed stops."""
    feed = Feed(app.state.nc)
    await feed.start()
    app.state.feed = feed
    try:
        yield
    finally:
        await feed.stop()


router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_api)], lifespan=lifespan)
router.include_router(events.router)


def close_streams(app: FastAPI) -> None:
    """End every open stream now. Called when the gateway stops, before uvicorn waits for open responses
    to finish (which an event stream never does by itself); later connections end at once."""
    feed: Feed | None = getattr(app.state, "feed", None)
    if feed is not None:
        feed.broadcaster.close()


def end_streams(
    app: FastAPI, *, session: str | None = None, user: str | None = None, key_id: int | None = None
) -> int:
    """End the open streams of a session (by its token's hash), of every session of a user, or of an API
    key: they were opened with a login that no longer holds. How many ended (in this process)."""

    def whose(principal: Principal) -> bool:
        return (
            (session is not None and principal.session == session)
            or (user is not None and principal.user == user)
            or (key_id is not None and principal.key_id == key_id)
        )

    feed: Feed | None = getattr(app.state, "feed", None)
    return feed.broadcaster.end_where(whose) if feed is not None else 0
