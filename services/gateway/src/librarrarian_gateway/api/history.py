"""Finished work under ``/api/v1``: the history (a page, one entry), the totals, and the statistics page's
aggregates. History answers over the bus; its refusals (404: no such entry) keep their status."""

from __future__ import annotations

from typing import Annotated

import msgspec
from fastapi import APIRouter, Query
from librarrarian_contracts.views import HistoryQuery

from ..access import READ
from .dependencies import BeforeId, Bus, RecordId
from .models import ChartsOut, HistoryEntryOut, HistoryPageOut, StatsOut

router = APIRouter(tags=["history"])


@router.get(
    "/history", dependencies=READ, response_model=HistoryPageOut, summary="Finished transcodes, newest first"
)
async def history(
    bus: Bus,
    search: Annotated[str | None, Query(max_length=200, description="part of the path or name")] = None,
    before_id: BeforeId = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> object:
    page = await bus.history(HistoryQuery(search=search or None, before_id=before_id, limit=limit))
    return msgspec.to_builtins(page)


@router.get(
    "/history/{entry_id}",
    dependencies=READ,
    response_model=HistoryEntryOut,
    summary="One finished file: codecs, sizes, node, encoder, time taken, CPU fallback",
    responses={404: {"description": "no such entry"}},
)
async def history_entry(entry_id: RecordId, bus: Bus) -> object:
    return msgspec.to_builtins(await bus.history_entry(entry_id))


@router.get(
    "/stats",
    dependencies=READ,
    response_model=StatsOut,
    summary="Totals: files encoded, space saved, jobs per status",
)
async def stats(bus: Bus) -> object:
    totals, counts = await bus.stats()
    return {**msgspec.to_builtins(totals), "jobs": counts}


@router.get(
    "/stats/charts",
    dependencies=READ,
    response_model=ChartsOut,
    summary="Space saved per day, files per codec before and after, throughput per node",
)
async def stats_charts(
    bus: Bus, days: Annotated[int, Query(ge=1, le=3650, description="the window, in days")] = 30
) -> object:
    return msgspec.to_builtins(await bus.charts(days))
