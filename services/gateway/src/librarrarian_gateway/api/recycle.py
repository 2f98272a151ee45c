"""The recycle folders under ``/api/v1``: the originals kept after their output took their place, the space
they hold, and one put back with one click (the cleanup service does it; its refusals keep their status:
404 when the job has no kept original, 409 when the file under its name changed since)."""

from __future__ import annotations

import msgspec
from fastapi import APIRouter

from ..access import CONTROL, READ
from .dependencies import Bus, RecordId
from .models import RecycleOut, RestoredOut

router = APIRouter(tags=["history"])


@router.get(
    "/recycle",
    dependencies=READ,
    response_model=RecycleOut,
    summary="Originals kept in the recycle folders, newest first, and the space they hold",
)
async def recycled(bus: Bus) -> object:
    return msgspec.to_builtins(await bus.recycled())


@router.post(
    "/recycle/{job_id}/restore",
    dependencies=CONTROL,
    response_model=RestoredOut,
    summary="Put a job's kept original back under its name; its output is removed",
    responses={
        404: {"description": "the job has no original in the recycle folder"},
        409: {"description": "the file under its name changed since it was transcoded: nothing done"},
    },
)
async def restore(job_id: RecordId, bus: Bus) -> object:
    return msgspec.to_builtins(await bus.restore(job_id))
