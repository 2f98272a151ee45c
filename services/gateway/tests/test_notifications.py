"""Notifications through Apprise to a local HTTP server (its ``json://`` target), from a real gateway and
scheduler on real NATS and PostgreSQL: a job failed for good, the queue drained, a storm of failures as one
message, nodes, a backup, the test button; the URL never shown or exported; where a URL may send
(``PRIVATE_SERVERS``: ``all`` here, since the receiving server listens on loopback, unless a test says)."""

from __future__ import annotations

from collections.abc import Iterator

import asyncpg
import httpx
import pytest
from librarrarian_contracts import BackupFailed, publish, topology
from librarrarian_runtime.outbound import PrivateServers
from librarrarian_testing import eventually

from .receiving import Receiver, receiving
from .seeds import failure, node, queue_file, queue_files
from .sites import Site

SECRET = "s3cret-token-4711"


@pytest.fixture
def private_servers() -> PrivateServers:
    return PrivateServers.ALL


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as running:
        yield running


def url_of(receiver: Receiver) -> str:
    return f"json://hooks:{SECRET}@127.0.0.1:{receiver.port}/librarrarian"


async def set_up(api: httpx.AsyncClient, receiver: Receiver, **settings: object) -> None:
    added = await api.post("/api/v1/notifications/urls", json={"url": url_of(receiver)})
    assert added.status_code == 201, added.text
    assert added.json()["service"] == "JSON" and SECRET not in added.text
    changed = await api.patch("/api/v1/notifications", json=settings)
    assert changed.status_code == 200, changed.text


async def arrived(receiver: Receiver, title: str) -> dict[str, object]:
    message = await eventually(lambda: receiver.message(title), timeout=30, message=f"{title!r} received")
    assert isinstance(message, dict)
    return message


async def test_a_job_failed_for_good_reaches_the_url_which_is_never_shown(
    site: Site, receiver: Receiver
) -> None:
    async with site.client() as api:
        await set_up(api, receiver, window_seconds=0.5)
        shown = await api.get("/api/v1/notifications")
        assert SECRET not in shown.text and str(receiver.port) not in shown.text
        assert [t["scheme"] for t in shown.json()["targets"]] == ["json"]
        exported = await api.get("/api/v1/settings/export")
        assert SECRET not in exported.text and str(receiver.port) not in exported.text
        assert exported.json()["settings"]["notifications"]["window_seconds"] == 0.5

        job_id = await queue_file(site, "/m/TV/Broken.mkv")
        await publish(
            site.js, failure(job_id, "/m/TV/Broken.mkv", "Conversion failed!", reason="invalid data")
        )
        failed = await arrived(receiver, "A job failed for good")
        assert failed["message"] == "/m/TV/Broken.mkv: invalid data"
        drained = await arrived(receiver, "The queue is empty")
        assert drained["message"] == "0 done, 1 failed, 0 skipped"
        assert receiver.authorizations[0].startswith("Basic ")  # the URL's credentials went where they belong


async def test_a_storm_of_failures_is_one_message(site: Site, receiver: Receiver) -> None:
    paths = [f"/m/TV/Storm {n:02}.mkv" for n in range(12)]
    async with site.client() as api:
        await set_up(api, receiver, window_seconds=5, events=["job_failed"])
        ids = await queue_files(site, *paths)
        for path in paths:
            await publish(site.js, failure(ids[path], path, "Conversion failed!", reason="broken"))
        storm = await arrived(receiver, "12 jobs failed for good")
        lines = str(storm["message"]).splitlines()
        assert lines[-1] == "… and 2 more" and len(lines) == 11
        assert set(lines[:-1]) <= {f"{path}: broken" for path in paths}
        # Nothing else came meanwhile, and nothing comes before a test sent after it: the storm was one message.
        assert (await api.post("/api/v1/notifications/test")).status_code == 200
        await arrived(receiver, "Librarrarian: a test notification")
        assert receiver.titles() == ["12 jobs failed for good", "Librarrarian: a test notification"]


async def test_nodes_and_backups_are_notified(site: Site, receiver: Receiver) -> None:
    async with site.client() as api:
        await set_up(api, receiver, window_seconds=0.5)
        nodes = await site.js.key_value(topology.NODES.name)
        await nodes.put("old-box", node("old-box").replace(b'"0.1.0"', b'"0.0.9"'))
        mismatch = await arrived(receiver, "A node runs another version than the dashboard")
        assert mismatch["message"] == "old-box runs 0.0.9; the dashboard runs 0.1.0"
        await nodes.delete("old-box")
        offline = await arrived(receiver, "An encoder node went offline")
        assert offline["message"] == "old-box stopped or stopped answering"
        await publish(site.js, BackupFailed(trigger="schedule", reason="the backup folder is full"))
        backup = await arrived(receiver, "A backup failed")
        assert str(backup["message"]).endswith("UTC (schedule): the backup folder is full")


