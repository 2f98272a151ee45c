"""The arr service's request/reply endpoints (a nats.micro service): the gateway sets the apps up, tests them,
makes the webhook key and hands over the apps' webhook calls. Replies never carry an API key.

A bad request is answered with a ``400``; an app that refused or could not be reached with its reason in the
connection test's reply (a test that fails is an answer, not an error).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

import msgspec
from librarrarian_contracts import ArrApp, topology
from librarrarian_contracts.arr import (
    ArrAppStatus,
    ArrCheck,
    ArrSettings,
    ArrSetup,
    ArrStatus,
    ArrTest,
    WebhookCall,
    WebhookKey,
    WebhookOutcome,
    status_of,
)
from librarrarian_contracts.views import Nothing
from librarrarian_runtime import outbound
from librarrarian_runtime.bus import redact
from librarrarian_runtime.endpoints import Endpoint, serve
from librarrarian_runtime.errors import BadRequest
from librarrarian_runtime.media_paths import OutsideMediaPaths, contain
from librarrarian_runtime.outbound import PrivateServers
from nats.aio.client import Client
from nats.micro.service import Service

from .apps import APPS
from .client import ArrError
from .connections import Connections
from .store import Store
from .webhooks import Webhooks

log = logging.getLogger(__name__)


@dataclass
class ArrEndpoints:
    connections: Connections
    webhooks: Webhooks
    private_servers: PrivateServers = PrivateServers.LAN

    async def start(self, nc: Client) -> Service:
        routes: list[tuple[str, str, type[msgspec.Struct], Callable[[Any], Awaitable[msgspec.Struct]]]] = [
            ("status", topology.ARR_STATUS, Nothing, self.status),
            ("set", topology.ARR_SET, ArrSetup, self.set),
            ("test", topology.ARR_TEST, ArrTest, self.test),
            ("webhook-key", topology.ARR_WEBHOOK_KEY, Nothing, self.webhook_key),
            ("webhook", topology.ARR_WEBHOOK, WebhookCall, self.webhook),
        ]
        return await serve(
            nc,
            name=topology.ARR_SERVICE,
            version=version("librarrarian-arr"),
            description="Sonarr, Radarr and Lidarr set-up, tests and webhooks",
            endpoints=[Endpoint(name, subject, kind, handle) for name, subject, kind, handle in routes],
        )

    @property
    def store(self) -> Store:
        return self.connections.store

    async def status(self, _: Nothing) -> ArrStatus:
        ssl = self.connections.ssl_default
        apps = tuple([status_of(app, await self.store.app(app), ssl) for app in ArrApp])
        return ArrStatus(apps=apps, webhook_key_set=await self.store.webhook_key_set())

    async def set(self, setup: ArrSetup) -> ArrAppStatus:
        await asyncio.to_thread(outbound.check_url, setup.url, self.private_servers)
        for mapping in setup.mappings:
            try:
                contain(mapping.local, self.connections.media_paths)
            except (OutsideMediaPaths, OSError, RuntimeError, ValueError):
                raise BadRequest(f"{mapping.local} is outside the media paths") from None
        stored = await self.store.app(setup.app)
        if setup.api_key is None and stored.api_key and not outbound.same_server(setup.url, stored.url):
            # The stored key belongs to the server it was given for; another host must earn its own.
            raise BadRequest("the URL points at another server than the stored key's: give its API key again")
        settings = ArrSettings(
            enabled=setup.enabled,
            url=setup.url.rstrip("/"),
            api_key=setup.api_key if setup.api_key is not None else stored.api_key,
            mode=setup.mode,
            ssl_verify=setup.ssl_verify,
            mappings=setup.mappings,
            rename_approval=setup.rename_approval,
            auto_rename=setup.auto_rename,
            hold_below_cutoff=setup.hold_below_cutoff,
        )
        await self.store.save_app(setup.app, settings)
        log.info(
            "%s at %s set (%s, %s)",
            APPS[setup.app].name,
            redact(settings.url),
            "enabled" if settings.enabled else "disabled",
            settings.mode,
        )
        return status_of(setup.app, settings, self.connections.ssl_default)

    async def test(self, request: ArrTest) -> ArrCheck:
        _, client = await self.connections.open(request.app, enabled=False)
        try:
            name, app_version = await client.status()
        except ArrError as error:
            return ArrCheck(app=request.app, ok=False, problem=error.problem, detail=str(error))
        return ArrCheck(app=request.app, ok=True, app_name=name, version=app_version)

    async def webhook_key(self, _: Nothing) -> WebhookKey:
        key = await self.store.new_webhook_key()
        log.info("a new webhook key was made; the old one no longer works")
        return WebhookKey(key=key)

    async def webhook(self, call: WebhookCall) -> WebhookOutcome:
        return await self.webhooks.handle(call)
