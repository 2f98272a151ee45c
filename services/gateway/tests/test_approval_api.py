"""The REST routes for jobs awaiting approval and stale-file scans, on a real gateway with the real scheduler
(NATS, PostgreSQL): release one or all, clear the waiting ones, and the clear errors for bad requests."""

from __future__ import annotations

from librarrarian_contracts import (
    FileIdentity,
    FindStaleFiles,
    StaleFileFound,
    publish,
    topology,
)
from librarrarian_contracts.codec import cleanup_decoder
from librarrarian_testing import eventually
from nats.aio.client import Client
from nats.js import JetStreamContext

from .sites import Site


async def found(site: Site, js: JetStreamContext, *names: str) -> dict[str, int]:
    """Stale files reported as the cleanup service would; their job ids by name, once they wait."""
    for i, name in enumerate(names):
        identity = FileIdentity(size=10, mtime_ns=1, inode=i + 1)
        await publish(js, StaleFileFound(path=str(site.media / name), identity=identity, why="old"))
    async with site.client() as api:

        async def waiting() -> dict[str, int] | None:
            listed = await api.get("/api/v1/jobs", params={"status": "awaiting_approval"})
            if listed.status_code == 503:
                return None  # the scheduler is still starting
            ids = {j["path"].rsplit("/", 1)[-1]: j["id"] for j in listed.json()["items"]}
            return ids if set(names) <= set(ids) else None

        return await eventually(waiting, message="jobs awaiting approval")


async def test_the_routes_need_a_key_and_are_documented(site: Site) -> None:
    routes = (
        ("POST", "/api/v1/jobs/1/release"),
        ("POST", "/api/v1/jobs/release"),
        ("POST", "/api/v1/cleanup/scan"),
    )
    async with site.client(key=None) as anonymous:
        for method, path in routes:
            assert (await anonymous.request(method, path)).status_code == 401, path
    async with site.client() as api:
        described = (await api.get("/api/v1/openapi.json")).json()["paths"]
        for method, path in routes:
            assert method.lower() in described[path.replace("/1/", "/{job_id}/")], path


async def test_release_one_then_the_rest_of_a_type(site: Site, bus: tuple[Client, JetStreamContext]) -> None:
    _, js = bus
    ids = await found(site, js, ".tmp_a", "b.lock", ".tmp_c")
    async with site.client() as api:
        one = await api.post(f"/api/v1/jobs/{ids['.tmp_a']}/release")
        assert one.status_code == 200 and one.json() == {"job_id": ids[".tmp_a"], "detail": "queued"}
        again = await api.post(f"/api/v1/jobs/{ids['.tmp_a']}/release")
        assert again.status_code == 409 and again.json()["detail"].endswith(
            "is pending, not awaiting approval"
        )
        assert (await api.post("/api/v1/jobs/99999/release")).status_code == 404
        assert (await api.post("/api/v1/jobs/release", params={"kind": "transcode"})).json()["released"] == 0
        bad = await api.post("/api/v1/jobs/release", params={"kind": "renames"})
        assert bad.status_code == 422
        rest = await api.post("/api/v1/jobs/release", params={"kind": "cleanup"})
        assert rest.status_code == 200 and rest.json()["released"] == 2
        items = (await api.get("/api/v1/jobs", params={"kind": "cleanup"})).json()["items"]
        assert sorted(j["status"] for j in items) == ["pending"] * 3


async def test_clear_the_jobs_awaiting_approval(site: Site, bus: tuple[Client, JetStreamContext]) -> None:
    _, js = bus
    await found(site, js, ".tmp_a", "b.lock")
    async with site.client() as api:
        pending = await api.delete("/api/v1/jobs", params={"status": "pending", "kind": "cleanup"})
        assert pending.json() == {"deleted": 0}  # the waiting ones are not pending
        cleared = await api.delete("/api/v1/jobs", params={"status": "awaiting_approval"})
        assert cleared.json() == {"deleted": 2}
        assert (await api.delete("/api/v1/jobs", params={"status": "done"})).status_code == 422
        assert (await api.get("/api/v1/jobs", params={"kind": "cleanup"})).json()["items"] == []


async def test_a_stale_file_scan_is_a_command_on_the_stream(
    site: Site, bus: tuple[Client, JetStreamContext]
) -> None:
    _, js = bus
    async with site.client() as api:
        accepted = await api.post("/api/v1/cleanup/scan")
    assert accepted.status_code == 202
    # No cleanup service runs here: the command waits in the stream for one.
    stored = await js.get_last_msg(topology.CLEANUP.name, topology.CLEANUP_FIND_STALE_FILES)
    command = cleanup_decoder.decode(stored.data or b"")
    assert isinstance(command, FindStaleFiles) and command.event_id == accepted.json()["id"]
