"""The metrics room: ``GET /metrics``, the Prometheus scrape point (``exposition``), fed by the live feed's
buckets, one scheduler request and the counters of :mod:`tally`.

The door takes what a Prometheus server can send without help: the API key as a bearer token
(``Authorization: Bearer <key>``, Prometheus's ``authorization`` setting), as well as the ``X-Api-Key``
header and a session like the API's. The figures say how busy the cluster is and which versions run, nothing
a reader could act on, so any key that may read the API may scrape them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from .. import credentials
from ..access import READ, identify
from ..credentials import Principal
from . import exposition
from .tally import Tally

__all__ = ["require_scraper", "router"]


async def require_scraper(request: Request) -> Principal:
    """A bearer API key, or whoever the API lets in."""
    state = request.app.state
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    principal: Principal | None
    if state.settings.auth_enabled and scheme.lower() == "bearer" and token.strip():
        principal = await credentials.api_key_user(state.pool, token.strip())
        request.state.principal = principal  # who asks, for the route's decision (access.Allow)
    else:
        principal = await identify(request)
    if principal is None:
        raise HTTPException(
            401,
            "send an API key as a bearer token (Authorization: Bearer <key>) or in the X-Api-Key header",
            headers={"WWW-Authenticate": 'Bearer realm="librarrarian"'},
        )
    return principal


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    tally = Tally()
    await tally.start(app.state.nc)
    app.state.tally = tally
    try:
        yield
    finally:
        await tally.stop()


router = APIRouter(dependencies=[Depends(require_scraper)], lifespan=lifespan)


@router.get(
    "/metrics",
    dependencies=READ,
    tags=["health"],
    summary="Prometheus metrics: queue depth, finished jobs, bytes saved, nodes, encode speed, scans, outbox lag",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus's text format"}},
)
async def metrics(request: Request) -> Response:
    state = request.app.state
    seen = await exposition.gather(state.nc, state.feed, state.tally, version("librarrarian-gateway"))
    return Response(exposition.render(seen), media_type=CONTENT_TYPE_LATEST)
