"""Review before replace under ``/api/v1/jobs``: the outputs of reviewed library folders wait as
``ready_to_replace`` (list them with ``GET /jobs?status=ready_to_replace``); a user looks at the two preview
frames, then accepts (the output replaces the original, through the same checked, atomic replace as any
transcode) or rejects (the output is deleted, the original untouched) one, several or all of them.

The scheduler queues each decision as the job's next attempt, carried out by an encoder that reaches the
file; a decision it cannot carry out safely (the original or the waiting output changed) brings the job
back to ``ready_to_replace`` with the reason, with nothing touched.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path
from fastapi.responses import Response
from librarrarian_contracts import topology
from librarrarian_contracts.views import MAX_REVIEWED, Preview, PreviewQuery, ReviewedJobs, ReviewJobs
from librarrarian_runtime.queries import ask
from pydantic import BaseModel, Field

from ..access import CONTROL, READ
from .dependencies import Bus, RecordId

router = APIRouter(tags=["jobs"])

NOT_READY: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such job"},
    409: {"description": "the job is not ready to replace (nothing is done, for any job named)"},
}


class ReviewIn(BaseModel):
    job_ids: list[Annotated[int, Field(ge=1, le=2**63 - 1)]] = Field(
        default_factory=list,
        max_length=MAX_REVIEWED,
        description="the jobs whose outputs to decide on; empty: every job ready to replace",
    )


class ReviewedOut(BaseModel):
    job_ids: list[int] = Field(description="the jobs whose decision is queued")
    detail: str


async def _decide(bus: Bus, accept: bool, job_ids: list[int]) -> dict[str, object]:
    request = ReviewJobs(accept=accept, job_ids=tuple(job_ids))
    reviewed = await ask(bus.nc, topology.SCHEDULER_REVIEW, request, ReviewedJobs)
    return {"job_ids": list(reviewed.job_ids), "detail": reviewed.detail}


@router.post(
    "/jobs/{job_id}/accept",
    dependencies=CONTROL,
    response_model=ReviewedOut,
    summary="Accept a waiting output: it replaces the original",
    description=(
        "Only while the original is still the file encoded and the output the file kept; otherwise the job "
        "comes back ready to replace with the reason, and nothing is touched."
    ),
    responses=NOT_READY,
)
async def accept(job_id: RecordId, bus: Bus) -> dict[str, object]:
    return await _decide(bus, True, [job_id])


@router.post(
    "/jobs/{job_id}/reject",
    dependencies=CONTROL,
    response_model=ReviewedOut,
    summary="Reject a waiting output: it is deleted, the original kept",
    responses=NOT_READY,
)
async def reject(job_id: RecordId, bus: Bus) -> dict[str, object]:
    return await _decide(bus, False, [job_id])


@router.post(
    "/jobs/accept",
    dependencies=CONTROL,
    response_model=ReviewedOut,
    summary="Accept several waiting outputs, or all of them",
    responses=NOT_READY,
)
async def accept_many(body: ReviewIn, bus: Bus) -> dict[str, object]:
    return await _decide(bus, True, body.job_ids)


@router.post(
    "/jobs/reject",
    dependencies=CONTROL,
    response_model=ReviewedOut,
    summary="Reject several waiting outputs, or all of them",
    responses=NOT_READY,
)
async def reject_many(body: ReviewIn, bus: Bus) -> dict[str, object]:
    return await _decide(bus, False, body.job_ids)


@router.get(
    "/jobs/{job_id}/preview/{of}",
    dependencies=READ,
    response_class=Response,
    summary="A preview frame of a waiting output, or of its original at the same moment (JPEG)",
    responses={
        200: {"content": {"image/jpeg": {}}, "description": "a small JPEG"},
        404: {"description": "the job has no preview (not reviewed, or decided on already)"},
    },
)
async def preview(
    job_id: RecordId, of: Annotated[Literal["original", "output"], Path(description="which file")], bus: Bus
) -> Response:
    found = await ask(bus.nc, topology.SCHEDULER_PREVIEW, PreviewQuery(job_id=job_id, of=of), Preview)
    # Private: a frame of someone's film; it does not change while the job waits.
    return Response(found.jpeg, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=300"})
