"""The system settings through the REST API: encoder path mappings (``/api/v1/settings/paths``) and the
dashboard's theme (``/api/v1/settings/ui``), stored in the KV bucket the services watch, refused whole when
wrong, behind the API's auth and in its OpenAPI document (real gateway, NATS and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from librarrarian_contracts import topology
from librarrarian_contracts.settings import (
    PATHS_KEY,
    UI_KEY,
    NodePathMapping,
    PathSettings,
    UiSettings,
)
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError

from .sites import Site


async def stored(js: JetStreamContext, key: str, type_: type[Any]) -> Any:
    kv = await js.key_value(topology.SETTINGS.name)
    try:
        return msgspec.json.decode((await kv.get(key)).value or b"", type=type_)
    except KeyNotFoundError:
        return None


GOOD = {
    "mappings": [
        {"node": None, "server": "/media", "local": "/mnt/nas"},
        {"node": "box 2", "server": "/media", "local": "/Volumes/media"},
        {"server": "D:\\Movies", "local": "/mnt/movies"},
    ]
}

BAD = [
    {"mappings": [{"server": "/media", "local": "mnt/nas"}]},  # not absolute
    {"mappings": [{"server": "/media", "local": "/mnt/../etc"}]},
    {"mappings": [{"server": "media", "local": "/mnt/nas"}]},
    {"mappings": [{"server": "/tv", "local": "/a"}, {"server": "/tv/", "local": "/b"}]},  # twice
    {
        "mappings": [
            {"node": "x", "server": "/tv", "local": "/a"},
            {"node": "x", "server": "/tv", "local": "/b"},
        ]
    },
    {"mappings": [{"server": "", "local": "/a"}]},
    {"mappings": [{"server": "/tv", "local": "/" + "a" * 5000}]},
    {"mappings": [{"server": "/tv", "local": "/a", "node": ""}]},
    {"mappings": [{"server": "/tv", "local": "/a", "node": "n" * 200}]},
    {"mappings": [{"server": "/tv", "local": "/a\n/b"}]},
    {"mappings": [{"server": f"/m{i}", "local": "/a"} for i in range(300)]},
    {"mappings": [{"server": "/tv", "local": "/a", "colour": "blue"}]},  # unknown field
    {"mappings": [{"server": "/tv"}]},
    {"mappings": "/tv=/a"},
]


async def test_path_mappings_are_stored_and_bad_input_changes_nothing(
    site: Site, bus: tuple[Client, JetStreamContext]
) -> None:
    _, js = bus
    async with site.client() as api:
        assert (await api.get("/api/v1/settings/paths")).json() == {"mappings": []}
        response = await api.put("/api/v1/settings/paths", json=GOOD)
        assert response.status_code == 200, response.text
        expected = PathSettings(
            mappings=(
                NodePathMapping(server="/media", local="/mnt/nas"),
                NodePathMapping(server="/media", local="/Volumes/media", node="box 2"),
                NodePathMapping(server="D:\\Movies", local="/mnt/movies"),
            )
        )
        assert await stored(js, PATHS_KEY, PathSettings) == expected
        shown = {
            "mappings": [
                {"node": None, "server": "/media", "local": "/mnt/nas"},
                {"node": "box 2", "server": "/media", "local": "/Volumes/media"},
                {"node": None, "server": "D:\\Movies", "local": "/mnt/movies"},
            ]
        }
        assert response.json() == (await api.get("/api/v1/settings/paths")).json() == shown

        for bad in BAD:
            refused = await api.put("/api/v1/settings/paths", json=bad)
            assert refused.status_code == 422, (bad, refused.text)
        assert await stored(js, PATHS_KEY, PathSettings) == expected  # nothing half-applied

        cleared = await api.put("/api/v1/settings/paths", json={"mappings": []})
        assert cleared.json() == {"mappings": []}
        assert await stored(js, PATHS_KEY, PathSettings) == PathSettings()


async def test_a_refusal_names_what_is_wrong(site: Site) -> None:
    async with site.client() as api:
        refused = await api.put(
            "/api/v1/settings/paths", json={"mappings": [{"server": "/tv", "local": "relative/here"}]}
        )
        assert refused.status_code == 422
        assert "must be absolute" in refused.json()["detail"] and "mappings[0]" in refused.json()["detail"]


async def test_the_theme_is_a_setting_the_pages_are_rendered_in(
    site: Site, bus: tuple[Client, JetStreamContext]
) -> None:
    _, js = bus
    async with site.client() as api:
        assert (await api.get("/api/v1/settings/ui")).json() == {"theme": "system"}
        assert '<html lang="en" class="theme-system">' in (await api.get("/options")).text

        changed = await api.patch("/api/v1/settings/ui", json={"theme": "dark"})
        assert changed.status_code == 200 and changed.json() == {"theme": "dark"}
        assert await stored(js, UI_KEY, UiSettings) == UiSettings(theme="dark")
        assert (await api.get("/api/v1/settings/ui")).json() == {"theme": "dark"}
        for page in ("/", "/options", "/history", "/tools", "/login"):
            assert '<html lang="en" class="theme-dark">' in (await api.get(page)).text, page

        for bad in ({"theme": "pink"}, {"theme": None}, {"colour": "blue"}, {"theme": 1}):
            refused = await api.patch("/api/v1/settings/ui", json=bad)
            assert refused.status_code == 422, (bad, refused.text)
        assert await stored(js, UI_KEY, UiSettings) == UiSettings(theme="dark")
        assert (await api.patch("/api/v1/settings/ui", json={})).json() == {"theme": "dark"}

        # A value written by hand that does not decode leaves every page working, in the default theme.
        kv = await js.key_value(topology.SETTINGS.name)
        await kv.put(UI_KEY, b'{"theme": "neon"}')
        options = await api.get("/options")
        assert options.status_code == 200 and 'class="theme-system"' in options.text
        assert (await api.get("/api/v1/settings/ui")).json() == {"theme": "system"}
        assert (await api.patch("/api/v1/settings/ui", json={"theme": "light"})).json() == {"theme": "light"}
        assert await stored(js, UI_KEY, UiSettings) == UiSettings(theme="light")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/v1/settings/paths", None),
        ("PUT", "/api/v1/settings/paths", {"mappings": []}),
        ("GET", "/api/v1/settings/ui", None),
        ("PATCH", "/api/v1/settings/ui", {"theme": "dark"}),
    ],
)
async def test_the_routes_need_a_login_or_an_api_key(
    site: Site, bus: tuple[Client, JetStreamContext], method: str, path: str, body: object
) -> None:
    _, js = bus
    async with site.client(key=None) as anonymous, site.client(key="wrong-key") as wrong:
        for client in (anonymous, wrong):
            response = await client.request(method, path, json=body)
            assert response.status_code == 401, response.text
    assert await stored(js, UI_KEY, UiSettings) is None and await stored(js, PATHS_KEY, PathSettings) is None


async def test_the_openapi_document_describes_both_routes(site: Site) -> None:
    async with site.client() as api:
        document = (await api.get("/api/v1/openapi.json")).json()
    paths = document["paths"]
    assert set(paths["/api/v1/settings/paths"]) == {"get", "put"}
    assert set(paths["/api/v1/settings/ui"]) == {"get", "patch"}
    schemas = document["components"]["schemas"]
    put = paths["/api/v1/settings/paths"]["put"]
    assert put["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/NodeMappingsIn")
    assert set(schemas["NodeMappingIn"]["properties"]) == {"node", "server", "local"}
    assert "422" in put["responses"] and "PATH_MAPPINGS wins" in put["description"]
    patch = paths["/api/v1/settings/ui"]["patch"]
    assert patch["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/UiIn")
    assert "dark" in str(schemas["UiIn"]["properties"]["theme"])
