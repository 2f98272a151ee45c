"""What every request passes, on a real gateway: headers on every answer, trusted host names, the body limit,
cross-site writes refused for sessions, logins limited, sessions that end when idle, Secure cookies behind a
proxy that says HTTPS, live streams that end with their login, and the browsable API docs."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import asyncpg
import httpx
from librarrarian_contracts import JobStarted, publish
from librarrarian_embedded.nats_server import free_port
from librarrarian_gateway.guards.headers import HEADERS

from .sites import API_KEY, PASSWORD, USER, Site, start

MIB = 1024 * 1024


@contextlib.asynccontextmanager
async def gateway_schema(site: Site) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(site.settings.database_url, server_settings={"search_path": "gateway"})
    try:
        yield conn
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def logged_in(site: Site) -> AsyncIterator[httpx.AsyncClient]:
    async with site.client(key=None) as client:
        login = await client.post("/login", data={"username": USER, "password": PASSWORD})
        assert login.status_code == 303
        yield client


async def raw(site: Site, head: str, *body: bytes) -> tuple[int, str]:
    """The status and head of the answer to a request written by hand: a head that promises a body, and
    as much of it as the test sends."""
    reader, writer = await asyncio.open_connection("127.0.0.1", site.settings.port)
    try:
        writer.write(head.replace("\n", "\r\n").encode() + b"\r\n")
        for part in body:
            writer.write(part)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        answer = (await reader.readuntil(b"\r\n\r\n")).decode()
    finally:
        writer.close()
    return int(answer.split(" ", 2)[1]), answer


def chunked(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


async def test_every_answer_carries_the_security_headers(site: Site) -> None:
    async with site.client(key=None) as anonymous, site.client() as api:
        answers = [
            await anonymous.get("/login"),
            await anonymous.get("/queue"),  # to the login page
            await anonymous.get("/api/v1/nodes"),  # 401
            await anonymous.get("/static/lib.js"),
            await anonymous.get("/no/such/page"),
            await api.get("/api/v1/nodes"),
        ]
    status, head = await raw(
        site, f"POST /api/v1/settings/import HTTP/1.1\nHost: 127.0.0.1\nContent-Length: {5 * MIB}\n"
    )
    assert status == 413 and all(
        f"{name}: {value}".lower() in head.lower() for name, value in HEADERS.items()
    )
    for answer in answers:
        for name, value in HEADERS.items():
            assert answer.headers.get(name) == value, (answer.request.url, name)
    assert "script-src 'self'" in HEADERS["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in HEADERS["Content-Security-Policy"]


async def test_only_trusted_host_names_are_served(site: Site) -> None:
    # Listening on loopback, the default is loopback names only: a page on another site cannot rebind its
    # name to this machine and talk to the gateway.
    async with site.client() as api:
        assert (await api.get("/healthz", headers={"Host": "attacker.example"})).status_code == 400
        assert (
            await api.get("/healthz", headers={"Host": f"localhost:{site.settings.port}"})
        ).status_code == 200
    named = replace(site.settings, port=free_port(), allowed_hosts=("media.lan", "*.home.arpa"))
    stopping, task = await start(replace(named, allowed_hosts=("127.0.0.1", *named.allowed_hosts)))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{named.port}") as client:
            for host, status in (
                ("media.lan", 200),
                ("tv.home.arpa", 200),
                ("localhost", 400),
                ("evil", 400),
            ):
                assert (await client.get("/healthz", headers={"Host": host})).status_code == status, host
    finally:
        stopping.set()
        await asyncio.wait_for(task, 20)


async def test_bodies_over_the_limit_are_refused_before_they_are_read(site: Site) -> None:
    put = f"PUT /api/v1/settings/folders HTTP/1.1\nHost: 127.0.0.1\nX-Api-Key: {API_KEY}\n"
    put += "Content-Type: application/json\n"
    # A declared length over the limit: answered at once, without a byte of the body sent.
    status, _ = await raw(site, put + f"Content-Length: {2 * MIB}\n")
    assert status == 413
    # No length declared (chunked): counted as it arrives, refused once past the limit.
    status, _ = await raw(site, put + "Transfer-Encoding: chunked\n", *[chunked(b" " * 64 * 1024)] * 17)
    assert status == 413
    async with site.client() as api:
        # A settings import may be larger (an export with many path mappings), up to its own limit.
        document = b'{"format": 1, "settings": {}' + b" " * (2 * MIB) + b"}"  # whitespace: valid JSON
        imported = await api.post(
            "/api/v1/settings/import", content=document, headers={"Content-Type": "application/json"}
        )
        assert imported.status_code == 200
        status, _ = await raw(
            site,
            f"POST /api/v1/settings/import HTTP/1.1\nHost: 127.0.0.1\nX-Api-Key: {API_KEY}\n"
            f"Content-Length: {5 * MIB}\n",
        )
        assert status == 413
        assert (await api.get("/api/v1/settings/folders")).json()["default"]  # nothing was changed


async def test_a_session_may_change_things_only_from_the_dashboards_own_pages(site: Site) -> None:
    async with logged_in(site) as browser:
        pause = "/api/v1/queue/pause"
        foreign = await browser.post(pause, headers={"Origin": "https://evil.example"})
        assert foreign.status_code == 403 and "another site" in foreign.json()["detail"]
        assert (await browser.post(pause, headers={"Origin": "null"})).status_code == 403
        other_port = {"Origin": f"http://127.0.0.1:{site.settings.port + 1}"}
        assert (await browser.post(pause, headers=other_port)).status_code == 403
        del browser.headers["Origin"]
        cross = await browser.post(pause, headers={"Sec-Fetch-Site": "cross-site"})
        assert cross.status_code == 403
        assert (await browser.post(pause, headers={"Sec-Fetch-Site": "same-site"})).status_code == 403
        assert (await browser.post(pause)).status_code == 403  # neither header: refused for a session
        assert (await browser.post(pause, headers={"Sec-Fetch-Site": "same-origin"})).status_code == 200
        assert (await browser.post(pause, headers={"Origin": site.url})).status_code == 200
        assert (
            await browser.get("/api/v1/queue", headers={"Origin": "https://evil.example"})
        ).status_code == 200
    async with site.client() as api:  # an API key is exempt: no page can make a browser send one
        assert (await api.post(pause, headers={"Origin": "https://evil.example"})).status_code == 200
    async with site.client(key=None) as anonymous:  # logging in from another site's form
        forged = await anonymous.post(
            "/login",
            data={"username": USER, "password": PASSWORD},
            headers={"Origin": "https://evil.example"},
        )
        assert forged.status_code == 403


async def test_failed_logins_lock_out_the_name_then_the_address(site: Site) -> None:
    async with site.client(key=None) as browser:
        for _ in range(5):
            wrong = await browser.post("/login", data={"username": USER, "password": "wrong password"})
            assert wrong.status_code == 401
        locked = await browser.post("/login", data={"username": USER, "password": PASSWORD})
        assert locked.status_code == 429 and 0 < int(locked.headers["Retry-After"]) <= 60
        assert "Too many failed logins" in locked.text
        # The same address trying other names runs into the limit per address.
        answers = [
            (await browser.post("/login", data={"username": f"guess{i}", "password": "x"})).status_code
            for i in range(20)
        ]
        assert answers == [401] * 15 + [429] * 5  # 5 + 15 failures from this address


async def test_a_session_unused_for_too_long_ends(site: Site) -> None:
    async with logged_in(site) as browser, gateway_schema(site) as db:
        assert (await browser.get("/api/v1/nodes")).status_code == 200
        # Its use is noted at most once a minute: a minute back, and a request brings it up to date.
        await db.execute("UPDATE sessions SET last_seen = now() - interval '2 minutes'")
        assert (await browser.get("/api/v1/nodes")).status_code == 200
        assert await db.fetchval("SELECT now() - last_seen < interval '1 minute' FROM sessions")
        idle = timedelta(minutes=site.settings.session_idle_minutes + 1)
        await db.execute("UPDATE sessions SET last_seen = now() - $1::interval", idle)
        assert (await browser.get("/api/v1/nodes")).status_code == 401
        page = await browser.get("/queue")
        assert page.status_code == 303 and page.headers["location"].startswith("/login")


async def test_the_cookie_is_secure_behind_a_trusted_proxy_that_says_https(site: Site) -> None:
    https = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    form = {"username": USER, "password": PASSWORD}
    async with site.client(key=None) as direct:  # no proxy is trusted: the header means nothing
        cookie = (await direct.post("/login", data=form, headers=https)).headers["set-cookie"]
        assert "secure" not in cookie.lower()
    behind = replace(site.settings, port=free_port(), forwarded_allow_ips=("127.0.0.1",))
    stopping, task = await start(behind)
    try:
        url = f"http://127.0.0.1:{behind.port}"
        async with httpx.AsyncClient(base_url=url, headers={"Origin": url}) as proxied:
            cookie = (await proxied.post("/login", data=form, headers=https)).headers["set-cookie"]
            assert "secure" in cookie.lower() and "httponly" in cookie.lower()
            plain = (await proxied.post("/login", data=form)).headers["set-cookie"]
            assert "secure" not in plain.lower()
    finally:
        stopping.set()
        await asyncio.wait_for(task, 20)


async def read_until_end(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in chunks])


async def test_logging_out_or_revoking_a_key_ends_its_live_stream(site: Site) -> None:
    async with logged_in(site) as browser, site.client() as admin:
        made = (await admin.post("/api/v1/keys", json={"name": "wall display", "scope": "read"})).json()
        async with (
            site.client(key=made["key"]) as display,
            browser.stream("GET", "/api/v1/events") as by_session,
            display.stream("GET", "/api/v1/events") as by_key,
            admin.stream("GET", "/api/v1/events") as bystander,
        ):
            chunks = [stream.aiter_bytes() for stream in (by_session, by_key, bystander)]
            for stream, received in zip((by_session, by_key, bystander), chunks, strict=True):
                assert stream.status_code == 200
                assert b"event: snapshot" in await anext(received)
            assert (await browser.post("/logout")).status_code == 303
            await asyncio.wait_for(read_until_end(chunks[0]), 10)
            assert (await admin.delete(f"/api/v1/keys/{made['id']}")).status_code == 200
            await asyncio.wait_for(read_until_end(chunks[1]), 10)
            # The admin's own stream goes on: it gets the next event.
            await publish(site.js, JobStarted(job_id=7, attempt=1, delivery=1, node="box", path="/m/a.mkv"))
            assert b"event: job" in await asyncio.wait_for(anext(chunks[2]), 10)


async def test_the_api_docs_come_from_the_package_for_logged_in_users(site: Site) -> None:
    async with site.client(key=None) as anonymous:
        away = await anonymous.get("/api/v1/docs")
        assert away.status_code == 303 and away.headers["location"].startswith("/login")
        assert (await anonymous.get("/api/v1/openapi.json")).status_code == 200
    async with logged_in(site) as browser:
        docs = await browser.get("/api/v1/docs")
        assert docs.status_code == 200 and "/static/swagger-ui/swagger-ui-bundle.js" in docs.text
        assert "<script>" not in docs.text and "http" not in docs.text.split("<body>")[1]
        bundle = await browser.get("/static/swagger-ui/swagger-ui-bundle.js")
        assert bundle.status_code == 200 and "SwaggerUIBundle" in bundle.text
