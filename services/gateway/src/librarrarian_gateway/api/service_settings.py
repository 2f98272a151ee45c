"""How often and how hard the services work, under ``/api/v1/settings/{scanner,cleanup,scheduler,streaming}``
and ``/api/v1/nodes/{node}/slots``: the scan interval, the stale-file age and the cleanup interval, the tries
per job, which nodes pause while someone watches on Plex or Jellyfin, and each node's encodes at once.

Each is a key of the ``settings`` bucket that its service watches, so a change applies without a restart.
The service's environment (``SCAN_INTERVAL_SECONDS``, ``STALE_AFTER_HOURS``, ``CLEANUP_INTERVAL_HOURS``,
``MAX_ATTEMPTS``, ``SLOTS``) seeds the key at its first start, when it has no value; from then on the key is
the truth. Every value is checked against the contract's type before it is stored: 422 and nothing changes.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

import msgspec
from fastapi import APIRouter, Body, HTTPException
from librarrarian_contracts.settings import (
    CLEANUP_KEY,
    MAX_SLOTS,
    ORDER_KEY,
    RETRIES_KEY,
    SCANNER_TIMING_KEY,
    STREAMING_KEY,
    CleanupSettings,
    NodeSlots,
    QueueOrder,
    RetrySettings,
    ScannerTiming,
    StreamingSettings,
    slots_key,
)

from ..access import ADMIN, READ
from ..backend import Backend
from .dependencies import Bus, SettingsBucket
from .struct_models import model_of

S = TypeVar("S", bound=msgspec.Struct)
router = APIRouter(tags=["control"])

ScannerOut = model_of(ScannerTiming, "ScannerTimingOut")
CleanupOut = model_of(CleanupSettings, "CleanupSettingsOut")
RetriesOut = model_of(RetrySettings, "RetrySettingsOut")
OrderOut = model_of(
    QueueOrder,
    "QueueOrderOut",
    descriptions={
        "order": "benefit (largest expected saving first), age (oldest first) or folder (folders' priority)",
        "window": "waiting transcodes released to the encoders per hardware class at a time (1 to 64)",
    },
)
StreamingOut = model_of(
    StreamingSettings,
    "StreamingSettingsOut",
    descriptions={
        "pause_while_streaming": "which nodes pause their encodes while someone watches on Plex or Jellyfin: "
        "off, same_machine (the nodes on the media server's machine; the default) or all"
    },
)
SlotsOut = model_of(
    NodeSlots,
    "NodeSlotsOut",
    descriptions={"slots": f"encodes at once per hardware class, 1 to {MAX_SLOTS}; a class not named gets 1"},
)
CHANGED = "Send only the fields to change. Invalid values are refused with 422 and nothing changes."


async def current(bus: Backend, key: str, default: S) -> S:
    """The stored value; the defaults when none is stored (the service has not started yet) or what is stored
    does not decode (written by hand: the service ignores it too, and a change replaces it)."""
    try:
        return await bus.setting(key, type(default), default)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return default


def merged(now: S, changes: dict[str, Any]) -> S:
    """``now`` with ``changes``, checked as the contract's type (the same check the service makes)."""
    unknown = set(changes) - set(type(now).__struct_fields__)
    if unknown:
        raise HTTPException(422, f"unknown settings: {', '.join(sorted(unknown))}")
    try:
        return msgspec.convert({**msgspec.to_builtins(now), **changes}, type(now))
    except msgspec.ValidationError as error:
        raise HTTPException(422, f"invalid settings: {error}") from None


async def _patch(bus: Backend, kv: Any, key: str, default: S, changes: dict[str, Any]) -> dict[str, Any]:
    value = merged(await current(bus, key, default), changes)
    await kv.put(key, msgspec.json.encode(value))
    return msgspec.to_builtins(value)  # type: ignore[no-any-return]


@router.get(
    "/settings/scanner",
    dependencies=READ,
    response_model=ScannerOut,
    summary="How often the scanner scans on its own",
)
async def get_scanner(bus: Bus) -> dict[str, Any]:
    return msgspec.to_builtins(await current(bus, SCANNER_TIMING_KEY, ScannerTiming()))  # type: ignore[no-any-return]


@router.patch(
    "/settings/scanner",
    dependencies=ADMIN,
    response_model=ScannerOut,
    summary="Change how often the scanner scans",
    description="`scan_interval_seconds`: the folders are scanned and Plex and Jellyfin synced this often "
    "(0: only when asked; at most 7 days). The scanner applies it at once. " + CHANGED,
)
async def patch_scanner(
    bus: Bus,
    kv: SettingsBucket,
    changes: Annotated[dict[str, Any], Body(examples=[{"scan_interval_seconds": 600}])],
) -> dict[str, Any]:
    return await _patch(bus, kv, SCANNER_TIMING_KEY, ScannerTiming(), changes)


@router.get(
    "/settings/cleanup",
    dependencies=READ,
    response_model=CleanupOut,
    summary="When a file is stale, and how often to look",
)
async def get_cleanup(bus: Bus) -> dict[str, Any]:
    return msgspec.to_builtins(await current(bus, CLEANUP_KEY, CleanupSettings()))  # type: ignore[no-any-return]


