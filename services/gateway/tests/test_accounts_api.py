"""Users and API keys through ``/api/v1/users`` and ``/api/v1/keys`` and ``librarrarian admin``, on a real
gateway: a key is shown once with its scope and works to that scope only; listings hold no secret; revoking
a key or deleting a user ends them at once; the last admin stays; settings imports are checked like the
routes they stand for."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import httpx

from .sites import Site


async def test_a_key_is_shown_once_and_works_to_its_scope_only(site: Site) -> None:
    async with site.client() as admin:
        made = await admin.post("/api/v1/keys", json={"name": "home assistant", "scope": "read"})
        assert made.status_code == 201
        key = made.json()
        assert key["scope"] == "read" and key["prefix"] == key["key"][:8] and len(key["key"]) > 30
        listed = (await admin.get("/api/v1/keys")).json()
        assert {k["name"] for k in listed} == {"API_KEY", "home assistant"}
        assert key["key"] not in str(listed) and "hash" not in str(listed)
        async with site.client(key=key["key"]) as reader:
            assert (await reader.get("/api/v1/nodes")).status_code == 200
            refused = await reader.post("/api/v1/queue/pause")
            assert refused.status_code == 403 and "needs the control scope" in refused.json()["detail"]
            assert (await reader.get("/api/v1/settings/export")).status_code == 403
            assert (await admin.delete(f"/api/v1/keys/{key['id']}")).status_code == 200
            assert (await reader.get("/api/v1/nodes")).status_code == 401
        assert (await admin.delete(f"/api/v1/keys/{key['id']}")).status_code == 404
        assert (await admin.post("/api/v1/keys", json={"name": "x", "scope": "root"})).status_code == 422
        assert (await admin.post("/api/v1/keys", json={"name": " x", "scope": "read"})).status_code == 400


async def test_users_have_scopes_and_the_last_admin_stays(site: Site) -> None:
    async with site.client() as admin:
        weak = await admin.post(
            "/api/v1/users", json={"name": "kid", "password": "aaaaaaaa", "scope": "read"}
        )
        assert weak.status_code == 400 and "different characters" in weak.json()["detail"]
        made = await admin.post(
            "/api/v1/users", json={"name": "kid", "password": "cartoons all day", "scope": "control"}
        )
        assert made.status_code == 201 and made.json()["scope"] == "control"
        again = {"name": "kid", "password": "cartoons all day", "scope": "read"}
        assert (await admin.post("/api/v1/users", json=again)).status_code == 409
        listed = (await admin.get("/api/v1/users")).json()
        assert [(u["name"], u["scope"]) for u in listed] == [("admin", "admin"), ("kid", "control")]
        assert "password" not in str(listed) and "scrypt" not in str(listed)

        async with site.client(key=None) as kid:
            login = await kid.post("/login", data={"username": "kid", "password": "cartoons all day"})
            assert login.status_code == 303
            assert (await kid.post("/api/v1/queue/pause")).status_code == 200
            assert (await kid.get("/options")).status_code == 403
            assert "/options" not in (await kid.get("/")).text  # no link to a page it may not open
            demoted = await admin.patch("/api/v1/users/kid", json={"scope": "read"})
            assert demoted.status_code == 200 and demoted.json()["scope"] == "read"
            assert (await kid.post("/api/v1/queue/pause")).status_code == 403  # at once, same session
            deleted = await admin.delete("/api/v1/users/kid")
            assert deleted.status_code == 200
            assert (await kid.get("/api/v1/nodes")).status_code == 401  # its session ended with it

        last = await admin.patch("/api/v1/users/admin", json={"scope": "read"})
        assert last.status_code == 409 and "last admin" in last.json()["detail"]
        assert (await admin.delete("/api/v1/users/admin")).status_code == 409
        assert (await admin.delete("/api/v1/users/nobody")).status_code == 404
        assert (await admin.patch("/api/v1/users/nobody", json={"scope": "read"})).status_code == 404


async def test_the_cli_shows_and_sets_scopes(site: Site, database_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": database_url}

    async def admin(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "librarrarian_gateway.admin", *args],
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
        )

    made = await admin("create-api-key", "sonarr", "--scope", "control")
    assert made.returncode == 0 and "scope control" in made.stderr and "not shown again" in made.stderr
    key = made.stdout.strip()
    async with site.client(key=key) as sonarr:
        assert (await sonarr.post("/api/v1/scans", json={})).status_code == 202
        assert (await sonarr.patch("/api/v1/settings/ui", json={"theme": "dark"})).status_code == 403
    listed = (await admin("list-api-keys")).stdout
    assert "sonarr" in listed and "control" in listed and key not in listed
    weak = await admin("create-user", "guest", "--scope", "read", "--password-stdin", stdin="short\n")
    assert weak.returncode != 0 and "at least 8 characters" in weak.stderr
    user = await admin(
        "create-user", "guest", "--scope", "read", "--password-stdin", stdin="guest password\n"
    )
    assert user.returncode == 0 and "scope read" in user.stdout
    assert (await admin("set-scope", "guest", "control")).returncode == 0
    assert "guest\tcontrol" in (await admin("list-users")).stdout
    refused = await admin("delete-user", "admin")
    assert refused.returncode == 1 and "last admin" in refused.stderr
    assert (await admin("delete-user", "guest")).returncode == 0
    assert (await admin("revoke-api-key", "--", key[:8])).returncode == 0
    async with site.client(key=key) as sonarr:
        assert (await sonarr.get("/api/v1/nodes")).status_code == 401


async def test_a_settings_import_is_checked_like_the_routes_it_stands_for(site: Site) -> None:
    tv = str(site.media / "TV")
    async with site.client() as api:
        before = (await api.get("/api/v1/settings/export")).json()["settings"]

        async def imported(settings: dict[str, object]) -> httpx.Response:
            return await api.post("/api/v1/settings/import", json={"format": 1, "settings": settings})

        outside = {"scanner.folders": {"folders": [{"path": "/etc", "type": "movies"}]}}
        answer = await imported(outside)
        assert answer.status_code == 400 and "outside the media paths" in answer.json()["detail"]
        nul = {
            "ui": {"theme": "dark"},
            "scanner.folders": {"folders": [{"path": tv + "\x00/x", "type": "tv"}]},
        }
        answer = await imported(nul)
        assert answer.status_code == 400 and "NUL" in answer.json()["detail"]
        escaping = {"scanner.folders": {"folders": [{"path": tv + "/../../..", "type": "tv"}]}}
        assert (await imported(escaping)).status_code == 400
        twice = {
            "scanner.folders": {"folders": [{"path": tv, "type": "tv"}, {"path": tv + "/", "type": "tv"}]}
        }
        assert (await imported(twice)).status_code == 400
        unknown = {"ui": {"theme": "dark", "font": "comic"}}
        assert (await imported(unknown)).status_code == 422
        assert (await api.get("/api/v1/settings/export")).json()["settings"] == before  # nothing changed
        good = {"ui": {"theme": "dark"}, "scanner.folders": {"folders": [{"path": tv + "/.", "type": "tv"}]}}
        assert (await imported(good)).status_code == 200
        folders = (await api.get("/api/v1/settings/folders")).json()["folders"]
        assert [(f["path"], f["type"]) for f in folders] == [
            (str((site.media / "TV").resolve()), "tv")
        ]  # stored resolved
        # The routes themselves refuse a NUL byte in a path with 400 too (never a 500).
        put = await api.put("/api/v1/settings/folders", json={"folders": [{"path": tv + "\x00"}]})
        assert put.status_code == 400
        assert (await api.post("/api/v1/scans", json={"roots": [tv + "\x00"]})).status_code == 400
