"""``POST /api/v1/cleanup/scan``: ask the cleanup service to look for stale files.

A command on the ``CLEANUP`` stream, so a request made while no cleanup service runs is still carried out.
What it finds shows in the queue as cleanup jobs awaiting approval; its summary arrives on the live feed.
"""

from __future__ import annotations

from fastapi import APIRouter
from librarrarian_contracts import FindStaleFiles, publish
from pydantic import BaseModel

from ..access import CONTROL
from .dependencies import Bus

router = APIRouter(tags=["cleanup"])


class CleanupScanAccepted(BaseModel):
    id: str
    detail: str


@router.post(
    "/cleanup/scan",
    dependencies=CONTROL,
    status_code=202,
    response_model=CleanupScanAccepted,
    summary="Look for stale temporary and lock files",
    description=(
        "Every `.tmp_*` and `*.lock` file under the media paths untouched for longer than the cleanup "
        "service's stale age (`GET /api/v1/settings/cleanup`) becomes a cleanup job awaiting approval; nothing is deleted until it "
        "is released (`POST /api/v1/jobs/{id}/release`). The scan's summary comes as a `cleanup` event on "
        "`/api/v1/events`."
    ),
)
async def scan_for_stale_files(bus: Bus) -> dict[str, str]:
    command = FindStaleFiles()
    await publish(bus.js, command)
    return {"id": command.event_id, "detail": "looking for stale files"}
