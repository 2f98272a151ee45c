"""Deleting jobs under ``/api/v1/jobs``: one job, or every pending job (clear the queue).

The scheduler deletes them (request/reply): a deleted job's work message leaves the stream, and an encoder
that took it already is refused the commit, so the file is never replaced.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from librarrarian_contracts import topology
from librarrarian_contracts.views import ActionResult, ClearedJobs, ClearPending, JobAction
from librarrarian_runtime.queries import QueryFailed, ask
from pydantic import BaseModel

from .access import require_api
from .schemas import ActionOut

router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_api)], tags=["jobs"])


class ClearedOut(BaseModel):
    deleted: int


def scheduler_silent(error: QueryFailed) -> HTTPException:
    return HTTPException(503, f"the scheduler is not answering: {error}")


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
    try:
        result = await ask(
            request.app.state.nc, topology.SCHEDULER_DELETE, JobAction(job_id=job_id), ActionResult
        )
    except QueryFailed as error:
        raise scheduler_silent(error) from None
    if not result.done:
        raise HTTPException(404 if result.detail.startswith("there is no job") else 409, result.detail)
    return {"job_id": job_id, "detail": result.detail}


@router.delete("/jobs", response_model=ClearedOut, summary="Clear the queue: delete every pending job")
async def clear_pending(
    request: Request,
    status: Annotated[Literal["pending"], Query(description="only pending jobs can be cleared")],
    kind: Annotated[str | None, Query(description="only jobs of this type, e.g. transcode")] = None,
) -> dict[str, int]:
    try:
        cleared = await ask(
            request.app.state.nc, topology.SCHEDULER_CLEAR, ClearPending(kind=kind), ClearedJobs
        )
    except QueryFailed as error:
        raise scheduler_silent(error) from None
    return {"deleted": cleared.deleted}
