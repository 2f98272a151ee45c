"""The gateway's rooms on a real gateway: every route of the API, the live feed, the metrics, the webhooks
(a secret in the URL: 404 without it) and the pages is behind its room's door (401 for the API, the login
page for a page), only the public routes are not; a service's refusal arrives with its own status."""

from __future__ import annotations

import re

from fastapi import APIRouter
from fastapi.routing import APIRoute
from librarrarian_gateway import api, hooks, live, metrics, pages

from .sites import Site

PUBLIC = {
    "/api/v1/openapi.json",
    "/api/v1/docs",
    "/docs/oauth2-redirect",
    "/api/v1/asyncapi.json",
    "/healthz",
}


def routes(prefix: str, *routers: APIRouter) -> list[tuple[str, str]]:
    """(method, path) of every route the routers serve."""
    found = []
    for router in routers:
        for route in router.routes:
            assert isinstance(route, APIRoute), route
            found += [(method, prefix + route.path) for method in sorted(route.methods)]
    return found


def filled(path: str) -> str:
    """The path with ``1`` for each of its parameters."""
    return re.sub(r"\{[^}]+\}", "1", path)


async def test_every_route_is_behind_its_rooms_door(site: Site) -> None:
    api_routes = routes("/api/v1", *api.PARTS, live.events.router) + routes("", metrics.router)
    page_routes = routes("", *pages.PAGES)
    assert len(api_routes) > 30 and len(page_routes) >= 8
    async with site.client(key=None) as anonymous, site.client(key="not-a-key") as wrong:
        for method, path in api_routes:
            for client in (anonymous, wrong):
                response = await client.request(method, filled(path))
                assert response.status_code == 401, (method, path)
        for method, path in page_routes:
            response = await anonymous.request(method, filled(path))
            assert response.status_code == 303, (method, path)
            assert response.headers["location"].startswith("/login?next="), (method, path)
        # The webhooks' door is the secret in the URL: a wrong one is a URL where nothing is.
        for method, path in routes("", hooks.router):
            assert (await anonymous.request(method, filled(path))).status_code == 404, (method, path)
        # Outside the rooms: the public routes, logging in and out, the static files.
        for path in PUBLIC:
            assert (await anonymous.get(path)).status_code == 200, path
        assert (await anonymous.get("/login")).status_code == 200
        assert (await anonymous.get("/static/lib.js")).status_code == 200


async def test_the_api_documents_every_route_and_no_page(site: Site) -> None:
    async with site.client(key=None) as anonymous:
        document = (await anonymous.get("/api/v1/openapi.json")).json()
    documented = {(m.upper(), p) for p, item in document["paths"].items() if p not in PUBLIC for m in item}
    assert documented == set(
        routes("/api/v1", *api.PARTS, live.events.router) + routes("", metrics.router, hooks.router)
    )
    for path, item in document["paths"].items():  # each answer's shape is described
        for method, operation in item.items():
            if "204" in operation["responses"]:
                continue  # no content, by definition
            answer = (
                operation["responses"].get("200")
                or operation["responses"].get("201")
                or operation["responses"]["202"]
            )
            assert answer["content"], (method, path)
    assert not any(p.startswith(("/queue", "/failed", "/login", "/options")) for p in document["paths"])


async def test_a_services_refusal_keeps_its_status(site: Site) -> None:
    async with site.client() as api_client:
        assert (await api_client.delete("/api/v1/jobs/424242")).status_code == 404
        assert (await api_client.post("/api/v1/jobs/424242/retry")).status_code == 404
        assert (await api_client.post("/api/v1/jobs/424242/release")).status_code == 404
        assert (await api_client.get("/api/v1/history/424242")).status_code == 404
        page = await api_client.get("/history/424242")
        assert page.status_code == 404 and "424242" in page.json()["detail"]
