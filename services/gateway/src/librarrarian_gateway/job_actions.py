"""Deleting and releasing jobs under ``/api/v1/jobs``: delete one job, or every waiting one (clear the
queue); release a job awaiting approval, or every one of a type.

The scheduler acts (request/reply): a deleted job's work message leaves the stream, and an encoder that took
it already is refused the commit, so the file is never replaced. A released job is queued like any other.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from librarrarian_contracts import topology
from librarrarian_contracts.views import (
    JOB_KINDS,
    ActionResult,
    ClearedJobs,
    ClearPending,
    JobAction,
    ReleasedJobs,
    ReleaseJobs,
)
from librarrarian_runtime.queries import ask
from pydantic import BaseModel

from .access import require_api
from .schemas import ActionOut

router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_api)], tags=["jobs"])


class ClearedOut(BaseModel):
    deleted: int


class ReleasedOut(BaseModel):
    released: int
    detail: str


Kind = Annotated[
    Literal[JOB_KINDS] | None,  # type: ignore[valid-type]
    Query(description="only jobs of this type: " + ", ".join(JOB_KINDS)),
]


@router.delete(
    "/jobs/{job_id}",
    response_model=ActionOut,
    summary="Delete a pending, failed or skipped job",
    description=(
        "A pending job is never encoded once deleted. A running job is refused (409: stop its node), and so "
        "is a done one, whose record keeps its output from being encoded again."
    ),
    responses={404: {"description": "no such job"}, 409: {"description": "the job is running or done"}},
)
async def delete_job(job_id: int, request: Request) -> dict[str, object]:
    result = await ask(
        request.app.state.nc, topology.SCHEDULER_DELETE, JobAction(job_id=job_id), ActionResult
    )
    return {"job_id": job_id, "detail": result.detail}


@router.delete(
    "/jobs",
    response_model=ClearedOut,
    summary="Clear the queue: delete every pending job, or every one awaiting approval",
)
async def clear_pending(
    request: Request,
    status: Annotated[
        Literal["pending", "awaiting_approval"], Query(description="which waiting jobs to delete")
    ],
    kind: Kind = None,
) -> dict[str, int]:
    cleared = await ask(
        request.app.state.nc, topology.SCHEDULER_CLEAR, ClearPending(kind=kind, status=status), ClearedJobs
    )
    return {"deleted": cleared.deleted}


@router.post(
    "/jobs/{job_id}/release",
    response_model=ActionOut,
    summary="Approve a job awaiting approval: it is queued",
    responses={404: {"description": "no such job"}, 409: {"description": "the job is not awaiting approval"}},
)
async def release_job(job_id: int, request: Request) -> dict[str, object]:
    await _release(request, ReleaseJobs(job_id=job_id))
    return {"job_id": job_id, "detail": "queued"}


@router.post(
    "/jobs/release",
    response_model=ReleasedOut,
    summary="Approve every job awaiting approval (of one type, when given): they are queued",
)
async def release_jobs(request: Request, kind: Kind = None) -> dict[str, object]:
    released = await _release(request, ReleaseJobs(kind=kind))
    return {"released": released.released, "detail": released.detail}


async def _release(request: Request, release: ReleaseJobs) -> ReleasedJobs:
    return await ask(request.app.state.nc, topology.SCHEDULER_RELEASE, release, ReleasedJobs)
