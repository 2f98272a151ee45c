"""The gateway's FastAPI application: the guards every request passes (``guards``), its rooms (the REST
API, the live feed, the pages, the metrics, the webhooks), each with its guard at the door; the public routes
(logging in, health, the API documents, static files); and the one translation of a service's refusal into an
HTTP status.

Every route carries one decision about who may call it (``access``); the app refuses to be made otherwise.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from librarrarian_contracts import asyncapi, require
from librarrarian_contracts.catalog import Role
from librarrarian_runtime import bus, migrations
from librarrarian_runtime.errors import ServiceError, Unavailable

from . import api, guards, hooks, live, metrics, notify, oidc, pages
from .access import PUBLIC, SESSION_COOKIE, LoginRequired, check_decisions
from .backend import Backend
from .bootstrap import bootstrap
from .pages.docs import SWAGGER_UI
from .settings import Settings
from .throttle import Throttle

log = logging.getLogger(__name__)

OPENAPI_URL = "/api/v1/openapi.json"
# A settings export holds up to 256 path mappings of 4 KiB each: an import may be that large.
IMPORT_BODY_BYTES = 4 * 1024 * 1024
STATIC_MOUNTS = frozenset({"/static", "/static/swagger-ui"})


def with_our_refusals(document: dict[str, Any]) -> dict[str, Any]:
    """A 422 is FastAPI's list of what did not validate, or our own refusal of a value the contract refuses,
    said in one line: the document describes both (it is changed in place, once)."""
    schemas = document.get("components", {}).get("schemas", {})
    detail = schemas.get("HTTPValidationError", {}).get("properties", {}).get("detail")
    if detail is not None and "anyOf" not in detail:
        listed = {key: detail.pop(key) for key in ("type", "items") if key in detail}
        detail["anyOf"] = [listed, {"type": "string", "description": "why the value was refused"}]
    return document


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with bus.connection(settings.nats_url, "gateway") as nc:
            await require(nc.jetstream(), Role.GATEWAY)
            pool = await migrations.connect_and_migrate(
                settings.database_url, "gateway", "librarrarian_gateway.migrations"
            )
            try:
                await bootstrap(settings, pool)
                if "*" in settings.trusted_hosts:
                    log.warning("ALLOWED_HOSTS is not set: any host name is accepted (set the names you use)")
                app.state.settings, app.state.pool, app.state.nc = settings, pool, nc
                app.state.backend = Backend(nc)
                async with oidc.provider_running(settings.oidc) as app.state.oidc:
                    yield
            finally:
                await pool.close()

    larger = {
        f"{api.router.prefix}/settings/import": max(IMPORT_BODY_BYTES, settings.max_body_bytes),
        f"{api.router.prefix}/backups/upload": api.backups.UPLOAD_LIMIT,  # counted by the route itself too
    }
    app = FastAPI(
        title="Librarrarian",
        summary="Turn a media library into HEVC on a cluster of machines, safely.",
        openapi_url=None,  # served below, with its decision like every route
        docs_url=None,  # the pages' room serves it from the installed package (pages.docs)
        redoc_url=None,
        lifespan=lifespan,
        middleware=guards.middleware(settings.trusted_hosts, settings.max_body_bytes, larger, SESSION_COOKIE),
    )
    app.state.throttle = Throttle()
    app.include_router(api.router)
    app.include_router(api.WEBHOOKS)
    app.include_router(live.router)
    app.include_router(metrics.router)
    app.include_router(hooks.router)
    app.include_router(notify.duty)
    app.include_router(pages.router)
    app.include_router(pages.public)
    app.mount("/static/swagger-ui", StaticFiles(directory=SWAGGER_UI), name="swagger-ui")
    app.mount("/static", StaticFiles(directory=Path(__file__).with_name("static")), name="static")

    @app.exception_handler(ServiceError)
    async def service_failed(request: Request, error: ServiceError) -> JSONResponse:
        """A service behind the gateway refused (its status: 400, 404, 409, 502) or did not answer (503)."""
        detail = str(error)
        if isinstance(error, Unavailable):
            detail = f"a service behind the dashboard is not answering: {detail}"
        return JSONResponse({"detail": detail}, status_code=error.status)

    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, error: LoginRequired) -> RedirectResponse:
        return RedirectResponse(f"/login?next={error.next_url}", status_code=303)

    @app.get(OPENAPI_URL, dependencies=PUBLIC, include_in_schema=False)
    async def openapi_json() -> dict[str, Any]:
        return with_our_refusals(app.openapi())

    asyncapi_document = asyncapi.document(version("librarrarian-gateway"))

    @app.get(
        "/api/v1/asyncapi.json",
        dependencies=PUBLIC,
        tags=["health"],
        summary="The bus as an AsyncAPI 3.0 document: every subject, message and schema (what integrations follow)",
    )
    async def asyncapi_json() -> JSONResponse:
        return JSONResponse(asyncapi_document)

    @app.get(
        "/healthz",
        dependencies=PUBLIC,
        tags=["health"],
        summary="Is the gateway connected to NATS and PostgreSQL",
    )
    async def healthz(request: Request) -> JSONResponse:
        nats_ok = bool(request.app.state.nc.is_connected)
        try:
            await request.app.state.pool.fetchval("SELECT 1")
            db_ok = True
        except Exception:  # noqa: BLE001 - any failure means "not healthy", which is the answer
            db_ok = False
        healthy = nats_ok and db_ok
        return JSONResponse(
            {"status": "ok" if healthy else "degraded", "nats": nats_ok, "database": db_ok},
            status_code=200 if healthy else 503,
        )

    check_decisions(app, STATIC_MOUNTS)
    return app
