"""The pages that report on finished work: failed jobs with their logs, one history entry's details, and
the statistics charts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from librarrarian_contracts import JobStatus
from librarrarian_contracts.views import Charts, JobsPage, JobsQuery
from librarrarian_runtime.errors import ServiceError

from . import charts, formatting, history_api
from .pages import User, backend, render

router = APIRouter(include_in_schema=False)
PERIODS = (7, 30, 90, 365)


@router.get("/failed", response_class=HTMLResponse)
async def failed(request: Request, user: User, before_id: int | None = None) -> HTMLResponse:
    page: JobsPage | None
    try:
        page = await backend(request).jobs(
            JobsQuery(statuses=(JobStatus.FAILED,), before_id=before_id, limit=50)
        )
        problem = None
    except ServiceError as error:
        page, problem = None, str(error)
    return render(request, "failed.html", user, page=page, problem=problem)


@router.get("/history/{entry_id}", response_class=HTMLResponse)
async def history_entry(request: Request, user: User, entry_id: int) -> HTMLResponse:
    try:
        found = await history_api.entry(request.app.state.nc, entry_id)
        problem = None
    except ServiceError as error:
        found, problem = None, str(error)
    if found is None and problem is None:
        raise HTTPException(404, f"there is no history entry {entry_id}")
    return render(request, "history_entry.html", user, entry=found, problem=problem)


def drawn(data: Charts) -> dict[str, object]:
    speed = [
        (n.node, n.media_seconds / n.busy_seconds)
        for n in data.nodes
        if n.busy_seconds > 0 and n.media_seconds
    ]
    return {
        "saved": charts.line(
            [(str(d.day), float(d.bytes_saved)) for d in data.saved_per_day],
            lambda b: formatting.size(int(b)),
            "Space saved",
        ),
        "before": charts.bars(
            [(c.codec, float(c.files)) for c in data.codecs_before], _files, "Files per codec before"
        ),
        "after": charts.bars(
            [(c.codec, float(c.files)) for c in data.codecs_after], _files, "Files per codec after"
        ),
        "files_per_node": charts.bars(
            [(n.node, float(n.files)) for n in data.nodes], _files, "Files per node"
        ),
        "speed_per_node": charts.bars(speed, lambda x: f"{x:.2f}\u00d7 real time", "Encoding speed per node"),
    }


def _files(count: float) -> str:
    return f"{count:.0f} file" + ("" if count == 1 else "s")


@router.get("/statistics", response_class=HTMLResponse)
async def statistics(
    request: Request, user: User, days: Annotated[int, Query(ge=1, le=3650)] = 30
) -> HTMLResponse:
    try:
        data: Charts | None = await history_api.charts(request.app.state.nc, days)
        problem = None
    except ServiceError as error:
        data, problem = None, str(error)
    return render(
        request,
        "statistics.html",
        user,
        data=data,
        drawn=drawn(data) if data else None,
        days=days,
        periods=PERIODS,
        problem=problem,
    )
