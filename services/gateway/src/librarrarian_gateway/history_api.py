"""History's details and the statistics page's aggregates: the bus queries, and their routes under
``/api/v1`` (``/history/{id}`` and ``/stats/charts``)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from librarrarian_contracts import topology
from librarrarian_contracts.views import Charts, ChartsQuery, HistoryEntry, HistoryLookup
from librarrarian_runtime.errors import NotFound, ServiceError
from librarrarian_runtime.queries import ask
from nats.aio.client import Client
from pydantic import BaseModel

from .access import require_api
from .schemas import HistoryEntryOut

router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_api)], tags=["history"])


async def entry(nc: Client, entry_id: int) -> HistoryEntry | None:
    """One history entry, or None when history has none by that id."""
    try:
        return await ask(nc, topology.HISTORY_ENTRY, HistoryLookup(id=entry_id), HistoryEntry)
    except NotFound:
        return None


async def charts(nc: Client, days: int) -> Charts:
    return await ask(nc, topology.HISTORY_CHARTS, ChartsQuery(days=days), Charts)


class DaySavedOut(BaseModel):
    day: str
    files: int
    bytes_saved: int


class CodecCountOut(BaseModel):
    codec: str
    files: int


class NodeThroughputOut(BaseModel):
    node: str
    files: int
    bytes_before: int
    media_seconds: float
    busy_seconds: float


class ChartsOut(BaseModel):
    days: int
    saved_per_day: list[DaySavedOut]
    codecs_before: list[CodecCountOut]
    codecs_after: list[CodecCountOut]
    nodes: list[NodeThroughputOut]


def unavailable(error: ServiceError) -> HTTPException:
    return HTTPException(503, f"history is not answering: {error}")


@router.get(
    "/history/{entry_id}",
    response_model=HistoryEntryOut,
    summary="One finished file: codecs, sizes, node, encoder, time taken, CPU fallback",
    responses={404: {"description": "no such entry"}},
)
async def history_entry(entry_id: int, request: Request) -> object:
    try:
        found = await entry(request.app.state.nc, entry_id)
    except ServiceError as error:
        raise unavailable(error) from None
    if found is None:
        raise HTTPException(404, f"there is no history entry {entry_id}")
    return msgspec.to_builtins(found)


@router.get(
    "/stats/charts",
    response_model=ChartsOut,
    summary="Space saved per day, files per codec before and after, throughput per node",
)
async def stats_charts(
    request: Request, days: Annotated[int, Query(ge=1, le=3650, description="the window, in days")] = 30
) -> object:
    try:
        return msgspec.to_builtins(await charts(request.app.state.nc, days))
    except ServiceError as error:
        raise unavailable(error) from None
