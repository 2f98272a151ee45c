"""The REST API for Sonarr, Radarr and Lidarr, under ``/api/v1/arr``: their settings, the connection test,
the app scans (rename and quality), the webhook key; and the webhook the apps call, outside the room.

The gateway asks the arr service over NATS: the arr service alone talks to the apps and keeps their API keys,
so the gateway passes a key on once and never stores, logs or returns one (replies say ``configured``). The
scopes these routes need: settings, the test and the webhook key ``admin``; scans ``control``; ``GET /arr``
``read``. The webhook is public to the room's scopes (no session or API key opens it) and authenticated by
its own key (the webhook key), given by the app as the password of HTTP basic authentication (its Connect →
Webhook form has the field) or in ``X-Api-Key``; it opens nothing else.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Literal, TypeVar

import msgspec
from fastapi import APIRouter, HTTPException, Request
from librarrarian_contracts import ArrApp, StartArrScan, publish, topology, views
from librarrarian_contracts import arr as contract
from librarrarian_contracts.sources import PathMapping
from librarrarian_runtime.queries import ask
from pydantic import BaseModel, Field

from ..access import ADMIN, CONTROL, PUBLIC, READ
from ..backend import Backend
from .dependencies import Bus
from .sources import PathMappingIn
from .struct_models import nested_model

router = APIRouter(prefix="/arr", tags=["arr"])
webhooks = APIRouter(prefix="/api/v1/arr", tags=["arr"])

T = TypeVar("T")
# Longer than the arr service's own timeout for an app (30 s), so its reason arrives rather than ours.
ANSWER_SECONDS = 40.0
AppName = Literal["sonarr", "radarr", "lidarr"]


class ArrIn(BaseModel):
    enabled: bool = True
    url: Annotated[str, Field(min_length=1, max_length=2048)]
    api_key: Annotated[str | None, Field(max_length=200, description="omit to keep the stored key")] = None
    mode: Literal["manual", "automatic"] = Field(
        "manual", description="automatic: also scanned for renames and quality on ARR_SCAN_INTERVAL_HOURS"
    )
    ssl_verify: bool | None = Field(
        None, description="false: accept a self-signed certificate; null: ARR_SSL_VERIFY"
    )
    mappings: list[PathMappingIn] = []
    rename_approval: bool = Field(True, description="rename jobs wait in the queue for approval")
    auto_rename: bool = Field(False, description="rename a file to the app's scheme after its transcode")
    hold_below_cutoff: bool = Field(True, description="hold the transcode of a file below its quality cutoff")


class ScanIn(BaseModel):
    kind: Literal["rename", "quality"]


class ArrScanAccepted(BaseModel):
    id: str
    app: str
    kind: str


async def _ask(bus: Backend, subject: str, query: msgspec.Struct, reply_type: type[T]) -> Any:
    """The arr service's reply as plain data (its refusals are raised as the errors it raised)."""
    return msgspec.to_builtins(await ask(bus.nc, subject, query, reply_type, ANSWER_SECONDS))


@router.get(
    "",
    dependencies=READ,
    summary="Sonarr, Radarr and Lidarr as set up (never an API key)",
    response_model=nested_model(contract.ArrStatus),
)
async def status(bus: Bus) -> Any:
    return await _ask(bus, topology.ARR_STATUS, views.Nothing(), contract.ArrStatus)


@router.put(
    "/{app}",
    dependencies=ADMIN,
    summary="Set an app's URL, API key, mode, certificate check, path mappings and options",
    response_model=nested_model(contract.ArrAppStatus),
)
async def set_app(app: AppName, body: ArrIn, bus: Bus) -> Any:
    setup = contract.ArrSetup(
        app=ArrApp(app),
        enabled=body.enabled,
        url=body.url,
        api_key=body.api_key,
        mode=body.mode,
        ssl_verify=body.ssl_verify,
        mappings=tuple(PathMapping(server=m.server, local=m.local) for m in body.mappings),
        rename_approval=body.rename_approval,
        auto_rename=body.auto_rename,
        hold_below_cutoff=body.hold_below_cutoff,
    )
    return await _ask(bus, topology.ARR_SET, setup, contract.ArrAppStatus)


@router.post(
    "/{app}/test",
    dependencies=ADMIN,
    summary="Try the app's connection: its name and version, or why not",
    response_model=nested_model(contract.ArrCheck),
)
async def test_app(app: AppName, bus: Bus) -> Any:
    return await _ask(bus, topology.ARR_TEST, contract.ArrTest(app=ArrApp(app)), contract.ArrCheck)


@router.post(
    "/{app}/scans",
    dependencies=CONTROL,
    status_code=202,
    response_model=ArrScanAccepted,
    summary="Ask the app which files it would rename, or which are below their quality cutoff",
    description="Follow it in GET /api/v1/scans (kind rename or quality), stop it with POST /api/v1/scans/{id}/cancel.",
)
async def scan_app(app: AppName, body: ScanIn, bus: Bus) -> dict[str, str]:
    command = StartArrScan(app=ArrApp(app), kind=body.kind)
    await publish(bus.js, command)
    return {"id": command.event_id, "app": app, "kind": body.kind}


@router.post(
    "/webhook-key",
    dependencies=ADMIN,
    status_code=201,
    summary="Make a new key for the apps' webhooks (shown this once; the old one stops working)",
    response_model=nested_model(contract.WebhookKey),
)
async def webhook_key(bus: Bus) -> Any:
    return await _ask(bus, topology.ARR_WEBHOOK_KEY, views.Nothing(), contract.WebhookKey)


def presented_key(request: Request) -> str:
    """The webhook key: HTTP basic authentication's password (what the apps' webhook form sends), or
    ``X-Api-Key``."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(value, validate=True).decode().partition(":")[2]
        except (binascii.Error, UnicodeDecodeError):
            return ""
    return request.headers.get("x-api-key", "")


async def bounded_body(request: Request) -> str:
    size = 0
    chunks = []
    async for chunk in request.stream():
        size += len(chunk)
        if size > contract.MAX_WEBHOOK_BYTES:
            raise HTTPException(413, f"a webhook body holds at most {contract.MAX_WEBHOOK_BYTES} bytes")
        chunks.append(chunk)
    try:
        return b"".join(chunks).decode()
    except UnicodeDecodeError:
        raise HTTPException(400, "the body is not UTF-8 JSON") from None


@webhooks.post(
    "/{app}/webhook",
    dependencies=PUBLIC,  # to the room's scopes: the webhook key below is its own check
    summary="What an app's Connect → Webhook calls on import, upgrade, rename and delete",
    description=(
        "Authenticated by the webhook key (POST /api/v1/arr/webhook-key) as the basic-auth password or in "
        "X-Api-Key. An import is probed and queued at once, a deleted file's waiting jobs are dropped, a "
        "renamed file keeps its history."
    ),
    response_model=nested_model(contract.WebhookOutcome),
)
async def webhook(app: str, request: Request) -> Any:
    key = presented_key(request)
    if not key:  # first: a caller without the key learns nothing, not even which apps there are
        raise HTTPException(
            401, "give the webhook key as the password", headers={"WWW-Authenticate": "Basic"}
        )
    if app not in {a.value for a in ArrApp}:
        raise HTTPException(404, "no such app: sonarr, radarr or lidarr")
    call = contract.WebhookCall(app=ArrApp(app), key=key, body=await bounded_body(request))
    bus: Backend = request.app.state.backend
    return await _ask(bus, topology.ARR_WEBHOOK, call, contract.WebhookOutcome)
