"""The dashboard (``/``): the tiles, the last backup's outcome, a card per node with its running jobs, and
the recently finished files.

The node cards and the backup line are drawn by ``dashboard.js`` alone: from what is embedded in the page at
first, then from the live feed, so one piece of code draws each.
"""

from __future__ import annotations

from importlib.metadata import version

import msgspec
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from librarrarian_contracts.views import HistoryQuery

from ..access import READ
from ..backend import NodeView
from .rendering import backend, render, unless_unanswered

router = APIRouter()


def live_nodes(views: list[NodeView]) -> dict[str, list[dict[str, object]]]:
    """The nodes in the shape of the live feed's snapshot, so the page draws both the same way."""
    return {
        "nodes": [{"key": v.key, **msgspec.to_builtins(v.status)} for v in views],
        "progress": [{"key": str(p.job_id), **msgspec.to_builtins(p)} for v in views for p in v.progress],
    }


@router.get("/", dependencies=READ, response_class=HTMLResponse)
async def dashboard(request: Request) -> HTMLResponse:
    bus = backend(request)
    totals, stats_problem = await unless_unanswered(bus.stats())
    recent, history_problem = await unless_unanswered(bus.history(HistoryQuery(limit=8)))
    stats, counts = totals if totals else (None, {})
    return render(
        request,
        "dashboard.html",
        nodes=live_nodes(await bus.nodes()),
        stats=stats,
        counts=counts,
        recent=recent.items if recent else (),
        problem=stats_problem or history_problem,
        queue_paused=await bus.queue_paused(),
        gateway_version=version("librarrarian-gateway"),
        backup=msgspec.to_builtins(await bus.backup_status()),
    )
