"""The scanner's request/reply endpoints for setting up Plex and Jellyfin (a nats.micro service).

The gateway asks here rather than talking to the servers itself, so tokens and API keys live in one place:
the settings bucket, read by the scanner alone. Replies never carry one. A bad request is answered with a
``400``, a server that refused or could not be reached with a ``502`` (``SourceError``), both with a reason.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from importlib.metadata import version
from typing import Any

import httpx
import msgspec
from librarrarian_contracts import sources, topology
from librarrarian_contracts.sources import (
    PLEX,
    JellyfinCheck,
    JellyfinSettings,
    JellyfinSetup,
    Libraries,
    PlexCheck,
    PlexItem,
    PlexItemTaken,
    PlexPin,
    PlexSelection,
    PlexServers,
    PlexSettings,
    SourcesStatus,
    SyncAccepted,
    SyncRequest,
)
from librarrarian_contracts.views import Nothing
from librarrarian_runtime import outbound
from librarrarian_runtime.bus import redact
from librarrarian_runtime.endpoints import Endpoint, serve
from librarrarian_runtime.errors import BadRequest
from librarrarian_runtime.outbound import PrivateServers
from nats.aio.client import Client
from nats.micro.service import Service

from .jellyfin import Jellyfin
from .plex import RATING_KEY, PinExpired, PlexAccount, PlexMediaServer, preferred_url
from .source_store import SourceError, SourceStore
from .source_sync import SourceSync

log = logging.getLogger(__name__)


@dataclass
class SourceEndpoints:
    store: SourceStore
    sync: SourceSync
    http: httpx.AsyncClient
    plex_tv_url: str
    plex_timeout_seconds: float = 30.0
    private_servers: PrivateServers = PrivateServers.LAN
    _background: set[asyncio.Task[Any]] = field(default_factory=set)

    async def start(self, nc: Client) -> Service:
        routes: list[tuple[str, str, type[msgspec.Struct], Callable[[Any], Awaitable[msgspec.Struct]]]] = [
            ("status", topology.SOURCES_STATUS, Nothing, self.status),
            ("plex-pin-start", topology.SOURCES_PLEX_PIN_START, Nothing, self.plex_pin_start),
            ("plex-pin-check", topology.SOURCES_PLEX_PIN_CHECK, Nothing, self.plex_pin_check),
            ("plex-servers", topology.SOURCES_PLEX_SERVERS, Nothing, self.plex_servers),
            ("plex-libraries", topology.SOURCES_PLEX_LIBRARIES, Nothing, self.plex_libraries),
            ("plex-select", topology.SOURCES_PLEX_SELECT, PlexSelection, self.plex_select),
            ("plex-unlink", topology.SOURCES_PLEX_UNLINK, Nothing, self.plex_unlink),
            ("plex-test", topology.SOURCES_PLEX_TEST, Nothing, self.plex_test),
            ("plex-item", topology.SOURCES_PLEX_ITEM, PlexItem, self.plex_item),
            ("jellyfin-set", topology.SOURCES_JELLYFIN_SET, JellyfinSetup, self.jellyfin_set),
            ("jellyfin-test", topology.SOURCES_JELLYFIN_TEST, Nothing, self.jellyfin_test),
            ("jellyfin-libraries", topology.SOURCES_JELLYFIN_LIBRARIES, Nothing, self.jellyfin_libraries),
            ("sync", topology.SOURCES_SYNC, SyncRequest, self.request_sync),
        ]
        return await serve(
            nc,
            name=topology.SOURCES_SERVICE,
            version=version("librarrarian-scanner"),
            description="Plex and Jellyfin set-up and sync",
            endpoints=[Endpoint(name, subject, kind, handle) for name, subject, kind, handle in routes],
        )

    async def stop(self) -> None:
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)

    # --- status ------------------------------------------------------------------------------------

    async def status(self, _: Nothing) -> SourcesStatus:
        return SourcesStatus(
            plex=sources.plex_status(await self.store.plex()),
            jellyfin=sources.jellyfin_status(await self.store.jellyfin()),
        )

    # --- Plex --------------------------------------------------------------------------------------

    async def _account(self) -> tuple[PlexSettings, PlexAccount]:
        plex = await self.store.plex()
        if not plex.client_id:
            plex = msgspec.structs.replace(plex, client_id=f"librarrarian-{uuid.uuid4().hex}")
            await self.store.save_plex(plex)
        return plex, PlexAccount(self.http, self.plex_tv_url, plex.client_id)

    async def plex_pin_start(self, _: Nothing) -> PlexPin:
        plex, account = await self._account()
        pin = await account.create_pin()
        await self.store.save_plex(msgspec.structs.replace(plex, pin_id=pin.id, pin_code=pin.code))
        log.info("Plex link started: waiting for the code to be entered at %s", sources.PLEX_LINK_URL)
        return PlexPin(code=pin.code, expires_in=pin.expires_in)

    async def plex_pin_check(self, _: Nothing) -> PlexPin:
        """Ask plex.tv once whether the code was entered; the caller polls."""
        plex, account = await self._account()
        if plex.pin_id is None:
            if plex.token:
                return PlexPin(code="", linked=True)
            raise BadRequest("no Plex link in progress: start one first")
        try:
            pin = await account.check_pin(plex.pin_id)
        except PinExpired:
            await self.store.save_plex(msgspec.structs.replace(plex, pin_id=None, pin_code=""))
            raise BadRequest("the code expired before it was entered: start a new link") from None
        if not pin.token:
            return PlexPin(code=pin.code, expires_in=pin.expires_in)
        await self.store.save_plex(msgspec.structs.replace(plex, token=pin.token, pin_id=None, pin_code=""))
        log.info("Plex account linked")
        return PlexPin(code=pin.code, linked=True)

    async def _linked(self) -> tuple[PlexSettings, PlexAccount]:
        plex, account = await self._account()
        if not plex.token:
            raise BadRequest("no Plex account is linked: link one with a PIN first")
        return plex, account

    async def plex_servers(self, _: Nothing) -> PlexServers:
        plex, account = await self._linked()
        return PlexServers(servers=tuple(r.server for r in await account.servers(plex.token)))

    async def _server(self) -> tuple[PlexSettings, PlexMediaServer]:
        plex = await self.store.plex()
        if not (plex.url and plex.server_token):
            raise BadRequest("no Plex server is chosen yet")
        server = PlexMediaServer(plex.url, plex.server_token, self.private_servers, self.plex_timeout_seconds)
        return plex, server

    async def plex_libraries(self, _: Nothing) -> Libraries:
        server = (await self._server())[1]
        return Libraries(libraries=tuple(await server.sections()))

    async def plex_test(self, _: Nothing) -> PlexCheck:
        server = (await self._server())[1]
        try:
            name, server_version = await server.info()
        except (SourceError, BadRequest) as error:  # BadRequest: the address is no longer allowed
            return PlexCheck(ok=False, problem=str(error))
        return PlexCheck(ok=True, server_name=name, version=server_version)

    async def plex_item(self, item: PlexItem) -> PlexItemTaken:
        """A webhook's new item: its files, mapped and checked now; probed and queued in the background (a
        webhook is answered at once, whatever the scanner is busy with)."""
        plex, server = await self._server()
        if item.server_id != plex.server_id:
            return PlexItemTaken(ignored="the webhook came from another Plex server than the chosen one")
        if item.section_id and item.section_id not in plex.sections:
            return PlexItemTaken(ignored=f"library {item.section_id} is not one of the chosen libraries")
        if not RATING_KEY.fullmatch(item.rating_key):
            raise BadRequest("the item's rating key is not a number")
        files = await server.item_files(item.rating_key)
        taken = self.sync.take(PLEX, files, plex.mappings)
        log.info(
            "Plex webhook: item %s has %d files, %d here to probe, %d refused",
            item.rating_key,
            len(files),
            len(taken.kept),
            taken.report.refused,
        )
        if taken.kept:
            self._in_background(self.sync.probe(taken))
        return PlexItemTaken(files=len(files), handed=len(taken.kept), refused=taken.report.refused)

    async def plex_select(self, selection: PlexSelection) -> sources.PlexStatus:
        plex, account = await self._linked()
        resources = {r.server.id: r for r in await account.servers(plex.token)}
        chosen = resources.get(selection.server_id)
        if chosen is None:
            raise BadRequest(f"the account has no server with the id {selection.server_id!r}")
        url = selection.url or preferred_url(chosen.server)
        known = [c.uri for c in chosen.server.connections]
        if selection.url and not any(outbound.same_server(url, uri) for uri in known):
            # The server's token would go wherever the URL points: only to a connection plex.tv lists.
            raise BadRequest(
                f"{redact(url)} is not one of the connections plex.tv lists for {chosen.server.name!r}: "
                + ", ".join(known)
            )
        await self._check_url(url)
        plex = msgspec.structs.replace(
            plex,
            server_id=chosen.server.id,
            server_name=chosen.server.name,
            url=url,
            server_token=chosen.access_token,
            sections=selection.sections,
            mappings=selection.mappings,
        )
        if selection.check_only:
            return sources.plex_status(plex)
        await self.store.save_plex(plex)
        log.info(
            "Plex server %s at %s chosen, sections %s",
            plex.server_name,
            redact(url),
            ", ".join(plex.sections),
        )
        return sources.plex_status(plex)

    async def plex_unlink(self, _: Nothing) -> sources.PlexStatus:
        plex = await self.store.plex()
        await self.store.save_plex(PlexSettings(client_id=plex.client_id))
        log.info("Plex account unlinked")
        return sources.plex_status(PlexSettings())

    # --- Jellyfin ----------------------------------------------------------------------------------

    async def jellyfin_set(self, setup: JellyfinSetup) -> sources.JellyfinStatus:
        await self._check_url(setup.url)
        stored = await self.store.jellyfin()
        if setup.api_key is None and stored.api_key and not outbound.same_server(setup.url, stored.url):
            # The stored key belongs to the server it was given for; another host must earn its own.
            raise BadRequest("the URL points at another server than the stored key's: give its API key again")
        api_key = setup.api_key if setup.api_key is not None else stored.api_key
        jellyfin = JellyfinSettings(
            url=setup.url.rstrip("/"), api_key=api_key, libraries=setup.libraries, mappings=setup.mappings
        )
        if setup.check_only:
            return sources.jellyfin_status(jellyfin)
        await self.store.save_jellyfin(jellyfin)
        log.info("Jellyfin at %s set, libraries %s", redact(jellyfin.url), ", ".join(jellyfin.libraries))
        return sources.jellyfin_status(jellyfin)

    async def _jellyfin(self) -> Jellyfin:
        jellyfin = await self.store.jellyfin()
        if not (jellyfin.url and jellyfin.api_key):
            raise BadRequest("Jellyfin is not set up: give its URL and an API key first")
        return Jellyfin(self.http, jellyfin.url, jellyfin.api_key)

    async def jellyfin_test(self, _: Nothing) -> JellyfinCheck:
        client = await self._jellyfin()
        try:
            name, server_version = await client.info()
        except SourceError as error:
            return JellyfinCheck(ok=False, problem=str(error))
        return JellyfinCheck(ok=True, server_name=name, version=server_version)

    async def jellyfin_libraries(self, _: Nothing) -> Libraries:
        return Libraries(libraries=tuple(await (await self._jellyfin()).libraries()))

    # --- sync --------------------------------------------------------------------------------------

    async def request_sync(self, request: SyncRequest) -> SyncAccepted:
        unknown = set(request.sources) - {sources.PLEX, sources.JELLYFIN}
        if unknown:
            raise BadRequest(f"unknown source {', '.join(sorted(unknown))}; use plex or jellyfin")
        configured = await self.sync.configured()
        chosen = tuple(s for s in configured if not request.sources or s in request.sources)
        if self.sync.running:
            return SyncAccepted(sources=chosen, already_running=True)
        if chosen:
            self._in_background(self._sync_in_background(chosen))
        return SyncAccepted(sources=chosen)

    def _in_background(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _check_url(self, url: str) -> None:
        await asyncio.to_thread(outbound.check_url, url, self.private_servers)

    async def _sync_in_background(self, chosen: tuple[str, ...]) -> None:
        try:
            await self.sync.sync(chosen)
        except Exception:  # the task's outermost edge: nobody awaits it
            log.exception("requested source sync failed")
