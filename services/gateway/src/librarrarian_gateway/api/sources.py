"""The REST API for Plex and Jellyfin as sources, under ``/api/v1/sources``.

Every route asks the scanner over NATS (request/reply): the scanner alone talks to Plex, plex.tv and
Jellyfin and keeps their tokens, so the gateway passes an API key on once and never stores, logs or returns
one (replies say ``configured``). The scanner's refusals keep their status (400: a bad request; 502: the
media server failed); 503 when no scanner answers. Plex's webhook URL is the gateway's own: its secret is
kept hashed here (``webhook_secrets``) and shown only when made.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any, TypeVar

import msgspec
from fastapi import APIRouter, HTTPException, Request
from librarrarian_contracts import sources, topology, views
from librarrarian_runtime.queries import ask
from pydantic import BaseModel, Field

from .. import webhook_secrets
from ..access import ADMIN, CONTROL
from ..backend import Backend
from ..hooks import PLEX_ROUTE
from .dependencies import Bus
from .struct_models import nested_model

log = logging.getLogger(__name__)

router = APIRouter(prefix="/sources", tags=["sources"])

T = TypeVar("T")
# Longer than the scanner's own timeout for a media server (30 s), so its reason arrives rather than ours.
ANSWER_SECONDS = 40.0


class PathMappingIn(BaseModel):
    server: Annotated[str, Field(min_length=1, max_length=4096, description="a folder as the server sees it")]
    local: Annotated[str, Field(min_length=1, max_length=4096, description="the same folder here")]


class PlexSelectionIn(BaseModel):
    server_id: Annotated[str, Field(min_length=1, max_length=200)]
    url: Annotated[str | None, Field(max_length=2048, description="default: the server's local address")] = (
        None
    )
    sections: list[Annotated[str, Field(max_length=50)]] = []
    mappings: list[PathMappingIn] = []


class JellyfinIn(BaseModel):
    url: Annotated[str, Field(min_length=1, max_length=2048)]
    api_key: Annotated[str | None, Field(max_length=200, description="omit to keep the stored key")] = None
    libraries: list[Annotated[str, Field(max_length=100)]] = []
    mappings: list[PathMappingIn] = []


class SyncIn(BaseModel):
    sources: list[Annotated[str, Field(pattern="^(plex|jellyfin)$")]] = []


def _mappings(items: list[PathMappingIn]) -> tuple[sources.PathMapping, ...]:
    return tuple(sources.PathMapping(server=m.server, local=m.local) for m in items)


async def ask_scanner(bus: Backend, subject: str, query: msgspec.Struct, reply_type: type[T]) -> T:
    """The scanner's reply (its refusals are raised as the errors it raised)."""
    return await ask(bus.nc, subject, query, reply_type, ANSWER_SECONDS)


async def _ask(bus: Backend, subject: str, query: msgspec.Struct, reply_type: type[T]) -> Any:
    """The scanner's reply as plain data."""
    return msgspec.to_builtins(await ask_scanner(bus, subject, query, reply_type))


def plex_selection(body: PlexSelectionIn) -> sources.PlexSelection:
    return sources.PlexSelection(
        server_id=body.server_id,
        url=body.url,
        sections=tuple(body.sections),
        mappings=_mappings(body.mappings),
    )


def jellyfin_setup(body: JellyfinIn) -> sources.JellyfinSetup:
    return sources.JellyfinSetup(
        url=body.url, api_key=body.api_key, libraries=tuple(body.libraries), mappings=_mappings(body.mappings)
    )


NOTHING = views.Nothing()


@router.get(
    "",
    dependencies=ADMIN,
    summary="Plex and Jellyfin: what is set up (never a token)",
    response_model=nested_model(sources.SourcesStatus),
)
async def status(bus: Bus) -> Any:
    return await _ask(bus, topology.SOURCES_STATUS, NOTHING, sources.SourcesStatus)


@router.post(
    "/plex/pin",
    dependencies=ADMIN,
    status_code=201,
    summary="Start linking a Plex account: a code to enter at plex.tv/link",
    response_model=nested_model(sources.PlexPin),
)
async def plex_pin_start(bus: Bus) -> Any:
    return await _ask(bus, topology.SOURCES_PLEX_PIN_START, NOTHING, sources.PlexPin)


@router.get(
    "/plex/pin",
    dependencies=ADMIN,
    summary="Whether the code was entered (poll every few seconds)",
    response_model=nested_model(sources.PlexPin),
)
async def plex_pin_check(bus: Bus) -> Any:
    return await _ask(bus, topology.SOURCES_PLEX_PIN_CHECK, NOTHING, sources.PlexPin)


@router.get(
    "/plex/servers",
    dependencies=ADMIN,
    summary="The linked account's Plex servers",
    response_model=nested_model(sources.PlexServers),
)
async def plex_servers(bus: Bus) -> Any:
    return await _ask(bus, topology.SOURCES_PLEX_SERVERS, NOTHING, sources.PlexServers)


