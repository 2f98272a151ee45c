"""The pages that report on finished work: the history (search, one entry's details) and the statistics
charts, drawn as SVG on the server."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from librarrarian_contracts.views import Charts, HistoryQuery

from .. import charts, formatting
from ..access import READ
from ..params import BeforeId, RecordId
from .rendering import backend, render, unless_unanswered

router = APIRouter()
PERIODS = (7, 30, 90, 365)


@router.get("/history", dependencies=READ, response_class=HTMLResponse)
async def history(request: Request, search: str | None = None, before_id: BeforeId = None) -> HTMLResponse:
    search = (search or "").strip()[:200] or None
    query = HistoryQuery(search=search, before_id=before_id, limit=100)
    page, problem = await unless_unanswered(backend(request).history(query))
    # The originals still kept: their entries get a restore button. Without an answer from the cleanup
    # service the page shows the history anyway, without the buttons.
    recycled, _ = await unless_unanswered(backend(request).recycled())
    kept = {o.job_id: o for o in recycled.originals} if recycled is not None else {}
    return render(
        request, "history.html", page=page, search=search or "", problem=problem, recycled=recycled, kept=kept
    )


@router.get("/history/{entry_id}", dependencies=READ, response_class=HTMLResponse)
async def history_entry(request: Request, entry_id: RecordId) -> HTMLResponse:
    """A 404 when history has no such entry (the error handler answers it)."""
    found, problem = await unless_unanswered(backend(request).history_entry(entry_id))
    return render(request, "history_entry.html", entry=found, problem=problem)


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
        "vmaf": charts.means(
            [
                (str(q.day), q.vmaf_mean, q.measured)
                for q in data.quality_per_day
                if q.measured and q.vmaf_mean is not None
            ],
            lambda v: f"VMAF {v:.1f}",
            "Measured VMAF, mean per day",
            ceiling=100.0,
            empty="No VMAF measured in this period (Options: measure VMAF after each encode, or a target VMAF).",
        ),
        "vs_fixed": charts.line(
            [(str(q.day), float(q.bytes_saved_vs_fixed)) for q in data.quality_per_day if q.compared],
            lambda b: formatting.size(int(b)),
            "Space saved by target VMAF against fixed quality",
            empty="Nothing encoded by target VMAF in this period.",
        ),
    }


def _files(count: float) -> str:
    return f"{count:.0f} file" + ("" if count == 1 else "s")


@router.get("/statistics", dependencies=READ, response_class=HTMLResponse)
async def statistics(request: Request, days: Annotated[int, Query(ge=1, le=3650)] = 30) -> HTMLResponse:
    data, problem = await unless_unanswered(backend(request).charts(days))
    return render(
        request,
        "statistics.html",
        data=data,
        drawn=drawn(data) if data else None,
        days=days,
        periods=PERIODS,
        problem=problem,
    )
