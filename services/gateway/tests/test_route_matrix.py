"""Every route by every kind of caller, on a real gateway: who gets through and who is refused.

The reviewed table ``DECISIONS`` says what each route needs; the app's own registry (``access.decisions``)
must say the same, so a new route fails here until someone decides for it (and the app refuses to start
with a route that carries no decision at all). Then every route in the OpenAPI document and every page is
called by: nobody, a wrong key, a ``read``, a ``control`` and an ``admin`` key, a ``read`` user's session,
and an admin's session from another site's page. A refusal must be a refusal (401, 403, or the login page
for a page); an allowed call must not be one. The counts (tried, got through: must be 0) are written to
``bench/out/security-api.json``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from fastapi import Depends
from librarrarian_gateway.access import READ as NEEDS_READ
from librarrarian_gateway.access import UndecidedRoute, allow, decisions
from librarrarian_gateway.app import STATIC_MOUNTS, create_app
from librarrarian_gateway.credentials import Scope
from librarrarian_gateway.settings import Settings

from .sites import PASSWORD, USER, Site

READ, CONTROL, ADMIN = Scope.READ, Scope.CONTROL, Scope.ADMIN
REPORT = Path(__file__).resolve().parents[3] / "bench" / "out" / "security-api.json"
FOREIGN = "https://evil.example"
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}

# Reviewed: what each route needs (None: anyone). A new route fails the test until it is added here.
DECISIONS: dict[tuple[str, str], Scope | None] = {
    ("GET", "/"): READ,
    ("GET", "/api/v1/arr"): READ,
    ("PUT", "/api/v1/arr/{app}"): ADMIN,
    ("POST", "/api/v1/arr/{app}/scans"): CONTROL,
    ("POST", "/api/v1/arr/{app}/test"): ADMIN,
    ("POST", "/api/v1/arr/{app}/webhook"): None,
    ("POST", "/api/v1/arr/webhook-key"): ADMIN,
    ("GET", "/api/v1/asyncapi.json"): None,
    ("GET", "/api/v1/backups"): ADMIN,
    ("POST", "/api/v1/backups"): ADMIN,
    ("POST", "/api/v1/backups/upload"): ADMIN,
    ("GET", "/api/v1/backups/{name}"): ADMIN,
    ("POST", "/api/v1/backups/{name}/restore"): ADMIN,
    ("POST", "/api/v1/cleanup/scan"): CONTROL,
    ("GET", "/api/v1/docs"): READ,
    ("GET", "/api/v1/events"): READ,
    ("GET", "/api/v1/history"): READ,
    ("GET", "/api/v1/history/{entry_id}"): READ,
    ("GET", "/api/v1/recycle"): READ,
    ("POST", "/api/v1/recycle/{job_id}/restore"): CONTROL,
    ("DELETE", "/api/v1/jobs"): CONTROL,
    ("GET", "/api/v1/jobs"): READ,
    ("POST", "/api/v1/jobs/release"): ADMIN,
    ("POST", "/api/v1/jobs/accept"): CONTROL,
    ("POST", "/api/v1/jobs/reject"): CONTROL,
    ("DELETE", "/api/v1/jobs/{job_id}"): CONTROL,
    ("GET", "/api/v1/jobs/{job_id}"): READ,
    ("POST", "/api/v1/jobs/{job_id}/move"): CONTROL,
    ("POST", "/api/v1/jobs/{job_id}/release"): ADMIN,
    ("POST", "/api/v1/jobs/{job_id}/retry"): CONTROL,
    ("POST", "/api/v1/jobs/{job_id}/accept"): CONTROL,
    ("POST", "/api/v1/jobs/{job_id}/reject"): CONTROL,
    ("GET", "/api/v1/jobs/{job_id}/preview/{of}"): READ,
    ("GET", "/api/v1/keys"): ADMIN,
    ("POST", "/api/v1/keys"): ADMIN,
    ("DELETE", "/api/v1/keys/{key_id}"): ADMIN,
    ("GET", "/api/v1/nodes"): READ,
    ("POST", "/api/v1/nodes/{node}/{action}"): CONTROL,
    ("GET", "/api/v1/media/folders"): ADMIN,  # it shows the file tree
    ("GET", "/api/v1/nodes/{node}/schedule"): READ,
    ("PUT", "/api/v1/nodes/{node}/schedule"): CONTROL,
    ("GET", "/api/v1/nodes/{node}/slots"): READ,
    ("PUT", "/api/v1/nodes/{node}/slots"): ADMIN,
    ("GET", "/api/v1/notifications"): READ,
    ("PATCH", "/api/v1/notifications"): ADMIN,
    ("POST", "/api/v1/notifications/test"): ADMIN,
    ("POST", "/api/v1/notifications/urls"): ADMIN,
    ("DELETE", "/api/v1/notifications/urls/{target_id}"): ADMIN,
    ("GET", "/api/v1/openapi.json"): None,
    ("GET", "/api/v1/queue"): READ,
    ("POST", "/api/v1/queue/{action}"): CONTROL,
    ("GET", "/api/v1/scans"): READ,
    ("POST", "/api/v1/scans"): CONTROL,
    ("GET", "/api/v1/scans/{scan_id}"): READ,
    ("POST", "/api/v1/scans/{scan_id}/cancel"): CONTROL,
    ("GET", "/api/v1/settings/cleanup"): READ,
    ("PATCH", "/api/v1/settings/cleanup"): ADMIN,
    ("GET", "/api/v1/settings/streaming"): READ,
    ("PATCH", "/api/v1/settings/streaming"): ADMIN,
    ("GET", "/api/v1/settings/export"): ADMIN,
    ("GET", "/api/v1/settings/folders"): READ,
    ("PUT", "/api/v1/settings/folders"): ADMIN,
    ("POST", "/api/v1/settings/import"): ADMIN,
    ("GET", "/api/v1/settings/paths"): READ,
    ("PUT", "/api/v1/settings/paths"): ADMIN,
    ("GET", "/api/v1/settings/scanner"): READ,
    ("PATCH", "/api/v1/settings/scanner"): ADMIN,
    ("GET", "/api/v1/settings/scheduler"): READ,
    ("PATCH", "/api/v1/settings/scheduler"): ADMIN,
    ("GET", "/api/v1/settings/queue-order"): READ,
    ("PATCH", "/api/v1/settings/queue-order"): ADMIN,
    ("GET", "/api/v1/settings/transcode"): READ,
    ("PATCH", "/api/v1/settings/transcode"): ADMIN,
    ("GET", "/api/v1/settings/ui"): READ,
    ("PATCH", "/api/v1/settings/ui"): ADMIN,
    ("GET", "/api/v1/sources"): ADMIN,
    ("PUT", "/api/v1/sources/jellyfin"): ADMIN,
    ("GET", "/api/v1/sources/jellyfin/libraries"): ADMIN,
    ("POST", "/api/v1/sources/jellyfin/test"): ADMIN,
    ("DELETE", "/api/v1/sources/plex"): ADMIN,
    ("PUT", "/api/v1/sources/plex"): ADMIN,
    ("GET", "/api/v1/sources/plex/libraries"): ADMIN,
    ("GET", "/api/v1/sources/plex/pin"): ADMIN,
    ("POST", "/api/v1/sources/plex/pin"): ADMIN,
    ("GET", "/api/v1/sources/plex/servers"): ADMIN,
    ("POST", "/api/v1/sources/plex/test"): ADMIN,
    ("GET", "/api/v1/sources/plex/webhook"): ADMIN,
    ("POST", "/api/v1/sources/plex/webhook"): ADMIN,
    ("DELETE", "/api/v1/sources/plex/webhook"): ADMIN,
    ("POST", "/api/v1/sources/sync"): CONTROL,
    ("GET", "/api/v1/stats"): READ,
    ("GET", "/api/v1/stats/charts"): READ,
    ("GET", "/api/v1/users"): ADMIN,
    ("POST", "/api/v1/users"): ADMIN,
    ("DELETE", "/api/v1/users/{name}"): ADMIN,
    ("PATCH", "/api/v1/users/{name}"): ADMIN,
    ("GET", "/failed"): READ,
    ("GET", "/healthz"): None,
    ("GET", "/history"): READ,
    ("GET", "/history/{entry_id}"): READ,
    ("POST", "/hooks/plex/{secret}"): None,  # its door is the secret in the URL (404 without it)
    ("GET", "/login"): None,
    ("POST", "/login"): None,
    ("GET", "/login/oidc"): None,
    ("GET", "/login/oidc/callback"): None,
    ("GET", "/metrics"): READ,
    ("POST", "/logout"): None,
    ("GET", "/options"): ADMIN,
    ("GET", "/queue"): READ,
    ("GET", "/statistics"): READ,
    ("GET", "/tools"): READ,
}


# Public to the scopes but opened by a key of their own that no caller here holds (the Arr apps' webhook, whose
# key the arr service checks: services/arr/tests/test_webhooks.py): no session or API key gets an answer.
OWN_KEY = {("POST", "/api/v1/arr/{app}/webhook")}


@dataclass(frozen=True)
class Caller:
    name: str
    headers: dict[str, str]
    scope: Scope | None  # what it may do; None: nothing
    cross_site: bool = False  # a session cookie sent from another site's page


@dataclass
class Tally:
    tried: int = 0
    through: list[str] = field(default_factory=list)  # refusals expected, not given
    refused_wrongly: list[str] = field(default_factory=list)  # allowed calls that were refused


def filled(path: str) -> str:
    """The path with a value for each parameter that names nothing that exists."""
    return re.sub(r"\{[^}]+\}", "424242", path)


def is_refusal(response: httpx.Response, page: bool) -> bool:
    if response.status_code in (401, 403):
        return True
    return page and response.status_code == 303 and response.headers["location"].startswith("/login")


def routes_served(document: dict[str, object]) -> list[tuple[str, str, bool]]:
    """(method, path, is a page behind the pages' door) of every route in the OpenAPI document and every
    other route, logging out last: an allowed call of it ends the session the later calls use."""
    documented = {(m.upper(), p) for p, item in document["paths"].items() for m in item}  # type: ignore[attr-defined]
    found = [(m, p, (m, p) not in documented and DECISIONS[(m, p)] is not None) for m, p in DECISIONS]
    return sorted(found, key=lambda r: r[:2] == ("POST", "/logout"))


async def session_cookie(site: Site, user: str, password: str) -> str:
    async with site.client(key=None) as browser:
        login = await browser.post("/login", data={"username": user, "password": password})
        assert login.status_code == 303, login.text
        return login.cookies["librarrarian_session"]


async def callers(site: Site) -> list[Caller]:
    made: dict[str, str] = {}
    async with site.client() as admin:
        for scope in ("read", "control", "admin"):
            reply = await admin.post("/api/v1/keys", json={"name": f"matrix-{scope}", "scope": scope})
            assert reply.status_code == 201 and reply.json()["scope"] == scope, reply.text
            made[scope] = reply.json()["key"]
        reader = {"name": "reader", "password": "reader password", "scope": "read"}
        assert (await admin.post("/api/v1/users", json=reader)).status_code == 201
    own, foreign = {"Origin": site.url}, {"Origin": FOREIGN, "Sec-Fetch-Site": "cross-site"}
    reader_cookie = await session_cookie(site, "reader", "reader password")
    admin_cookie = await session_cookie(site, USER, PASSWORD)
    return [
        Caller("anonymous", {}, None),
        Caller("wrong key", {"X-Api-Key": "not-a-key-at-all"}, None),
        Caller("read key", {"X-Api-Key": made["read"]}, READ),
        Caller("control key", {"X-Api-Key": made["control"]}, CONTROL),
        Caller("admin key", {"X-Api-Key": made["admin"]}, ADMIN),
        Caller("read user", {**own, "Cookie": f"librarrarian_session={reader_cookie}"}, READ),
        Caller(
            "admin from another site",
            {**foreign, "Cookie": f"librarrarian_session={admin_cookie}"},
            ADMIN,
            cross_site=True,
        ),
    ]


def must_refuse(caller: Caller, method: str, needs: Scope | None) -> bool:
    if caller.cross_site and method in UNSAFE:
        return True
    if needs is None:
        return False
    return caller.scope is None or caller.scope < needs


def test_the_registry_of_decisions_is_the_reviewed_one() -> None:
    registry = decisions(create_app(UNSERVED), STATIC_MOUNTS)
    assert {route: decision.scope for route, decision in registry.items()} == DECISIONS


# Making the app connects to nothing: its registry can be read without servers.
UNSERVED = Settings(nats_url="nats://unused", database_url="postgresql://unused", host="127.0.0.1")


def test_a_route_without_exactly_one_decision_is_refused() -> None:
    app = create_app(UNSERVED)

    @app.get("/api/v1/forgotten")
    async def forgotten() -> None: ...

    with pytest.raises(UndecidedRoute, match="/api/v1/forgotten carries 0 decisions"):
        decisions(app, STATIC_MOUNTS)
    app = create_app(UNSERVED)

    @app.get("/api/v1/torn", dependencies=[*NEEDS_READ, Depends(allow(ADMIN))])
    async def torn() -> None: ...

    with pytest.raises(UndecidedRoute, match="/api/v1/torn carries 2 decisions"):
        decisions(app, STATIC_MOUNTS)


async def test_every_route_and_page_against_every_caller(site: Site) -> None:
    async with site.client(key=None) as anonymous:
        document = (await anonymous.get("/api/v1/openapi.json")).json()
    served = routes_served(document)
    assert len(served) == len(DECISIONS) > 60
    callers_ = await callers(site)
    tallies = {caller.name: Tally() for caller in callers_}
    async with httpx.AsyncClient(base_url=site.url, timeout=10) as client:
        for method, path, page in served:
            for caller in callers_:
                refuse = must_refuse(caller, method, DECISIONS[(method, path)])
                body = {"json": {}} if method in UNSAFE and path != "/login" else {}
                request = client.build_request(method, filled(path), headers=caller.headers, **body)
                response = await client.send(request, stream=True)  # the live stream never ends: no body read
                await response.aclose()
                tally = tallies[caller.name]
                what = f"{method} {path}: {response.status_code}"
                if (method, path) in OWN_KEY:
                    tally.tried += 1
                    if response.is_success:
                        tally.through.append(what)
                elif refuse:
                    tally.tried += 1
                    if not is_refusal(response, page):
                        tally.through.append(what)
                elif is_refusal(response, page):
                    tally.refused_wrongly.append(what)
    report = {
        "when": datetime.now().isoformat(timespec="seconds"),
        "routes": len(served),
        "callers": [caller.name for caller in callers_],
        "tried": sum(t.tried for t in tallies.values()),
        "got_through": sum(len(t.through) for t in tallies.values()),
        "by_caller": {
            name: {"tried": t.tried, "got_through": len(t.through), "through": t.through}
            for name, t in tallies.items()
        },
    }
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(report, indent=2) + "\n")
    assert report["got_through"] == 0, report
    assert not {n: t.refused_wrongly for n, t in tallies.items() if t.refused_wrongly}
