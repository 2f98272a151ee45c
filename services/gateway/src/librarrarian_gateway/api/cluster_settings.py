"""The cluster's settings under ``/api/v1/settings``: what to transcode and how, the encoders' path mappings
and the dashboard's theme.

They live in the ``settings`` KV bucket, which the services watch: a change applies from their next job or
scan, without a restart. Every value is checked against the contract's type before it is stored (422 and
nothing changes otherwise), the same check each reader makes.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

import msgspec
from fastapi import APIRouter, Body, HTTPException
from librarrarian_contracts.settings import (
    MAX_PATH_MAPPINGS,
    PATHS_KEY,
    TRANSCODE_KEY,
    UI_KEY,
    PathSettings,
    Theme,
    TranscodeSettings,
    UiSettings,
)
from pydantic import BaseModel, ConfigDict, Field

from ..access import ADMIN, READ
from ..backend import Backend
from .dependencies import Bus, SettingsBucket
from .struct_models import model_of

S = TypeVar("S", bound=msgspec.Struct)
router = APIRouter(tags=["control"])


@router.get("/settings/transcode", dependencies=READ, summary="What to encode, how, and when to skip")
async def get_transcode(bus: Bus) -> dict[str, Any]:
    value = await bus.setting(TRANSCODE_KEY, TranscodeSettings, TranscodeSettings())
    return msgspec.to_builtins(value)  # type: ignore[no-any-return]


@router.patch(
    "/settings/transcode",
    dependencies=ADMIN,
    summary="Change transcode settings",
    description=(
        "Send only the fields to change (the shape of GET; `quality` and `target_levels` per encoder family). "
        "`quality_mode` fixed uses `quality`'s level for the encoder and resolution; target searches each "
        "file's level on short samples for the coarsest one reaching `target_vmaf` (50-99.5), within the "
        "family's `target_levels` (best, worst), and checks the result; HDR (PQ) sources stay on fixed quality. "
        "Invalid values are refused with 422 and nothing changes. Encoders and the scheduler apply the result "
        "without restarting."
    ),
)
async def patch_transcode(
    kv: SettingsBucket, bus: Bus, changes: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    current = await bus.setting(TRANSCODE_KEY, TranscodeSettings, TranscodeSettings())
    merged = {**msgspec.to_builtins(current), **changes}
    # Per encoder family: a change to one family's levels or level range keeps the others.
    for nested in ("quality", "target_levels"):
        if isinstance(changes.get(nested), dict):
            merged[nested] = {**msgspec.to_builtins(getattr(current, nested)), **changes[nested]}
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


class UiIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    theme: Theme | None = Field(None, description="system follows each browser's light or dark mode")


NodeMappingsOut = model_of(PathSettings, "NodeMappingsOut")
UiOut = model_of(UiSettings, "UiOut")


@router.get(
    "/settings/paths",
    dependencies=READ,
    response_model=NodeMappingsOut,
    summary="Path mappings for encoder nodes (beside PATH_MAPPINGS)",
)
async def get_paths(bus: Bus) -> dict[str, Any]:
    return msgspec.to_builtins(await _stored(bus, PATHS_KEY, PathSettings()))  # type: ignore[no-any-return]


@router.put(
    "/settings/paths",
    dependencies=ADMIN,
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
async def put_paths(body: NodeMappingsIn, kv: SettingsBucket) -> dict[str, Any]:
    value = _checked(body.model_dump(), PathSettings)
    await kv.put(PATHS_KEY, msgspec.json.encode(value))
    return msgspec.to_builtins(value)  # type: ignore[no-any-return]


@router.get(
    "/settings/ui", dependencies=READ, response_model=UiOut, summary="How the dashboard looks (its theme)"
)
async def get_ui(bus: Bus) -> dict[str, Any]:
    return msgspec.to_builtins(await _stored(bus, UI_KEY, UiSettings()))  # type: ignore[no-any-return]


@router.patch(
    "/settings/ui",
    dependencies=ADMIN,
    response_model=UiOut,
    summary="Change how the dashboard looks",
    description=(
        "Send only the fields to change. The theme is the same for every browser: system, light or dark. "
        "Pages render in it from their next load; the Options page switches at once. Invalid values are "
        "refused with 422 and nothing changes."
    ),
)
async def patch_ui(body: UiIn, kv: SettingsBucket, bus: Bus) -> dict[str, Any]:
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
