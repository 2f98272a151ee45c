"""Jobs under ``/api/v1/jobs``: list them (newest first) or read one; delete one, or every waiting one (clear
the queue); retry a failed one; release a job awaiting approval, or every one of a type.

The scheduler keeps the record and acts (request/reply): a deleted job's work message leaves the stream,
and an encoder that took it already is refused the commit, so the file is never replaced. A released job is
queued like any other. Its refusals arrive typed (404 no such job, 409 not in a state for it) and the app's
one error handler answers with their status.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from fastapi import APIRouter, HTTPException, Query
from librarrarian_contracts import JobKind, JobStatus, topology
from librarrarian_contracts.views import (
    JOB_KINDS,
    JOB_STATUSES,
    ActionResult,
    ClearedJobs,
    ClearPending,
    JobAction,
    JobsQuery,
    MoveJob,
    ReleaseJobs,
)
from librarrarian_runtime.queries import ask
from pydantic import BaseModel, Field

from ..access import ADMIN, CONTROL, READ
from .dependencies import BeforeId, Bus, RecordId
from .models import ActionOut, JobOut, JobsPageOut

router = APIRouter(tags=["jobs"])

Kind = Annotated[
    Literal[JOB_KINDS] | None,  # type: ignore[valid-type]
    Query(description="only jobs of this type: " + ", ".join(JOB_KINDS)),
]


class ClearedOut(BaseModel):
    deleted: int


class ReleasedOut(BaseModel):
    released: int
    detail: str


@router.get("/jobs", dependencies=READ, response_model=JobsPageOut, summary="Jobs, newest first")
async def jobs(
    bus: Bus,
    status: Annotated[list[str] | None, Query(description=f"any of: {', '.join(JOB_STATUSES)}")] = None,
    kind: Annotated[str | None, Query(description=f"one of: {', '.join(JOB_KINDS)}")] = None,
    before_id: BeforeId = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> object:
    unknown = set(status or ()) - set(JOB_STATUSES)
    if unknown:
        raise HTTPException(
            400, f"unknown status {', '.join(sorted(unknown))}; use {', '.join(JOB_STATUSES)}"
        )
    if kind is not None and kind not in JOB_KINDS:
        raise HTTPException(400, f"unknown kind {kind}; use {', '.join(JOB_KINDS)}")
    query = JobsQuery(
        statuses=tuple(map(JobStatus, status or ())),
        kind=JobKind(kind) if kind else None,
        before_id=before_id,
        limit=limit,
    )
    return msgspec.to_builtins(await bus.jobs(query))


@router.get(
    "/jobs/{job_id}",
    dependencies=READ,
    response_model=JobOut,
    summary="One job as the scheduler records it, with its error log",
    responses={404: {"description": "no such job"}},
)
async def job(job_id: RecordId, bus: Bus) -> object:
    return msgspec.to_builtins(await bus.job(job_id))


@router.delete(
    "/jobs/{job_id}",
    dependencies=CONTROL,
    response_model=ActionOut,
    summary="Delete a pending, failed or skipped job",
    description=(
        "A pending job is never encoded once deleted. A running job is refused (409: stop its node), and so "
        "is a done one, whose record keeps its output from being encoded again."
    ),
    responses={404: {"description": "no such job"}, 409: {"description": "the job is running or done"}},
)
async def delete_job(job_id: RecordId, bus: Bus) -> dict[str, object]:
    result = await ask(bus.nc, topology.SCHEDULER_DELETE, JobAction(job_id=job_id), ActionResult)
    return {"job_id": job_id, "detail": result.detail}


@router.delete(
    "/jobs",
    dependencies=CONTROL,
    response_model=ClearedOut,
    summary="Clear the queue: delete every pending job, or every one awaiting approval",
)
async def clear_pending(
    bus: Bus,
    status: Annotated[
        Literal["pending", "awaiting_approval"], Query(description="which waiting jobs to delete")
    ],
    kind: Kind = None,
) -> dict[str, int]:
    clear = ClearPending(kind=kind, status=status)
    return {"deleted": (await ask(bus.nc, topology.SCHEDULER_CLEAR, clear, ClearedJobs)).deleted}


@router.post(
    "/jobs/{job_id}/retry",
    dependencies=CONTROL,
    response_model=ActionOut,
    summary="Queue a failed job again",
    responses={404: {"description": "no such job"}, 409: {"description": "the job has not failed"}},
)
async def retry_job(job_id: RecordId, bus: Bus) -> dict[str, object]:
    result = await ask(bus.nc, topology.SCHEDULER_RETRY, JobAction(job_id=job_id), ActionResult)
    return {"job_id": job_id, "detail": result.detail}


class MoveIn(BaseModel):
    to: Literal["top", "bottom"] = Field(description="top: it goes next; bottom: after every other")


@router.post(
    "/jobs/{job_id}/move",
    dependencies=CONTROL,
    response_model=ActionOut,
    summary="Move a waiting transcode to the top or the bottom of the queue",
    description=(
        "The scheduler releases waiting transcodes to the encoders a few at a time per hardware class "
        "(`window` of `/settings/queue-order`), in the queue's order: a job moved to the top goes next. One "
        "already released keeps its place among those few (the answer says so)."
    ),
    responses={404: {"description": "no such job"}, 409: {"description": "not a waiting transcode"}},
)
async def move_job(job_id: RecordId, body: MoveIn, bus: Bus) -> dict[str, object]:
    result = await ask(bus.nc, topology.SCHEDULER_MOVE, MoveJob(job_id=job_id, to=body.to), ActionResult)
    return {"job_id": job_id, "detail": result.detail}


@router.post(
    "/jobs/{job_id}/release",
    dependencies=ADMIN,
    response_model=ActionOut,
    summary="Approve a job awaiting approval: it is queued",
    responses={404: {"description": "no such job"}, 409: {"description": "the job is not awaiting approval"}},
)
async def release_job(job_id: RecordId, bus: Bus) -> dict[str, object]:
    await bus.release(ReleaseJobs(job_id=job_id))
    return {"job_id": job_id, "detail": "queued"}


@router.post(
    "/jobs/release",
    dependencies=ADMIN,
    response_model=ReleasedOut,
    summary="Approve every job awaiting approval (of one type, when given): they are queued",
)
async def release_jobs(bus: Bus, kind: Kind = None) -> dict[str, object]:
    released = await bus.release(ReleaseJobs(kind=kind))
    return {"released": released.released, "detail": released.detail}
