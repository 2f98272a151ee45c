"""Plex's webhooks and its Test connection on a real gateway with the real scanner behind it, a fake Plex
Media Server sending the webhooks as Plex does: a new item is probed at once; the URL's secret is shown
once, stored hashed, rotated and removed; a wrong secret, a body too large, or anything but a form is
turned away; other events are ignored without asking Plex anything."""

from __future__ import annotations

import asyncio
import logging
import shutil
from pathlib import Path

import asyncpg
import httpx
import msgspec
import pytest
from librarrarian_contracts import MediaProbed, topology
from librarrarian_contracts.codec import media_decoder
from librarrarian_testing import eventually
from librarrarian_testing.media_servers import (
    FakeSection,
    plex_server_spec,
    plex_webhook_payload,
    send_plex_webhook,
)
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from .sources_site import Sources, link_plex, site

__all__ = ["site"]  # the fixture


async def test_a_new_item_is_probed_at_once_through_the_webhook(
    site: Sources,
    bus: tuple[Client, JetStreamContext],
    shared_media: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    nc, _ = bus
    probed: list[str] = []

    async def on_media(msg: Msg) -> None:
        event = media_decoder.decode(msg.data)
        if isinstance(event, MediaProbed):
            probed.append(event.path)

    await nc.subscribe("media.>", cb=on_media)
    site.pms.sections = [
        FakeSection(
            "1",
            "Movies",
            "movie",
            ("/data/Movies",),
            {"A": ("/data/Movies/a.mp4",), "Away": ("/elsewhere/b.mp4",)},
        ),
        FakeSection("2", "Other", "movie", ("/data/Other",), {"C": ("/data/Other/c.mp4",)}),
    ]
    movie = site.media / "Movies" / "a.mp4"
    shutil.copyfile(shared_media / "bikes.mp4", movie)
    await link_plex(site, sections=("1",))

    async with site.client() as client:
        assert (await client.get("/api/v1/sources/plex/webhook")).json()["configured"] is False
        made = await client.post("/api/v1/sources/plex/webhook")
        assert made.status_code == 201, made.text
        url, path = made.json()["url"], made.json()["path"]
        assert url == site.url + path and path.startswith("/hooks/plex/")
        secret = path.rsplit("/", 1)[1]
        state = await client.get("/api/v1/sources/plex/webhook")
        assert state.json()["configured"] is True and secret not in state.text

    new = await send_plex_webhook(url, plex_webhook_payload(site.pms, site.pms.rating_key("A")))
    assert new.status_code == 202, new.text
    assert new.json() == {"files": 1, "handed": 1, "refused": 0, "ignored": ""}
    await eventually(lambda: str(movie) in probed, timeout=60, message="the new movie probed")

    away = await send_plex_webhook(url, plex_webhook_payload(site.pms, site.pms.rating_key("Away")))
    assert away.json() == {"files": 1, "handed": 0, "refused": 1, "ignored": ""}
    other = await send_plex_webhook(url, plex_webhook_payload(site.pms, site.pms.rating_key("C")))
    assert "not one of the chosen libraries" in other.json()["ignored"]
    asked = len(site.pms.seen)
    played = await send_plex_webhook(url, plex_webhook_payload(site.pms, "1", event="media.play"))
    assert played.status_code == 202 and "media.play is not" in played.json()["ignored"]
    assert len(site.pms.seen) == asked, "another event asks Plex nothing"
    problems = [p for seen in site.pms.seen for p in plex_server_spec().problems(seen)]
    assert not problems, problems

    # A new URL replaces the old at once; removing it closes the door.
    async with site.client() as client:
        rotated = (await client.post("/api/v1/sources/plex/webhook")).json()["url"]
    body = plex_webhook_payload(site.pms, site.pms.rating_key("A"))
    assert (await send_plex_webhook(url, body)).status_code == 404
    assert (await send_plex_webhook(rotated, body)).status_code == 202
    async with site.client() as client:
        assert (await client.delete("/api/v1/sources/plex/webhook")).status_code == 204
    assert (await send_plex_webhook(rotated, body)).status_code == 404
    assert len(probed) == 1, "the same unchanged file is not probed again"
    assert "Plex webhook: new item" in caplog.text
    # What the services log (httpx's lines are this test's own, playing Plex).
    logged = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("httpx"))
    for secret_url in (url, rotated):
        assert secret_url.rsplit("/", 1)[1] not in logged


async def declared_too_large(url: str) -> int:
    """The status of a webhook whose head promises a 5 MiB body, none of which is sent."""
    target = httpx.URL(url)
    reader, writer = await asyncio.open_connection(target.host, target.port)
    try:
        head = (
            f"POST {target.raw_path.decode()} HTTP/1.1\r\nHost: {target.host}:{target.port}\r\n"
            f"Content-Type: multipart/form-data; boundary=x\r\nContent-Length: {5 * 1024 * 1024}\r\n\r\n"
        )
        writer.write(head.encode())
        await writer.drain()
        answer = await reader.readuntil(b"\r\n")
    finally:
        writer.close()
    return int(answer.split(b" ", 2)[1])


async def test_the_door_and_the_bounds(site: Sources, database_url: str) -> None:
    await link_plex(site)
    async with site.client() as client:
        url = (await client.post("/api/v1/sources/plex/webhook")).json()["url"]
    body = plex_webhook_payload(site.pms, site.pms.rating_key("A"))
    asked = len(site.pms.seen)
    wrong = await send_plex_webhook(url[:-4] + "abcd", body)
    assert wrong.status_code == 404 and "Options" in wrong.json()["detail"]
    assert await declared_too_large(url) == 413  # answered before a byte of the body is sent
    async with site.client(key=None) as anonymous:
        as_json = await anonymous.post(url, json=body)
        assert as_json.status_code == 415
        no_payload = await anonymous.post(url, files={"thumb": ("image.jpg", b"x", "image/jpeg")})
        assert no_payload.status_code == 400
        nonsense = await anonymous.post(url, files={"payload": (None, "{not json")})
        assert nonsense.status_code == 400
        escape = msgspec.json.encode({**body, "Metadata": {"ratingKey": "../../library/sections/all"}})
        assert (await anonymous.post(url, files={"payload": (None, escape.decode())})).status_code == 400
    assert len(site.pms.seen) == asked, "nothing refused reached Plex"
    # The secret is kept as a hash only.
    conn = await asyncpg.connect(database_url)
    try:
        stored = await conn.fetchval("SELECT secret_hash FROM gateway.webhook_secrets")
    finally:
        await conn.close()
    assert stored and stored not in url and url.rsplit("/", 1)[1] not in stored


async def test_plex_test_connection_through_the_api(site: Sources) -> None:
    async with site.client() as client:
        before = await client.post("/api/v1/sources/plex/test")
        assert before.status_code == 400 and "no Plex server" in before.json()["detail"]
        await link_plex(site)
        ok = await client.post("/api/v1/sources/plex/test")
        assert ok.json() == {"ok": True, "server_name": "Fake Plex", "version": "1.41.0.0", "problem": ""}
        site.pms.token = "changed on the server"
        refused = (await client.post("/api/v1/sources/plex/test")).json()
        assert refused["ok"] is False and "refused the token" in refused["problem"]
        assert "Unauthorized" not in refused["problem"]
        assert topology.SOURCES_PLEX_TEST not in refused["problem"]
