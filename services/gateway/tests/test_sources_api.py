"""``/api/v1/sources`` on a real uvicorn, with the real scanner behind it and fake Plex, plex.tv and Jellyfin
servers: every route needs a login or key, the scanner's refusals keep their status, and no reply ever
carries a token or an API key."""

from __future__ import annotations

from librarrarian_testing import eventually

from .sources_site import Sources, site

__all__ = ["site"]  # the fixture


ROUTES = [
    ("GET", "/api/v1/sources"),
    ("POST", "/api/v1/sources/plex/pin"),
    ("GET", "/api/v1/sources/plex/pin"),
    ("GET", "/api/v1/sources/plex/servers"),
    ("GET", "/api/v1/sources/plex/libraries"),
    ("PUT", "/api/v1/sources/plex"),
    ("DELETE", "/api/v1/sources/plex"),
    ("POST", "/api/v1/sources/plex/test"),
    ("GET", "/api/v1/sources/plex/webhook"),
    ("POST", "/api/v1/sources/plex/webhook"),
    ("DELETE", "/api/v1/sources/plex/webhook"),
    ("PUT", "/api/v1/sources/jellyfin"),
    ("POST", "/api/v1/sources/jellyfin/test"),
    ("GET", "/api/v1/sources/jellyfin/libraries"),
    ("POST", "/api/v1/sources/sync"),
]


async def test_every_route_needs_a_login_or_an_api_key(site: Sources) -> None:
    async with site.client(key=None) as anonymous, site.client(key="wrong") as wrong:
        for method, path in ROUTES:
            assert (await anonymous.request(method, path, json={})).status_code == 401, path
            assert (await wrong.request(method, path, json={})).status_code == 401, path
    async with site.client() as client:
        spec = (await client.get("/api/v1/openapi.json")).json()
    documented = {(m.upper(), p) for p, item in spec["paths"].items() for m in item}
    assert set(ROUTES) <= documented


async def test_plex_link_choice_and_sync_through_the_api(site: Sources) -> None:
    bodies: list[str] = []
    async with site.client() as client:
        pin = await client.post("/api/v1/sources/plex/pin")
        assert pin.status_code == 201, pin.text
        assert pin.json()["link_url"] == "https://plex.tv/link"
        assert not (await client.get("/api/v1/sources/plex/pin")).json()["linked"]
        site.tv.link(pin.json()["code"])
        assert (await client.get("/api/v1/sources/plex/pin")).json()["linked"]

        server_id = site.tv.add_server("Den", site.pms_url, site.pms.token)
        servers = await client.get("/api/v1/sources/plex/servers")
        assert [s["id"] for s in servers.json()["servers"]] == [server_id]
        chosen = await client.put(
            "/api/v1/sources/plex",
            json={
                "server_id": server_id,
                "sections": ["1"],
                "mappings": [{"server": "/data", "local": str(site.media)}],
            },
        )
        assert chosen.status_code == 200, chosen.text
        libraries = await client.get("/api/v1/sources/plex/libraries")
        assert [lib["title"] for lib in libraries.json()["libraries"]] == ["Movies"]
        unknown = await client.put("/api/v1/sources/plex", json={"server_id": "nope"})
        assert unknown.status_code == 400 and "no server" in unknown.json()["detail"]

        sync = await client.post("/api/v1/sources/sync", json={"sources": ["plex"]})
        assert sync.status_code == 202 and sync.json()["sources"] == ["plex"]
        await eventually(
            lambda: any(s.path == "/library/sections/1/all" for s in site.pms.seen), message="Plex synced"
        )
        status = await client.get("/api/v1/sources")
        assert status.json()["plex"]["configured"] is True
        bodies += [r.text for r in (pin, servers, chosen, libraries, sync, status)]
    for secret in site.secrets():
        assert not any(secret in body for body in bodies)


async def test_jellyfin_set_up_test_and_sync_through_the_api(site: Sources) -> None:
    async with site.client() as client:
        nothing = await client.post("/api/v1/sources/sync", json={})
        assert nothing.status_code == 409
        bad = await client.put("/api/v1/sources/jellyfin", json={"url": "ftp://example", "api_key": "k"})
        assert bad.status_code == 400
        set_up = await client.put(
            "/api/v1/sources/jellyfin",
            json={
                "url": site.jf_url,
                "api_key": site.jf.api_key,
                "libraries": [site.jf.libraries[0].item_id],
                "mappings": [{"server": "/media", "local": str(site.media)}],
            },
        )
        assert set_up.status_code == 200, set_up.text
        assert set_up.json()["configured"] is True and "api_key" not in set_up.json()
        test = await client.post("/api/v1/sources/jellyfin/test")
        assert test.json() == {
            "ok": True,
            "server_name": "Fake Jellyfin",
            "version": "10.10.7",
            "problem": "",
        }
        libraries = await client.get("/api/v1/sources/jellyfin/libraries")
        assert [lib["title"] for lib in libraries.json()["libraries"]] == ["Movies"]
        sync = await client.post("/api/v1/sources/sync", json={})
        assert sync.status_code == 202 and sync.json()["sources"] == ["jellyfin"]
        await eventually(lambda: any(s.path == "/Items" for s in site.jf.seen), message="Jellyfin synced")
        status = await client.get("/api/v1/sources")
        for body in (set_up.text, test.text, libraries.text, sync.text, status.text):
            assert site.jf.api_key not in body
