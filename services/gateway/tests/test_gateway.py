"""The gateway on a real uvicorn, with the real scheduler and history services, NATS and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from importlib.metadata import version

import httpx
import pytest
from librarrarian_contracts import StartScan, topology
from librarrarian_contracts.codec import scan_decoder
from librarrarian_embedded.nats_server import free_port
from librarrarian_gateway.settings import Settings
from librarrarian_runtime import env
from librarrarian_testing import eventually
from nats.aio.client import Client
from nats.js import JetStreamContext

from .seeds import seed_cluster
from .sites import API_KEY, PASSWORD, Site, start


async def test_the_api_needs_a_key_or_a_session(site: Site) -> None:
    async with site.client(key=None) as anonymous:
        for path in ("/api/v1/nodes", "/api/v1/jobs", "/api/v1/history", "/api/v1/stats"):
            response = await anonymous.get(path)
            assert response.status_code == 401, path
            assert "X-Api-Key" in response.json()["detail"]
        page = await anonymous.get("/queue")
        assert page.status_code == 303 and page.headers["location"] == "/login?next=/queue"
        assert (await anonymous.get("/healthz")).json() == {"status": "ok", "nats": True, "database": True}
    async with site.client(key="wrong-key") as wrong:
        assert (await wrong.get("/api/v1/nodes")).status_code == 401
    async with site.client() as good:
        assert (await good.get("/api/v1/nodes")).status_code == 200


async def test_the_api_shows_nodes_jobs_history_and_stats(site: Site) -> None:
    await seed_cluster(site)
    async with site.client() as api:
        nodes = (await api.get("/api/v1/nodes")).json()
        assert nodes[0]["node"] == "node-a" and nodes[0]["progress"][0]["percent"] == 42.0

        async def jobs() -> list[dict[str, object]]:
            return (await api.get("/api/v1/jobs")).json()["items"]  # type: ignore[no-any-return]

        items = await eventually(jobs)
        assert items[0]["path"] == "/m/Movies/Heat (1995).mp4" and items[0]["status"] == "pending"
        assert set(items[0]) >= {
            "kind",
            "attempts",
            "node",
            "reason",
            "queued_at",
            "started_at",
            "finished_at",
        }
        assert (await api.get("/api/v1/jobs", params={"status": "bogus"})).status_code == 400

        async def history() -> list[dict[str, object]]:
            return (await api.get("/api/v1/history", params={"search": "show"})).json()["items"]  # type: ignore[no-any-return]

        assert (await eventually(history))[0]["size_after"] == 800_000_000
        stats = (await api.get("/api/v1/stats")).json()
        assert (
            stats["files_encoded"] == 1
            and stats["bytes_saved"] == 1_200_000_000
            and stats["jobs"]["pending"] == 1
        )
        assert (await api.get("/api/v1/history", params={"limit": 0})).status_code == 422


async def test_login_pages_and_logout(site: Site) -> None:
    await seed_cluster(site)
    async with site.client(key=None) as browser:
        wrong = await browser.post("/login", data={"username": "admin", "password": "nope"})
        assert wrong.status_code == 401 and "Wrong user name or password" in wrong.text
        login = await browser.post(
            "/login", data={"username": "admin", "password": PASSWORD, "next": "/history"}
        )
        assert login.status_code == 303 and login.headers["location"] == "/history"
        cookie = login.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie
        dashboard = await browser.get("/")
        assert (
            dashboard.status_code == 200
            and "node-a" in dashboard.text
            and "Heat (1995).mp4" in dashboard.text
        )
        assert "1.2 GB" in dashboard.text  # space saved

        async def queued() -> bool:
            return "Heat (1995).mp4" in (await browser.get("/queue")).text

        await eventually(queued)
        history = await browser.get("/history", params={"search": "Show"})
        assert "Show S01E01.mkv" in history.text and "60 %" in history.text
        assert (await browser.get("/api/v1/nodes")).status_code == 200  # the session works for the API too
        await browser.post("/logout")
        assert (await browser.get("/")).status_code == 303
        assert (await browser.get("/login", params={"next": "https://evil.example/"})).text.count("evil") == 0


async def test_a_scan_request_is_published_and_paths_are_contained(
    site: Site, bus: tuple[Client, JetStreamContext]
) -> None:
    _, js = bus
    async with site.client() as api:
        accepted = await api.post("/api/v1/scans", json={"roots": [str(site.media / "TV")], "force": True})
        assert accepted.status_code == 202
        outside = await api.post("/api/v1/scans", json={"roots": [str(site.media / ".." / "..")]})
        assert outside.status_code == 400 and "outside the media paths" in outside.json()["detail"]
    sub = await js.pull_subscribe(topology.SCAN_START, durable="test-reader", stream=topology.CONTROL.name)
    (msg,) = await sub.fetch(1, timeout=5)
    command = scan_decoder.decode(msg.data)
    assert isinstance(command, StartScan)
    assert command.roots == (str((site.media / "TV").resolve()),) and command.force
    info = await js.stream_info(topology.CONTROL.name)
    assert info.state.messages == 1  # the refused one was never published


async def test_503_when_a_service_does_not_answer(gateway: Site) -> None:
    async with gateway.client() as api:
        for path in (
            "/api/v1/jobs",
            "/api/v1/jobs/1",
            "/api/v1/history",
            "/api/v1/history/1",
            "/api/v1/stats",
        ):
            response = await api.get(path)
            assert response.status_code == 503 and "not answering" in response.json()["detail"], path
        for method, path in (("DELETE", "/api/v1/jobs/1"), ("POST", "/api/v1/jobs/1/retry")):
            assert (await api.request(method, path)).status_code == 503, path
        # A page still opens, and says what is missing.
        queue = await api.get("/queue")
        assert queue.status_code == 200 and "Some data is missing" in queue.text


@contextlib.asynccontextmanager
async def another_gateway(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A second gateway on the same NATS and database, started with ``settings``, and a client for it."""
    again = replace(settings, port=free_port())
    stopping, task = await start(again)
    try:
        url = f"http://127.0.0.1:{again.port}"
        async with httpx.AsyncClient(base_url=url, headers={"Origin": url}) as client:
            yield client
    finally:
        stopping.set()
        await asyncio.wait_for(task, 20)


