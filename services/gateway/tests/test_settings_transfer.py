"""The settings export holds everything a user chose but no secret, and an import gives it all back, checked
as the routes check it: a real gateway and scanner, with fake plex.tv, Plex and Jellyfin servers."""

from __future__ import annotations

import json
from typing import Any

from .test_sources_api import Sources, site  # noqa: F401 - the fixture

ROUTES: dict[str, tuple[str, dict[str, Any]]] = {
    "transcode": ("PATCH", {"target_codec": "av1", "min_size_mb": 200, "replace_hard_links": True}),
    "scanner.folders": ("PUT", {"folders": []}),  # filled in with the test's media path
    "paths": ("PUT", {"mappings": [{"node": "box", "server": "/data", "local": "/mnt/data"}]}),
    "ui": ("PATCH", {"theme": "dark"}),
    "notifications": ("PATCH", {"events": ["job_failed"], "window_seconds": 30}),
    "scanner.timing": ("PATCH", {"scan_interval_seconds": 900}),
    "cleanup": ("PATCH", {"stale_after_hours": 72, "interval_hours": 12, "recycle_days": 3}),
    "scheduler.retries": ("PATCH", {"max_attempts": 6}),
    "scheduler.order": ("PATCH", {"order": "folder", "window": 5}),
    "streaming": ("PATCH", {"pause_while_streaming": "all"}),
}
PATHS = {
    "transcode": "/api/v1/settings/transcode",
    "scanner.folders": "/api/v1/settings/folders",
    "paths": "/api/v1/settings/paths",
    "ui": "/api/v1/settings/ui",
    "notifications": "/api/v1/notifications",
    "scanner.timing": "/api/v1/settings/scanner",
    "cleanup": "/api/v1/settings/cleanup",
    "scheduler.retries": "/api/v1/settings/scheduler",
    "scheduler.order": "/api/v1/settings/queue-order",
    "streaming": "/api/v1/settings/streaming",
}
SCHEDULE = {"windows": [{"days": ["mon", "tue"], "start": "01:00", "end": "07:00"}]}


async def choose_everything(site: Sources) -> None:  # noqa: F811
    """Every setting away from its default, through the routes the Options page uses."""
    async with site.client() as api:
        for key, (method, body) in ROUTES.items():
            if key == "scanner.folders":
                body = {"folders": [{"path": str(site.media / "Movies"), "type": "movies"}]}
            answer = await api.request(method, PATHS[key], json=body)
            assert answer.status_code == 200, (key, answer.text)
        assert (await api.put("/api/v1/nodes/box/schedule", json=SCHEDULE)).status_code == 200
        assert (await api.put("/api/v1/nodes/box/slots", json={"slots": {"cpu": 3}})).status_code == 200
        pin = (await api.post("/api/v1/sources/plex/pin")).json()
        site.tv.link(pin["code"])
        assert (await api.get("/api/v1/sources/plex/pin")).json()["linked"]
        server_id = site.tv.add_server("Den", site.pms_url, site.pms.token)
        plex = {
            "server_id": server_id,
            "sections": ["1"],
            "mappings": [{"server": "/data", "local": str(site.media)}],
        }
        assert (await api.put("/api/v1/sources/plex", json=plex)).status_code == 200
        jellyfin = {
            "url": site.jf_url,
            "api_key": site.jf.api_key,
            "libraries": [site.jf.libraries[0].item_id],
            "mappings": [{"server": "/media", "local": str(site.media)}],
        }
        assert (await api.put("/api/v1/sources/jellyfin", json=jellyfin)).status_code == 200
        added = await api.post("/api/v1/notifications/urls", json={"url": "json://192.168.77.7/secret-path"})
        assert added.status_code in (200, 201), added.text


def without_time(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k != "exported_at"}


