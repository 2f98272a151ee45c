"""The REST API for Plex and Jellyfin as sources, under ``/api/v1/sources``.

Every route asks the scanner over NATS (request/reply): the scanner alone talks to Plex, plex.tv and
Jellyfin and keeps their tokens, so the gateway passes an API key on once and never stores, logs or returns
one (replies say ``configured``). The scanner's 400 stays a 400; a media server's failure is a 502.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

import msgspec
from fastapi import APIRouter, Depends, HTTPException, Request
from librarrarian_contracts import sources, topology, views
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from pydantic import BaseModel, Field

from .access import require_api

router = APIRouter(prefix="/api/v1/sources", tags=["sources"], dependencies=[Depends(require_api)])

T = TypeVar("T")
# Longer than the scanner's own timeout for a media server (30 s), so its reason arrives rather than ours.
ANSWER_SECONDS = 40.0
_encoder = msgspec.json.Encoder()


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


async def _ask(request: Request, subject: str, query: msgspec.Struct, reply_type: type[T]) -> Any:
    """The scanner's reply as plain data, or its error as the matching HTTP status."""
    nc = request.app.state.nc
    try:
        reply = await nc.request(subject, _encoder.encode(query), timeout=ANSWER_SECONDS)
    except (TimeoutError, NatsTimeoutError):
        raise HTTPException(504, "the scanner did not answer in time") from None
    except NoRespondersError:
        raise HTTPException(503, "no scanner is running to set up Plex or Jellyfin") from None
    headers = reply.headers or {}
    if "Nats-Service-Error" in headers:
        code = headers.get("Nats-Service-Error-Code", "")
        status = 400 if code == "400" else 502
        raise HTTPException(status, headers["Nats-Service-Error"])
    return msgspec.to_builtins(msgspec.json.decode(reply.data, type=reply_type))


NOTHING = views.Nothing()


@router.get("", summary="Plex and Jellyfin: what is set up (never a token)")
async def status(request: Request) -> Any:
    return await _ask(request, topology.SOURCES_STATUS, NOTHING, sources.SourcesStatus)


@router.post(
    "/plex/pin", status_code=201, summary="Start linking a Plex account: a code to enter at plex.tv/link"
)
async def plex_pin_start(request: Request) -> Any:
    return await _ask(request, topology.SOURCES_PLEX_PIN_START, NOTHING, sources.PlexPin)


@router.get("/plex/pin", summary="Whether the code was entered (poll every few seconds)")
async def plex_pin_check(request: Request) -> Any:
    return await _ask(request, topology.SOURCES_PLEX_PIN_CHECK, NOTHING, sources.PlexPin)


@router.get("/plex/servers", summary="The linked account's Plex servers")
async def plex_servers(request: Request) -> Any:
    return await _ask(request, topology.SOURCES_PLEX_SERVERS, NOTHING, sources.PlexServers)


@router.get("/plex/libraries", summary="The chosen Plex server's libraries (sections)")
async def plex_libraries(request: Request) -> Any:
    return await _ask(request, topology.SOURCES_PLEX_LIBRARIES, NOTHING, sources.Libraries)


@router.put("/plex", summary="Choose the Plex server, its libraries and the path mappings")
async def plex_select(body: PlexSelectionIn, request: Request) -> Any:
    selection = sources.PlexSelection(
        server_id=body.server_id,
        url=body.url,
        sections=tuple(body.sections),
        mappings=_mappings(body.mappings),
    )
    return await _ask(request, topology.SOURCES_PLEX_SELECT, selection, sources.PlexStatus)


@router.delete("/plex", summary="Unlink the Plex account")
async def plex_unlink(request: Request) -> Any:
    return await _ask(request, topology.SOURCES_PLEX_UNLINK, NOTHING, sources.PlexStatus)


@router.put("/jellyfin", summary="Set Jellyfin's URL, API key, libraries and path mappings")
async def jellyfin_set(body: JellyfinIn, request: Request) -> Any:
    setup = sources.JellyfinSetup(
        url=body.url, api_key=body.api_key, libraries=tuple(body.libraries), mappings=_mappings(body.mappings)
    )
    return await _ask(request, topology.SOURCES_JELLYFIN_SET, setup, sources.JellyfinStatus)


@router.post("/jellyfin/test", summary="Try the Jellyfin URL and API key")
async def jellyfin_test(request: Request) -> Any:
    return await _ask(request, topology.SOURCES_JELLYFIN_TEST, NOTHING, sources.JellyfinCheck)


@router.get("/jellyfin/libraries", summary="Jellyfin's libraries")
async def jellyfin_libraries(request: Request) -> Any:
    return await _ask(request, topology.SOURCES_JELLYFIN_LIBRARIES, NOTHING, sources.Libraries)


@router.post("/sync", status_code=202, summary="Sync the files Plex and Jellyfin know (default: both)")
async def sync(body: SyncIn, request: Request) -> Any:
    accepted = await _ask(
        request, topology.SOURCES_SYNC, sources.SyncRequest(sources=tuple(body.sources)), sources.SyncAccepted
    )
    if not accepted["sources"]:
        raise HTTPException(409, "no chosen source is set up with a server and libraries")
    return accepted