@router.get(
    "/plex/libraries",
    dependencies=ADMIN,
    summary="The chosen Plex server's libraries (sections)",
    response_model=nested_model(sources.Libraries),
)
async def plex_libraries(bus: Bus) -> Any:
    return await _ask(bus, topology.SOURCES_PLEX_LIBRARIES, NOTHING, sources.Libraries)


@router.put(
    "/plex",
    dependencies=ADMIN,
    summary="Choose the Plex server, its libraries and the path mappings",
    response_model=nested_model(sources.PlexStatus),
)
async def plex_select(body: PlexSelectionIn, bus: Bus) -> Any:
    return await _ask(bus, topology.SOURCES_PLEX_SELECT, plex_selection(body), sources.PlexStatus)


@router.delete(
    "/plex",
    dependencies=ADMIN,
    summary="Unlink the Plex account",
    response_model=nested_model(sources.PlexStatus),
)
async def plex_unlink(bus: Bus) -> Any:
    return await _ask(bus, topology.SOURCES_PLEX_UNLINK, NOTHING, sources.PlexStatus)


@router.post(
    "/plex/test",
    dependencies=ADMIN,
    summary="Try the chosen Plex server: its name and version, or why it did not answer",
    response_model=nested_model(sources.PlexCheck),
)
async def plex_test(bus: Bus) -> Any:
    return await _ask(bus, topology.SOURCES_PLEX_TEST, NOTHING, sources.PlexCheck)


class WebhookState(BaseModel):
    configured: bool = Field(description="a webhook URL exists (it is shown only when made)")
    made_at: datetime | None = None


class WebhookMade(BaseModel):
    url: str = Field(description="paste it in Plex: Settings → Webhooks; shown this once")
    path: str = Field(description="the same without the dashboard's address, for a proxy in front of it")
    made_at: datetime


@router.get(
    "/plex/webhook",
    dependencies=ADMIN,
    summary="Whether Plex's webhook URL is made",
    response_model=WebhookState,
)
async def plex_webhook(request: Request) -> WebhookState:
    made_at = await webhook_secrets.made_at(request.app.state.pool, sources.PLEX)
    return WebhookState(configured=made_at is not None, made_at=made_at)


@router.post(
    "/plex/webhook",
    dependencies=ADMIN,
    status_code=201,
    summary="Make a new webhook URL for Plex (shown once; the one before stops working)",
    response_model=WebhookMade,
)
async def plex_webhook_rotate(request: Request) -> WebhookMade:
    secret, made_at = await webhook_secrets.rotate(request.app.state.pool, sources.PLEX)
    path = request.app.url_path_for(PLEX_ROUTE, secret=secret)
    log.info("a new Plex webhook URL was made; the one before no longer works")
    return WebhookMade(url=f"{str(request.base_url).rstrip('/')}{path}", path=path, made_at=made_at)


@router.delete(
    "/plex/webhook",
    dependencies=ADMIN,
    status_code=204,
    summary="Turn Plex's webhook off (its URL stops working)",
)
async def plex_webhook_forget(request: Request) -> None:
    await webhook_secrets.forget(request.app.state.pool, sources.PLEX)
    log.info("the Plex webhook URL was removed")


@router.put(
    "/jellyfin",
    dependencies=ADMIN,
    summary="Set Jellyfin's URL, API key, libraries and path mappings",
    response_model=nested_model(sources.JellyfinStatus),
)
async def jellyfin_set(body: JellyfinIn, bus: Bus) -> Any:
    return await _ask(bus, topology.SOURCES_JELLYFIN_SET, jellyfin_setup(body), sources.JellyfinStatus)


@router.post(
    "/jellyfin/test",
    dependencies=ADMIN,
    summary="Try the Jellyfin URL and API key",
    response_model=nested_model(sources.JellyfinCheck),
)
async def jellyfin_test(bus: Bus) -> Any:
    return await _ask(bus, topology.SOURCES_JELLYFIN_TEST, NOTHING, sources.JellyfinCheck)


@router.get(
    "/jellyfin/libraries",
    dependencies=ADMIN,
    summary="Jellyfin's libraries",
    response_model=nested_model(sources.Libraries),
)
async def jellyfin_libraries(bus: Bus) -> Any:
    return await _ask(bus, topology.SOURCES_JELLYFIN_LIBRARIES, NOTHING, sources.Libraries)


@router.post(
    "/sync",
    dependencies=CONTROL,
    status_code=202,
    summary="Sync the files Plex and Jellyfin know (default: both)",
    response_model=nested_model(sources.SyncAccepted),
)
async def sync(body: SyncIn, bus: Bus) -> Any:
    accepted = await _ask(
        bus, topology.SOURCES_SYNC, sources.SyncRequest(sources=tuple(body.sources)), sources.SyncAccepted
    )
    if not accepted["sources"]:
        raise HTTPException(409, "no chosen source is set up with a server and libraries")
    return accepted