async def logs_in(client: httpx.AsyncClient, password: str) -> bool:
    answer = await client.post("/login", data={"username": "admin", "password": password})
    return answer.status_code == 303


async def test_a_changed_local_password_replaces_the_old_one_and_ends_its_sessions(site: Site) -> None:
    async with site.client(key=None) as browser:
        assert await logs_in(browser, PASSWORD)
        assert (await browser.get("/api/v1/nodes")).status_code == 200
        async with another_gateway(replace(site.settings, local_password="another password")) as again:
            assert not await logs_in(again, PASSWORD) and await logs_in(again, "another password")
        assert (await browser.get("/api/v1/nodes")).status_code == 401  # the old password's session ended
    # A password set by hand since stays while the environment's does not change.
    await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "librarrarian_gateway.admin", "set-password", "admin", "--password-stdin"],
        env={**os.environ, "DATABASE_URL": site.settings.database_url},
        input="set by hand\n",
        text=True,
        check=True,
    )
    async with another_gateway(replace(site.settings, local_password="another password")) as again:
        assert await logs_in(again, "set by hand") and not await logs_in(again, "another password")


async def test_a_revoked_api_key_stays_revoked_whatever_the_environment_says(site: Site) -> None:
    async with site.client() as admin:
        (env_key,) = [k for k in (await admin.get("/api/v1/keys")).json() if k["name"] == "API_KEY"]
        assert env_key["scope"] == "admin" and env_key["prefix"] == API_KEY[:8]
        assert (await admin.delete(f"/api/v1/keys/{env_key['id']}")).status_code == 200
        assert (await admin.get("/api/v1/nodes")).status_code == 401
    async with another_gateway(site.settings) as again:  # API_KEY is still in its environment
        answer = await again.get("/api/v1/nodes", headers={"X-Api-Key": API_KEY})
        assert answer.status_code == 401


async def test_auth_can_be_disabled_only_on_loopback(site: Site) -> None:
    with pytest.raises(env.SettingsError, match=r"AUTH_ENABLED=false is refused while HOST is 0\.0\.0\.0"):
        replace(site.settings, host="0.0.0.0", auth_enabled=False)
    with pytest.raises(env.SettingsError, match="LOCAL_PASSWORD is refused: a password needs at least 8"):
        replace(site.settings, local_password="short")
    async with another_gateway(replace(site.settings, auth_enabled=False)) as anyone:
        assert (await anyone.get("/api/v1/nodes")).status_code == 200
        # Anyone: but not any web page the browser happens to show.
        foreign = {"Origin": "https://evil.example"}
        assert (await anyone.post("/api/v1/queue/pause", headers=foreign)).status_code == 403
        assert (await anyone.post("/api/v1/queue/pause")).status_code == 200


async def test_the_openapi_document_lists_the_api(site: Site) -> None:
    async with site.client(key=None) as client:
        document = (await client.get("/api/v1/openapi.json")).json()
    paths = set(document["paths"])
    assert {
        "/api/v1/nodes",
        "/api/v1/jobs",
        "/api/v1/history",
        "/api/v1/stats",
        "/api/v1/scans",
        "/healthz",
    } <= paths
    assert "/login" not in paths


async def test_the_asyncapi_document_is_served_beside_the_openapi_one(site: Site) -> None:
    async with site.client(key=None) as client:
        response = await client.get("/api/v1/asyncapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["asyncapi"] == "3.0.0" and document["info"]["version"] == version("librarrarian-gateway")
    assert document["channels"]["queue_job_state_changed"]["address"] == "queue.job_state_changed"


async def test_admin_cli_makes_a_working_api_key(site: Site, database_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": database_url}
    made = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "librarrarian_gateway.admin", "create-api-key", "sonarr"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    key = made.stdout.strip()
    assert len(key) > 30 and "not shown again" in made.stderr
    async with site.client(key=key) as api:
        assert (await api.get("/api/v1/nodes")).status_code == 200
    listed = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "librarrarian_gateway.admin", "list-api-keys"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "sonarr" in listed.stdout and key not in listed.stdout
    await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "librarrarian_gateway.admin", "revoke-api-key", "--", key[:8]],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    async with site.client(key=key) as api:
        assert (await api.get("/api/v1/nodes")).status_code == 401