@router.patch(
    "/settings/cleanup",
    dependencies=ADMIN,
    response_model=CleanupOut,
    summary="Change when a file is stale and how often to look",
    description="`stale_after_hours` (1 to 8760): a `.tmp_*` or `*.lock` file untouched this long is offered "
    "for deletion; `interval_hours` (0 to 8760; 0: only when asked): how often the cleanup service looks; "
    "`recycle_days` (0 to 3650): how long replaced originals stay in the recycle folder. " + CHANGED,
)
async def patch_cleanup(
    bus: Bus,
    kv: SettingsBucket,
    changes: Annotated[dict[str, Any], Body(examples=[{"stale_after_hours": 48}])],
) -> dict[str, Any]:
    return await _patch(bus, kv, CLEANUP_KEY, CleanupSettings(), changes)


@router.get(
    "/settings/scheduler",
    dependencies=READ,
    response_model=RetriesOut,
    summary="Tries per job",
)
async def get_scheduler(bus: Bus) -> dict[str, Any]:
    return msgspec.to_builtins(await current(bus, RETRIES_KEY, RetrySettings()))  # type: ignore[no-any-return]


@router.patch(
    "/settings/scheduler",
    dependencies=ADMIN,
    response_model=RetriesOut,
    summary="Change the tries per job",
    description="`max_attempts` (1 to 100): a job whose attempts all failed is marked failed for good; the "
    "scheduler applies it from the next failure on. " + CHANGED,
)
async def patch_scheduler(
    bus: Bus, kv: SettingsBucket, changes: Annotated[dict[str, Any], Body(examples=[{"max_attempts": 5}])]
) -> dict[str, Any]:
    return await _patch(bus, kv, RETRIES_KEY, RetrySettings(), changes)


@router.get(
    "/settings/queue-order",
    dependencies=READ,
    response_model=OrderOut,
    summary="The order of waiting transcodes",
)
async def get_queue_order(bus: Bus) -> dict[str, Any]:
    return msgspec.to_builtins(await current(bus, ORDER_KEY, QueueOrder()))  # type: ignore[no-any-return]


@router.patch(
    "/settings/queue-order",
    dependencies=ADMIN,
    response_model=OrderOut,
    summary="Change the order of waiting transcodes",
    description="`order`: `benefit` (the largest expected saving first: the bits per pixel above what HEVC "
    "needs, times the size), `age` (the oldest first) or `folder` (the library folders' `priority`, highest "
    "first, then the oldest); a job moved to the top or bottom by hand stays there. `window` (1 to 64): "
    "the waiting transcodes handed to the encoders of each hardware class at a time; only those keep their "
    "place when the order changes. " + CHANGED,
)
async def patch_queue_order(
    bus: Bus, kv: SettingsBucket, changes: Annotated[dict[str, Any], Body(examples=[{"order": "benefit"}])]
) -> dict[str, Any]:
    return await _patch(bus, kv, ORDER_KEY, QueueOrder(), changes)


@router.get(
    "/settings/streaming",
    dependencies=READ,
    response_model=StreamingOut,
    summary="Which nodes pause while someone watches",
)
async def get_streaming(bus: Bus) -> dict[str, Any]:
    return msgspec.to_builtins(await current(bus, STREAMING_KEY, StreamingSettings()))  # type: ignore[no-any-return]


@router.patch(
    "/settings/streaming",
    dependencies=ADMIN,
    response_model=StreamingOut,
    summary="Change which nodes pause while someone watches",
    description="`pause_while_streaming`: while Plex or Jellyfin (set up as sources) report a session "
    "playing, `same_machine` pauses the encodes of the nodes on that server's machine, `all` those of every "
    "node, `off` none; they resume when the playback ends. A node paused for playback shows the state "
    "`paused for playback` and the reason in `paused_for`. Applied within seconds. " + CHANGED,
)
async def patch_streaming(
    bus: Bus,
    kv: SettingsBucket,
    changes: Annotated[dict[str, Any], Body(examples=[{"pause_while_streaming": "all"}])],
) -> dict[str, Any]:
    return await _patch(bus, kv, STREAMING_KEY, StreamingSettings(), changes)


@router.get(
    "/nodes/{node}/slots",
    dependencies=READ,
    response_model=SlotsOut,
    summary="A node's encodes at once, per hardware class",
)
async def get_slots(node: str, bus: Bus) -> dict[str, Any]:
    return msgspec.to_builtins(await current(bus, slots_key(node), NodeSlots()))  # type: ignore[no-any-return]


@router.put(
    "/nodes/{node}/slots",
    dependencies=ADMIN,
    response_model=SlotsOut,
    summary="Set a node's encodes at once",
    description=f"`slots`: per hardware class (`cpu`, `nvenc`, …), 1 to {MAX_SLOTS}; a class not named gets 1. "
    "The node applies it at once: a slot added takes work, a slot taken away finishes its job first. A "
    "node that is not connected applies it when it connects (its SLOTS are then not read). Invalid values "
    "are refused with 422 and nothing changes.",
)
async def put_slots(
    node: str,
    kv: SettingsBucket,
    body: Annotated[dict[str, Any], Body(examples=[{"slots": {"cpu": 2, "nvenc": 1}}])],
) -> dict[str, Any]:
    value = merged(NodeSlots(slots={}), body)
    await kv.put(slots_key(node), msgspec.json.encode(value))
    return msgspec.to_builtins(value)  # type: ignore[no-any-return]
