"""The REST API under ``/api/v1``: everything the dashboard shows and does (scans: ``scans_api``)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from librarrarian_contracts import JobKind, JobStatus
from librarrarian_contracts.views import JOB_KINDS, JOB_STATUSES, HistoryQuery, JobsQuery
from librarrarian_runtime.errors import ServiceError

from .access import require_api
from .backend import Backend
from .schemas import HistoryPageOut, JobsPageOut, NodeOut, StatsOut

router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_api)])


def backend(request: Request) -> Backend:
    return request.app.state.backend  # type: ignore[no-any-return]


Bus = Annotated[Backend, Depends(backend)]


def unavailable(error: ServiceError) -> HTTPException:
    return HTTPException(503, f"a service behind the dashboard is not answering: {error}")


@router.get("/nodes", response_model=list[NodeOut], summary="Encoder nodes and their running jobs")
async def nodes(bus: Bus) -> list[dict[str, object]]:
    views = await bus.nodes()
    return [
        {**msgspec.to_builtins(v.status), "progress": [msgspec.to_builtins(p) for p in v.progress]}
        for v in views
    ]


@router.get("/jobs", response_model=JobsPageOut, summary="Jobs, newest first")
async def jobs(
    bus: Bus,
    status: Annotated[list[str] | None, Query(description=f"any of: {', '.join(JOB_STATUSES)}")] = None,
    kind: Annotated[str | None, Query(description=f"one of: {', '.join(JOB_KINDS)}")] = None,
    before_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> object:
    unknown = set(status or ()) - set(JOB_STATUSES)
    if unknown:
        raise HTTPException(
            400, f"unknown status {', '.join(sorted(unknown))}; use {', '.join(JOB_STATUSES)}"
        )
    if kind is not None and kind not in JOB_KINDS:
        raise HTTPException(400, f"unknown kind {kind}; use {', '.join(JOB_KINDS)}")
    try:
        page = await bus.jobs(
            JobsQuery(
                statuses=tuple(map(JobStatus, status or ())),
                kind=JobKind(kind) if kind else None,
                before_id=before_id,
                limit=limit,
            )
        )
    except ServiceError as error:
        raise unavailable(error) from None
    return msgspec.to_builtins(page)


@router.get("/history", response_model=HistoryPageOut, summary="Finished transcodes, newest first")
async def history(
    bus: Bus,
    search: Annotated[str | None, Query(max_length=200, description="part of the path or name")] = None,
    before_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> object:
    try:
        page = await bus.history(HistoryQuery(search=search or None, before_id=before_id, limit=limit))
    except ServiceError as error:
        raise unavailable(error) from None
    return msgspec.to_builtins(page)


@router.get("/stats", response_model=StatsOut, summary="Totals: files encoded, space saved, jobs per status")
async def stats(bus: Bus) -> object:
    try:
        totals, counts = await bus.stats()
    except ServiceError as error:
        raise unavailable(error) from None
    return {**msgspec.to_builtins(totals), "jobs": counts}
