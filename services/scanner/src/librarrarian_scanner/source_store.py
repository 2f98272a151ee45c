"""The Plex and Jellyfin settings, kept in the scanner's own PostgreSQL schema (they hold tokens: the NATS
buckets are readable by every node, encoders on other machines included), read afresh at every use so a
change made through the gateway applies without a restart; and ``SourceError``, the one failure both
adapters raise.

Secrets stay in here and in the adapters: this module never logs a settings value.
"""

from __future__ import annotations

from typing import TypeVar

import asyncpg
import msgspec
from librarrarian_contracts.sources import JELLYFIN_KEY, PLEX_KEY, JellyfinSettings, PlexSettings
from librarrarian_runtime.errors import UpstreamFailed

S = TypeVar("S", PlexSettings, JellyfinSettings)


class SourceError(UpstreamFailed):
    """Plex, plex.tv or Jellyfin refused or could not be reached; the message says which and why, and
    carries no secret. An endpoint that meets one answers with a 502."""


class SourceStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def _get(self, key: str, type_: type[S]) -> S:
        value = await self.pool.fetchval("SELECT value FROM sources WHERE key = $1", key)
        if not value:
            return type_()
        try:
            return msgspec.json.decode(value, type=type_)
        except (msgspec.DecodeError, msgspec.ValidationError) as error:
            # Never echo the value: it holds a token.
            raise SourceError(f"the stored {key} settings cannot be read ({type(error).__name__})") from None

    async def _put(self, key: str, value: PlexSettings | JellyfinSettings) -> None:
        await self.pool.execute(
            "INSERT INTO sources (key, value) VALUES ($1, $2)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = now()",
            key,
            msgspec.json.encode(value),
        )

    async def plex(self) -> PlexSettings:
        return await self._get(PLEX_KEY, PlexSettings)

    async def jellyfin(self) -> JellyfinSettings:
        return await self._get(JELLYFIN_KEY, JellyfinSettings)

    async def save_plex(self, settings: PlexSettings) -> None:
        await self._put(PLEX_KEY, settings)

    async def save_jellyfin(self, settings: JellyfinSettings) -> None:
        await self._put(JELLYFIN_KEY, settings)
