"""The gateway's FastAPI application: its rooms (the REST API, the live feed, the pages, the metrics, the
webhooks), each with its guard at the door; the public routes (logging in, health, the API documents, static files); and the one
translation of a service's refusal into an HTTP status."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version
from pathlib import Path

import asyncpg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from librarrarian_contracts import asyncapi, require
from librarrarian_contracts.catalog import Role
from librarrarian_runtime import bus, migrations
from librarrarian_runtime.errors import ServiceError, Unavailable

from . import api, credentials, hooks, live, metrics, notify, oidc, pages
from .access import LoginRequired
from .backend import Backend
from .settings import Settings

log = logging.getLogger(__name__)


async def bootstrap(settings: Settings, pool: asyncpg.Pool) -> None:
    """The user and API key given by the environment, created once; existing ones are never overwritten."""
    if (
        settings.local_user
        and settings.local_password
        and await credentials.create_user(pool, settings.local_user, settings.local_password)
    ):
        log.info("created user %s", settings.local_user)
    if settings.api_key:
        await credentials.create_api_key(pool, "API_KEY", settings.api_key)
    if not settings.auth_enabled:
        log.warning("AUTH_ENABLED is false: anyone who can reach this port controls Librarrarian")


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
                app.state.settings, app.state.pool, app.state.nc = settings, pool, nc
                app.state.backend = Backend(nc)
                async with oidc.provider_running(settings.oidc) as app.state.oidc:
                    yield
            finally:
                await pool.close()

    app = FastAPI(
        title="Librarrarian",
        summary="Turn a media library into HEVC on a cluster of machines, safely.",
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.include_router(api.router)
    app.include_router(live.router)
    app.include_router(metrics.router)
    app.include_router(hooks.router)
    app.include_router(notify.duty)
    app.include_router(pages.router)
    app.include_router(pages.public)
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

    asyncapi_document = asyncapi.document(version("librarrarian-gateway"))

    @app.get(
        "/api/v1/asyncapi.json",
        tags=["health"],
        summary="The bus as an AsyncAPI 3.0 document: every subject, message and schema (what integrations follow)",
    )
    async def asyncapi_json() -> JSONResponse:
        return JSONResponse(asyncapi_document)

    @app.get("/healthz", tags=["health"], summary="Is the gateway connected to NATS and PostgreSQL")
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

    return app