async def test_an_export_holds_everything_but_secrets_and_an_import_gives_it_back(site: Sources) -> None:  # noqa: F811
    await choose_everything(site)
    async with site.client() as api:
        exported = (await api.get("/api/v1/settings/export")).json()
        text = json.dumps(exported)
        for secret in [*site.secrets(), "192.168.77.7", "secret-path"]:
            assert secret not in text
        settings = exported["settings"]
        assert set(settings) == {*ROUTES, "schedule.box", "slots.box"}
        assert settings["transcode"]["target_codec"] == "av1"
        assert (settings["transcode"]["replace_hard_links"], settings["transcode"]["skip_dolby_vision"]) == (
            True,
            False,
        )
        assert settings["scanner.timing"] == {"scan_interval_seconds": 900}
        assert settings["cleanup"] == {"stale_after_hours": 72, "interval_hours": 12, "recycle_days": 3}
        assert settings["scheduler.retries"] == {"max_attempts": 6}
        assert settings["streaming"] == {"pause_while_streaming": "all"}
        assert settings["slots.box"]["slots"]["cpu"] == 3
        assert settings["schedule.box"]["windows"] == SCHEDULE["windows"]
        assert exported["sources"]["plex"]["sections"] == ["1"]
        assert exported["sources"]["jellyfin"]["url"] == site.jf_url.rstrip("/")
        assert "missing" not in exported

        # Everything changed away, then the export imported: all of it comes back.
        for key, path in PATHS.items():
            await api.request(
                ROUTES[key][0],
                path,
                json={}
                if ROUTES[key][0] == "PATCH"
                else {"folders": []}
                if key == "scanner.folders"
                else {"mappings": []},
            )
        await api.patch("/api/v1/settings/transcode", json={"target_codec": "hevc"})
        await api.put("/api/v1/nodes/box/slots", json={"slots": {"cpu": 1}})
        await api.put("/api/v1/nodes/box/schedule", json={"windows": []})
        await api.put("/api/v1/sources/jellyfin", json={"url": site.jf_url, "libraries": [], "mappings": []})
        changed = (await api.get("/api/v1/settings/export")).json()
        assert without_time(changed) != without_time(exported)

        imported = await api.post("/api/v1/settings/import", json=exported)
        assert imported.status_code == 200, imported.text
        assert (
            "sources.jellyfin" in imported.json()["imported"] and "slots.box" in imported.json()["imported"]
        )
        again = (await api.get("/api/v1/settings/export")).json()
        assert without_time(again) == without_time(exported)
        status = (await api.get("/api/v1/sources")).json()
        assert status["jellyfin"]["configured"] and status["plex"]["configured"]  # the keys were kept


async def test_a_bad_import_changes_nothing(site: Sources) -> None:  # noqa: F811
    await choose_everything(site)
    async with site.client() as api:
        before = without_time((await api.get("/api/v1/settings/export")).json())
        good_part = {"transcode": {**before["settings"]["transcode"], "target_codec": "hevc"}}
        bad_documents = [
            {"format": 1, "settings": {**good_part, "slots.box": {"slots": {"cpu": 0}}}},
            {"format": 1, "settings": {**good_part, "scheduler.retries": {"max_attempts": 0}}},
            {"format": 1, "settings": {**good_part, "schedule.a.b": {"windows": []}}},
            {"format": 1, "settings": {**good_part, "cleanup": {"stale_after_hour": 2}}},
            {"format": 1, "settings": good_part, "sources": {"plex": {"server_id": "not-a-server"}}},
            # Another server than the stored key's, without its key: refused as the route refuses it.
            {"format": 1, "settings": good_part, "sources": {"jellyfin": {"url": "http://127.0.0.2:1"}}},
            {"format": 1, "settings": good_part, "sources": {"emby": {}}},
            {"format": 2, "settings": good_part},
        ]
        for document in bad_documents:
            refused = await api.post("/api/v1/settings/import", json=document)
            assert refused.status_code == 422, (document, refused.text)
            after = without_time((await api.get("/api/v1/settings/export")).json())
            assert after == before, document
