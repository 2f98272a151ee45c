"""Plex's webhooks (Plex Pass; Settings → Webhooks): a ``library.new`` event has its item's files probed and
queued at once, rather than at the next sync. Plex POSTs multipart/form-data with a ``payload`` part holding
the event as JSON (and a ``thumb`` poster, read past and dropped). Every other event is answered and ignored.

The gateway checks the secret and reads the event; the scanner, which holds the Plex token, checks that the
server is the chosen one, asks it for the item's files, maps them and keeps those inside the media paths.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncGenerator
from typing import Any

import msgspec
from fastapi import APIRouter, HTTPException, Request
from librarrarian_contracts import sources, topology
from librarrarian_runtime.queries import ask
from starlette.formparsers import MultiPartException, MultiPartParser

from .. import webhook_secrets
from ..access import PUBLIC
from ..api.struct_models import nested_model

log = logging.getLogger(__name__)

router = APIRouter(prefix="/hooks", tags=["webhooks"])

# The whole body (the poster included) and the JSON part: Plex sends a small poster (tens of KiB).
MAX_BODY_BYTES = 1024 * 1024
MAX_PAYLOAD_BYTES = 64 * 1024
RATING_KEY = re.compile(r"[0-9]{1,12}")
NEW_ITEM = "library.new"
ROUTE_NAME = "hooks-plex"  # how the API names it when it makes the URL
# Longer than the scanner's own timeout for a media server (30 s), so its reason arrives rather than ours.
ANSWER_SECONDS = 40.0


class _Server(msgspec.Struct):
    uuid: str = ""


class _Metadata(msgspec.Struct):
    rating_key: str = msgspec.field(default="", name="ratingKey")
    section_id: int | str | None = msgspec.field(default=None, name="librarySectionID")


class PlexEvent(msgspec.Struct):
    """What the gateway reads of a webhook's payload (Plex sends much more, ignored)."""

    event: str
    server: _Server = msgspec.field(default_factory=_Server, name="Server")
    metadata: _Metadata | None = msgspec.field(default=None, name="Metadata")


_decoder = msgspec.json.Decoder(PlexEvent)


@router.post(
    "/plex/{secret}",
    name=ROUTE_NAME,
    dependencies=PUBLIC,  # the secret in the URL is the door: Plex sends no key and has no session
    status_code=202,
    summary="Plex's webhook: a new item's files are probed and queued now (the URL is made on Options)",
    response_model=nested_model(sources.PlexItemTaken),
    responses={
        400: {"description": "not a webhook's form, or a library.new without its item"},
        404: {"description": "not this webhook's URL (or an old one)"},
        413: {"description": f"a body over {MAX_BODY_BYTES} bytes"},
        415: {"description": "not multipart/form-data"},
    },
)
async def plex(secret: str, request: Request) -> Any:
    if not await webhook_secrets.opens(request.app.state.pool, sources.PLEX, secret):
        # A wrong secret is a wrong URL: nothing is here (the URL is the webhook's only credential).
        raise HTTPException(404, "no Plex webhook at this URL (an old one?): make one on Options")
    event = await _read(request)
    if event.event != NEW_ITEM:
        return msgspec.to_builtins(sources.PlexItemTaken(ignored=f"{event.event} is not {NEW_ITEM}"))
    metadata = event.metadata
    if metadata is None or not RATING_KEY.fullmatch(metadata.rating_key) or not event.server.uuid:
        raise HTTPException(400, "a library.new payload names its server and its item's rating key")
    item = sources.PlexItem(
        server_id=event.server.uuid,
        rating_key=metadata.rating_key,
        section_id="" if metadata.section_id is None else str(metadata.section_id),
    )
    taken = await ask(
        request.app.state.nc, topology.SOURCES_PLEX_ITEM, item, sources.PlexItemTaken, ANSWER_SECONDS
    )
    log.info(
        "Plex webhook: new item %s, %d files handed to the scanner%s",
        item.rating_key,
        taken.handed,
        f" ({taken.ignored})" if taken.ignored else "",
    )
    return msgspec.to_builtins(taken)


async def _read(request: Request) -> PlexEvent:
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise HTTPException(415, "Plex sends its webhooks as multipart/form-data")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise HTTPException(413, f"a webhook's body is at most {MAX_BODY_BYTES} bytes")
    parser = MultiPartParser(
        request.headers, _bounded(request), max_files=2, max_fields=4, max_part_size=MAX_PAYLOAD_BYTES
    )
    try:
        form = await parser.parse()
    except MultiPartException as error:
        raise HTTPException(400, f"not a webhook's form: {error.message}") from None
    try:
        raw: Any = form.get("payload")
        if not isinstance(raw, str):
            raise HTTPException(400, "the form has no payload part")
        return _decoder.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        raise HTTPException(400, f"the payload is not a Plex event: {error}") from None
    finally:
        await form.close()  # the poster, spooled to a temporary file


async def _bounded(request: Request) -> AsyncGenerator[bytes, None]:
    """The body, refused once it grows past the bound (whatever Content-Length said)."""
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > MAX_BODY_BYTES:
            raise HTTPException(413, f"a webhook's body is at most {MAX_BODY_BYTES} bytes")
        yield chunk
