"""The encoder nodes under ``/api/v1``: list them with their running jobs; start, stop, pause and resume one;
pause and resume the whole queue.

Controls are written to the ``settings`` KV bucket, where the nodes and the scheduler watch them: a change
applies at once, survives restarts of either side, and needs no node to be reachable.
"""

from __future__ import annotations

import msgspec
from fastapi import APIRouter, HTTPException
from librarrarian_contracts.settings import QUEUE_KEY, NodeControl, QueueControl, node_key

from ..access import CONTROL, READ
from .dependencies import Bus, SettingsBucket
from .models import NodeControlOut, NodeOut, QueueOut
from .struct_models import list_of

router = APIRouter(tags=["control"])

NODE_ACTIONS = {
    "start": NodeControl(state="running"),
    "stop": NodeControl(state="stopped"),
    "stop-now": NodeControl(state="stopped", now=True),
    "pause": NodeControl(state="paused"),
    "resume": NodeControl(state="running"),
}


@router.get(
    "/nodes",
    dependencies=READ,
    response_model=list_of(NodeOut),
    summary="Encoder nodes and their running jobs",
)
async def nodes(bus: Bus) -> list[dict[str, object]]:
    return [
        {**msgspec.to_builtins(v.status), "progress": [msgspec.to_builtins(p) for p in v.progress]}
        for v in await bus.nodes()
    ]


@router.post(
    "/nodes/{node}/{action}",
    dependencies=CONTROL,
    response_model=NodeControlOut,
    summary="Start, stop, pause or resume a node",
    description=(
        "`stop` lets running jobs finish unless `now=true` (or `stop-now`), which stops them and hands them "
        "to other nodes. "
        "`pause` suspends the node's running encodes (they keep their place); `resume` continues them. "
        "The state holds across restarts of the node."
    ),
)
async def control_node(node: str, action: str, kv: SettingsBucket, now: bool = False) -> dict[str, object]:
    if action not in NODE_ACTIONS:
        raise HTTPException(404, f"unknown action {action!r}: use {', '.join(NODE_ACTIONS)}")
    wanted = NODE_ACTIONS[action]
    if now and action == "stop":
        wanted = msgspec.structs.replace(wanted, now=True)
    await kv.put(node_key(node), msgspec.json.encode(wanted))
    return {"node": node, "state": wanted.state, "now": wanted.now}


@router.get("/queue", dependencies=READ, response_model=QueueOut, summary="Whether the queue is paused")
async def queue_state(bus: Bus) -> dict[str, object]:
    return {"paused": await bus.queue_paused()}


@router.post(
    "/queue/{action}",
    dependencies=CONTROL,
    response_model=QueueOut,
    summary="Pause or resume the whole queue",
)
async def control_queue(action: str, kv: SettingsBucket) -> dict[str, object]:
    if action not in {"pause", "resume"}:
        raise HTTPException(404, f"unknown action {action!r}: use pause or resume")
    await kv.put(QUEUE_KEY, msgspec.json.encode(QueueControl(paused=action == "pause")))
    return {"paused": action == "pause"}
