"""Reaching each app as it is set: its client (with or without the TLS check, as the app's switch or
``ARR_SSL_VERIFY`` says) and the translation of its paths to ours and back, checked against the media paths."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx
from librarrarian_contracts import ArrApp
from librarrarian_contracts.arr import ArrSettings
from librarrarian_runtime.errors import BadRequest
from librarrarian_runtime.media_paths import OutsideMediaPaths, contain
from librarrarian_runtime.path_mapping import to_local, to_server

from .apps import APPS
from .client import ArrClient
from .store import Store


class NotSetUp(BadRequest):
    """The app is not enabled, or has no URL or API key yet."""


@dataclass
class Connections:
    store: Store
    verified: httpx.AsyncClient
    unverified: httpx.AsyncClient
    ssl_default: bool
    media_paths: tuple[Path, ...]

    def client(self, app: ArrApp, settings: ArrSettings) -> ArrClient:
        verify = self.ssl_default if settings.ssl_verify is None else settings.ssl_verify
        http = self.verified if verify else self.unverified
        return ArrClient(http, APPS[app], settings.url, settings.api_key)

    async def open(self, app: ArrApp, *, enabled: bool = True) -> tuple[ArrSettings, ArrClient]:
        """The app's settings and client; ``NotSetUp`` when it lacks a URL or key (or, with ``enabled``, is
        switched off)."""
        settings = await self.store.app(app)
        if not (settings.url and settings.api_key):
            raise NotSetUp(f"{APPS[app].name} is not set up: give its URL and API key first")
        if enabled and not settings.enabled:
            raise NotSetUp(f"{APPS[app].name} is not enabled")
        return settings, self.client(app, settings)

    async def enabled(self) -> list[tuple[ArrApp, ArrSettings, ArrClient]]:
        found = []
        for app in ArrApp:
            settings = await self.store.app(app)
            if settings.enabled and settings.url and settings.api_key:
                found.append((app, settings, self.client(app, settings)))
        return found

    def local(self, settings: ArrSettings, app_path: str) -> Path | None:
        """Where a path the app names lies here; None when it is outside the media paths."""
        try:
            return contain(to_local(app_path, settings.mappings), self.media_paths)
        except (OutsideMediaPaths, OSError, RuntimeError):  # RuntimeError: a symlink loop
            return None

    @staticmethod
    def remote(settings: ArrSettings, local_path: str) -> str:
        """Where one of our paths lies as the app sees it."""
        return to_server(local_path, settings.mappings)