async def test_the_test_button_and_bad_urls(gateway: Site, receiver: Receiver) -> None:
    async with gateway.client() as api:
        assert (await api.post("/api/v1/notifications/test")).status_code == 409
        refused = await api.post("/api/v1/notifications/urls", json={"url": "nonsense://x/y"})
        assert refused.status_code == 422 and "nonsense://x/y" not in refused.text
        await set_up(api, receiver)
        sent = await api.post("/api/v1/notifications/test")
        assert sent.json() == {"targets": 1, "sent": True}
        assert receiver.received[0]["message"] == "Notifications reach you here."
        receiver.status = 500
        failing = await api.post("/api/v1/notifications/test")
        assert failing.status_code == 502 and SECRET not in failing.text
        (target,) = (await api.get("/api/v1/notifications")).json()["targets"]
        assert (await api.delete(f"/api/v1/notifications/urls/{target['id']}")).status_code == 204
        assert (await api.get("/api/v1/notifications")).json()["targets"] == []
        assert (await api.patch("/api/v1/notifications", json={"window_seconds": 0})).status_code == 422
        assert (await api.patch("/api/v1/notifications", json={"events": ["nothing"]})).status_code == 422


METADATA_URLS = [
    "json://169.254.169.254/latest/meta-data",
    "form://[fd00:ec2::254]/x",
    "gotify://metadata.google.internal/AbCdEfGhIjKlMnO",
    "mailto://me:pw@example.com?smtp=169.254.169.254",  # the SMTP server is what e-mail connects to
]


@pytest.mark.parametrize("private_servers", list(PrivateServers))
async def test_a_cloud_metadata_or_link_local_server_is_never_added(
    gateway: Site, private_servers: PrivateServers
) -> None:
    async with gateway.client() as api:
        for url in [*METADATA_URLS, "json://169.254.10.1:8080/hook"]:
            refused = await api.post("/api/v1/notifications/urls", json={"url": url})
            assert refused.status_code == 400, (url, refused.text)
            assert "never allowed" in refused.json()["detail"] and "pw" not in refused.text
        assert (await api.get("/api/v1/notifications")).json()["targets"] == []


@pytest.mark.parametrize("private_servers", [PrivateServers.LAN])
async def test_this_machine_is_refused_under_lan_and_the_home_network_is_not(
    gateway: Site, receiver: Receiver
) -> None:
    async with gateway.client() as api:
        for url in (
            url_of(receiver),
            f"json://localhost:{receiver.port}/x",
            f"ntfy://[::1]:{receiver.port}/t",
        ):
            refused = await api.post("/api/v1/notifications/urls", json={"url": url})
            assert refused.status_code == 400, (url, refused.text)
            assert "PRIVATE_SERVERS=all" in refused.json()["detail"] and SECRET not in refused.text
        # The home network is allowed under lan; a service at its fixed public address has no host to check.
        for url in ("json://192.168.77.7/hook", "discord://1234567890/abcdefghij"):
            assert (await api.post("/api/v1/notifications/urls", json={"url": url})).status_code == 201, url
        assert [t["scheme"] for t in (await api.get("/api/v1/notifications")).json()["targets"]] == [
            "json",
            "discord",
        ]


@pytest.mark.parametrize("private_servers", [PrivateServers.LAN])
async def test_the_server_is_checked_again_when_sending(gateway: Site, receiver: Receiver) -> None:
    """A URL kept while it was allowed (its name resolved elsewhere, or the setting was wider) is checked
    again at every message: nothing reaches this machine under lan."""
    conn = await asyncpg.connect(gateway.settings.database_url, server_settings={"search_path": "gateway"})
    try:
        await conn.execute("INSERT INTO notification_urls (url) VALUES ($1)", url_of(receiver))
    finally:
        await conn.close()
    async with gateway.client() as api:
        failing = await api.post("/api/v1/notifications/test")
        assert failing.status_code == 502 and SECRET not in failing.text
    assert receiver.received == []


async def test_a_redirect_is_not_followed(gateway: Site, receiver: Receiver) -> None:
    with receiving() as elsewhere:
        receiver.redirect_to = f"http://127.0.0.1:{elsewhere.port}/stolen"
        async with gateway.client() as api:
            await set_up(api, receiver)
            redirected = await api.post("/api/v1/notifications/test")
            assert redirected.status_code == 502, redirected.text
        assert len(receiver.received) == 1 and elsewhere.received == []
