"""Webhooks as Plex Media Server sends them (Plex's support article "Webhooks"; the server's OpenAPI document
does not describe them): a multipart/form-data POST with a ``payload`` part holding the event as JSON and,
for ``library.new``, a ``thumb`` part with the poster."""

from __future__ import annotations

import json
from typing import Any

import httpx

from .plex import FakePlexServer

# A poster's worth of JPEG: Plex attaches one to library.new.
THUMB = b"\xff\xd8\xff\xe0" + bytes(64 * 1024)


def payload(pms: FakePlexServer, rating_key: str, event: str = "library.new") -> dict[str, Any]:
    """The JSON Plex sends about the item ``rating_key`` of ``pms`` (an unknown key: a movie in section 1)."""
    found = pms.item(rating_key)
    section = found[0] if found else None
    title = found[1] if found else None
    kind = "movie"
    if section is not None and section.type == "show":
        kind = "episode" if title else "show"
    section_key = section.key if section else "1"
    return {
        "event": event,
        "user": True,
        "owner": True,
        "Account": {"id": 1, "thumb": "https://plex.tv/users/1/avatar", "title": "owner"},
        "Server": {"title": pms.name, "uuid": pms.identifier},
        "Player": {"local": True, "publicAddress": "203.0.113.7", "title": "Plex Web", "uuid": "x1"},
        "Metadata": {
            "librarySectionType": section.type if section else "movie",
            "ratingKey": rating_key,
            "key": f"/library/metadata/{rating_key}",
            "guid": f"plex://{kind}/{rating_key}",
            "type": kind,
            "title": title or (section.title if section else "Gone"),
            "librarySectionTitle": section.title if section else "",
            "librarySectionID": int(section_key),
            "librarySectionKey": f"/library/sections/{section_key}",
            "addedAt": 1_700_000_000,
            "updatedAt": 1_700_000_000,
        },
    }


async def send_webhook(
    url: str, body: dict[str, Any], thumb: bytes = THUMB, timeout: float = 30.0
) -> httpx.Response:
    """POST ``body`` (see :func:`payload`) to ``url`` as Plex Media Server does."""
    files = {"thumb": ("image.jpg", thumb, "image/jpeg")} if thumb else None
    async with httpx.AsyncClient(timeout=timeout) as client:
        return await client.post(url, data={"payload": json.dumps(body)}, files=files)
