"""Remote control under ``/api/v1``: start, stop, pause and resume a node; pause and resume the queue; the
transcode settings, the encoders' path mappings and the dashboard's theme; retry a failed job.

Controls and settings are written to the ``settings`` KV bucket, where the nodes and the scheduler watch
them: a change applies at once, survives restarts of either side, and needs no node to be reachable.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

import msgspec
from fastapi import APIRouter, Body, Depends, HTTPException, Request
from librarrarian_contracts import topology
from librarrarian_contracts.settings import (
    MAX_PATH_MAPPINGS,
    PATHS_KEY,
    QUEUE_KEY,
    TRANSCODE_KEY,
    UI_KEY,
    NodeControl,
    PathSettings,
    QueueControl,
    Theme,
    TranscodeSettings,
    UiSettings,
    node_key,
)
from librarrarian_contracts.views import ActionResult, JobAction
from librarrarian_runtime.queries import ask
from nats.aio.client import Client
from nats.js.kv import KeyValue
from pydantic import BaseModel, ConfigDict, Field

from .access import require_api
from .backend import Backend
from .schemas import ActionOut, NodeControlOut, QueueOut

S = TypeVar("S", bound=msgspec.Struct)
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


class NodeMappingIn(BaseModel):
    """The documented shape; the rules themselves are the contract's (``PathSettings``), checked on PUT."""

    model_config = ConfigDict(extra="forbid")
    node: str | None = Field(
        None, description="the node's name (its NODE_NAME, as /api/v1/nodes lists it); null: every node"
    )
    server: str = Field(
        description="a folder as the server sees it, as in the paths the scanner reports: /…, D:\\… or "
        "\\\\share\\…"
    )
    local: str = Field(description="the same folder on the node: absolute, without '..'")


class NodeMappingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mappings: list[NodeMappingIn] = Field(
        default_factory=list, description=f"at most {MAX_PATH_MAPPINGS}; a server folder once per node"
    )


class NodeMappingOut(BaseModel):
    node: str | None = Field(description="null: every node")
    server: str
    local: str


class NodeMappingsOut(BaseModel):
    mappings: list[NodeMappingOut]


class UiIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    theme: Theme | None = Field(None, description="system follows each browser's light or dark mode")


class UiOut(BaseModel):
    theme: Theme


@router.get(
    "/settings/paths",
    response_model=NodeMappingsOut,
    summary="Path mappings for encoder nodes (beside PATH_MAPPINGS)",
)
async def get_paths(bus: Bus) -> dict[str, Any]:
    return msgspec.to_builtins(await _stored(bus, PATHS_KEY, PathSettings()))  # type: ignore[no-any-return]


@router.put(
    "/settings/paths",
    response_model=NodeMappingsOut,
    summary="Set the path mappings for encoder nodes",
    description=(
        "Replaces the whole list. Each node applies the mappings for its name and those for every node "
        "together with its own PATH_MAPPINGS, from its next job on, without restarting. On the same server "
        "folder PATH_MAPPINGS wins (it is what that machine really mounts), then a mapping for the node, "
        "then one for every node. A mapped path must still lie inside the node's MEDIA_PATHS. Invalid "
        "input is refused with 422 and nothing changes."
    ),
)
async def put_paths(body: NodeMappingsIn, kv: Settings) -> dict[str, Any]:
    value = _checked(body.model_dump(), PathSettings)
    await kv.put(PATHS_KEY, msgspec.json.encode(value))
    return msgspec.to_builtins(value)  # type: ignore[no-any-return]


@router.get("/settings/ui", response_model=UiOut, summary="How the dashboard looks (its theme)")
async def get_ui(bus: Bus) -> dict[str, Any]:
    return msgspec.to_builtins(await _stored(bus, UI_KEY, UiSettings()))  # type: ignore[no-any-return]


@router.patch(
    "/settings/ui",
    response_model=UiOut,
    summary="Change how the dashboard looks",
    description=(
        "Send only the fields to change. The theme is the same for every browser: system, light or dark. "
        "Pages render in it from their next load; the Options page switches at once. Invalid values are "
        "refused with 422 and nothing changes."
    ),
)
async def patch_ui(body: UiIn, kv: Settings, bus: Bus) -> dict[str, Any]:
    current = await _stored(bus, UI_KEY, UiSettings())
    value = _checked({**msgspec.to_builtins(current), **body.model_dump(exclude_unset=True)}, UiSettings)
    await kv.put(UI_KEY, msgspec.json.encode(value))
    return msgspec.to_builtins(value)  # type: ignore[no-any-return]


async def _stored(bus: Backend, key: str, default: S) -> S:
    """The stored value, or ``default`` when nothing is set or what is set does not decode (written by hand):
    the services ignore such a value too, and a PUT or PATCH replaces it."""
    try:
        return await bus.setting(key, type(default), default)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return default


def _checked(given: dict[str, Any], type_: type[S]) -> S:
    """``given`` as the contract's type, or a 422 with the reason (the same check every reader makes)."""
    try:
        return msgspec.convert(given, type_)
    except msgspec.ValidationError as error:
        raise HTTPException(422, f"invalid settings: {error}") from None


@router.post("/jobs/{job_id}/retry", response_model=ActionOut, summary="Queue a failed job again")
async def retry_job(job_id: int, request: Request) -> dict[str, object]:
    result = await ask(request.app.state.nc, topology.SCHEDULER_RETRY, JobAction(job_id=job_id), ActionResult)
    return {"job_id": job_id, "detail": result.detail}
