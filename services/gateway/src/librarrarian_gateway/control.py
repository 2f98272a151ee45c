"""Remote control under ``/api/v1``: start, stop, pause and resume a node; pause and resume the queue; the
transcode settings; retry a failed job.

Controls and settings are written to the ``settings`` KV bucket, where the nodes and the scheduler watch
them: a change applies at once, survives restarts of either side, and needs no node to be reachable.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Body, Depends, HTTPException, Request
from librarrarian_contracts import topology
from librarrarian_contracts.settings import (
    QUEUE_KEY,
    TRANSCODE_KEY,
    NodeControl,
    QueueControl,
    TranscodeSettings,
    node_key,
)
from librarrarian_contracts.views import ActionResult, JobAction
from librarrarian_runtime.queries import QueryFailed, ask
from nats.aio.client import Client
from nats.js.kv import KeyValue

from .access import require_api
from .backend import Backend
from .schemas import ActionOut, NodeControlOut, QueueOut

router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_api)], tags=["control"])

NODE_ACTIONS = {
    "start": NodeControl(state="running"),
    "stop": NodeControl(state="stopped"),
    "pause": NodeControl(state="paused"),
    "resume": NodeControl(state="running"),
}


async def settings_kv(request: Request) -> KeyValue:
    nc: Client = request.app.state.nc
    return await nc.jetstream().key_value(topology.SETTINGS.name)


Settings = Annotated[KeyValue, Depends(settings_kv)]


def backend(request: Request) -> Backend:
    return request.app.state.backend  # type: ignore[no-any-return]


Bus = Annotated[Backend, Depends(backend)]


NODE_PATH_ACTIONS = {**NODE_ACTIONS, "stop-now": NodeControl(state="stopped", now=True)}


@router.post(
    "/nodes/{node}/{action}",
    response_model=NodeControlOut,
    summary="Start, stop, pause or resume a node",
    description=(
        "`stop` lets running jobs finish unless `now=true` (or `stop-now`), which stops them and hands them "
        "to other nodes. "
        "`pause` suspends the node's running encodes (they keep their place); `resume` continues them. "
        "The state holds across restarts of the node."
    ),
)
async def control_node(node: str, action: str, kv: Settings, now: bool = False) -> dict[str, object]:
    if action not in NODE_PATH_ACTIONS:
        raise HTTPException(404, f"unknown action {action!r}: use {', '.join(NODE_PATH_ACTIONS)}")
    wanted = NODE_PATH_ACTIONS[action]
    if now and action == "stop":
        wanted = msgspec.structs.replace(wanted, now=True)
    await kv.put(node_key(node), msgspec.json.encode(wanted))
    return {"node": node, "state": wanted.state, "now": wanted.now}


@router.get("/queue", response_model=QueueOut, summary="Whether the queue is paused")
async def queue_state(bus: Bus) -> dict[str, object]:
    return {"paused": await bus.queue_paused()}


@router.post("/queue/{action}", response_model=QueueOut, summary="Pause or resume the whole queue")
async def control_queue(action: str, kv: Settings) -> dict[str, object]:
    if action not in {"pause", "resume"}:
        raise HTTPException(404, f"unknown action {action!r}: use pause or resume")
    await kv.put(QUEUE_KEY, msgspec.json.encode(QueueControl(paused=action == "pause")))
    return {"paused": action == "pause"}


@router.get("/settings/transcode", summary="What to encode, how, and when to skip")
async def get_transcode(bus: Bus) -> dict[str, Any]:
    value = await bus.setting(TRANSCODE_KEY, TranscodeSettings, TranscodeSettings())
    return msgspec.to_builtins(value)  # type: ignore[no-any-return]


@router.patch(
    "/settings/transcode",
    summary="Change transcode settings",
    description=(
        "Send only the fields to change (the shape of GET). Invalid values are refused with 422 and "
        "nothing changes. Encoders and the scheduler apply the result without restarting."
    ),
)
async def patch_transcode(
    kv: Settings, bus: Bus, changes: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    current = await bus.setting(TRANSCODE_KEY, TranscodeSettings, TranscodeSettings())
    merged = {**msgspec.to_builtins(current), **changes}
    if isinstance(changes.get("quality"), dict):
        merged["quality"] = {**msgspec.to_builtins(current.quality), **changes["quality"]}
    try:
        value = msgspec.convert(merged, TranscodeSettings)
    except msgspec.ValidationError as error:
        raise HTTPException(422, f"invalid settings: {error}") from None
    unknown = set(changes) - set(TranscodeSettings.__struct_fields__)
    if unknown:
        raise HTTPException(422, f"unknown settings: {', '.join(sorted(unknown))}")
    await kv.put(TRANSCODE_KEY, msgspec.json.encode(value))
    return msgspec.to_builtins(value)  # type: ignore[no-any-return]


@router.post("/jobs/{job_id}/retry", response_model=ActionOut, summary="Queue a failed job again")
async def retry_job(job_id: int, request: Request) -> dict[str, object]:
    try:
        result = await ask(
            request.app.state.nc, topology.SCHEDULER_RETRY, JobAction(job_id=job_id), ActionResult
        )
    except QueryFailed as error:
        raise HTTPException(503, f"the scheduler is not answering: {error}") from None
    if not result.done:
        raise HTTPException(409, result.detail)
    return {"job_id": job_id, "detail": result.detail}
