"""The gateway's rooms on a real gateway: the API documents every route of the API, the live feed and the
webhooks and no page; a service's refusal arrives with its own status. (Who may call what:
``test_route_matrix``; the webhooks' own door: ``test_plex_webhooks``.)"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.routing import APIRoute
from librarrarian_gateway import api, hooks, live, metrics

from .sites import Site

PUBLIC = {"/api/v1/openapi.json", "/api/v1/asyncapi.json", "/healthz"}


def routes(prefix: str, *routers: APIRouter) -> list[tuple[str, str]]:
    """(method, path) of every route the routers serve."""
    found = []
    for router in routers:
        for route in router.routes:
            assert isinstance(route, APIRoute), route
            found += [(method, prefix + route.path) for method in sorted(route.methods)]
    return found


async def test_the_api_documents_every_route_and_no_page(site: Site) -> None:
    async with site.client(key=None) as anonymous:
        document = (await anonymous.get("/api/v1/openapi.json")).json()
    documented = {(m.upper(), p) for p, item in document["paths"].items() if p not in PUBLIC for m in item}
    api_routes = set(routes("/api/v1", *api.PARTS, live.events.router))
    assert documented == api_routes | set(routes("", api.WEBHOOKS, metrics.router, hooks.router))
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
