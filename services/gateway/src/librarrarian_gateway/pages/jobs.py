"""The Queue (``/queue``: jobs by status and type, newest first, a page at a time) and Failed (``/failed``:
each failed job with its reason and log) pages.

The server renders each page's shell with the filters and the jobs the scheduler listed, as JSON; the rows
themselves are drawn by ``queue.js`` and ``failed.js`` alone, from that list, from the API after a
reconnect, and from the live ``job-state`` events.
"""

from __future__ import annotations

import msgspec
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from librarrarian_contracts import JobKind, JobStatus
from librarrarian_contracts.views import JOB_KINDS, JOB_STATUSES, JobsQuery

from ..access import READ
from ..params import BeforeId
from .rendering import backend, render, unless_unanswered

router = APIRouter()
QUEUE_PAGE = 100
# How the type filter names a kind where its own name says less.
KIND_NAMES = {JobKind.QUALITY_MISMATCH: "quality"}
FAILED_PAGE = 50


@router.get("/queue", dependencies=READ, response_class=HTMLResponse)
async def queue(
    request: Request, status: str | None = None, kind: str | None = None, before_id: BeforeId = None
) -> HTMLResponse:
    statuses = (JobStatus(status),) if status in JOB_STATUSES else ()
    chosen = JobKind(kind) if kind in JOB_KINDS else None
    query = JobsQuery(statuses=statuses, kind=chosen, before_id=before_id, limit=QUEUE_PAGE)
    page, problem = await unless_unanswered(backend(request).jobs(query))
    return render(
        request,
        "queue.html",
        jobs=msgspec.to_builtins(page) if page else None,
        counts=page.counts if page else {},
        status=status if statuses else None,
        statuses=JOB_STATUSES,
        kind=chosen,
        kinds=JOB_KINDS,
        kind_names=KIND_NAMES,
        before_id=before_id,
        limit=QUEUE_PAGE,
        problem=problem,
    )


@router.get("/failed", dependencies=READ, response_class=HTMLResponse)
async def failed(request: Request, before_id: BeforeId = None) -> HTMLResponse:
    query = JobsQuery(statuses=(JobStatus.FAILED,), before_id=before_id, limit=FAILED_PAGE)
    page, problem = await unless_unanswered(backend(request).jobs(query))
    return render(
        request,
        "failed.html",
        jobs=msgspec.to_builtins(page) if page else None,
        before_id=before_id,
        limit=FAILED_PAGE,
        problem=problem,
    )
