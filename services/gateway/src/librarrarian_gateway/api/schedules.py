"""When each encoder node takes work, under ``/api/v1/nodes/{node}/schedule``: its windows (``NodeSchedule``),
kept in the ``settings`` bucket apart from its start/stop control. The node watches the key and applies a
change at once; where it stands in its windows (and the next one) is in its entry of ``GET /nodes``."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Body, HTTPException
from librarrarian_contracts.settings import NodeSchedule, schedule_key

from ..access import CONTROL, READ
from .dependencies import Bus, SettingsBucket
from .struct_models import model_of

router = APIRouter(tags=["control"])

ScheduleOut = model_of(
    NodeSchedule,
    "NodeScheduleOut",
    descriptions={"windows": "when the node takes work; none: at any time"},
)
EXAMPLE = {"windows": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "01:00", "end": "07:00"}]}


@router.get(
    "/nodes/{node}/schedule", dependencies=READ, response_model=ScheduleOut, summary="When a node takes work"
)
async def get_schedule(node: str, bus: Bus) -> dict[str, Any]:
    return msgspec.to_builtins(await bus.setting(schedule_key(node), NodeSchedule, NodeSchedule()))  # type: ignore[no-any-return]


@router.put(
    "/nodes/{node}/schedule",
    dependencies=CONTROL,
    response_model=ScheduleOut,
    summary="Set when a node takes work",
    description=(
        "`windows`: each with `days` (mon…sun; default every day), `start` and `end` as `HH:MM` in the "
        "node's time zone (its `TZ`); an `end` at or before `start` is on the next day (22:00-06:00 runs "
        "overnight, 00:00-00:00 is the whole day). No window: the node takes work at any time. Outside its "
        "windows a node finishes the jobs it runs and takes no more. A node that is not connected applies "
        "its schedule when it connects. Invalid windows are refused with 422 and nothing changes."
    ),
)
async def put_schedule(
    node: str, kv: SettingsBucket, schedule: Annotated[dict[str, Any], Body(examples=[EXAMPLE])]
) -> dict[str, Any]:
    unknown = set(schedule) - {"windows"}
    if unknown:
        raise HTTPException(422, f"unknown fields: {', '.join(sorted(unknown))}")
    try:
        value = msgspec.convert({"windows": schedule.get("windows", [])}, NodeSchedule)
    except msgspec.ValidationError as error:
        raise HTTPException(422, f"invalid schedule: {error}") from None
    await kv.put(schedule_key(node), msgspec.json.encode(value))
    return msgspec.to_builtins(value)  # type: ignore[no-any-return]
