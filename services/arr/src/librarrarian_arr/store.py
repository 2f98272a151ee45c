"""The arr service's records in its own PostgreSQL schema: each app's settings (API key included), the webhook
key's hash, and the follow-ups an app still has to hear after a transcode.

This module never logs a settings value: they hold API keys.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

import asyncpg
import msgspec
from librarrarian_contracts import ArrApp
from librarrarian_contracts.arr import ArrSettings, WebhookSecret
from librarrarian_runtime.errors import InternalError

WEBHOOK_KEY = "webhook"


def settings_key(app: ArrApp) -> str:
    return f"app.{app.value}"


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class FollowUp:
    id: int
    job_id: int
    app: ArrApp
    path: str
    attempts: int


class Store:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def _get(self, key: str) -> bytes | None:
        value: bytes | None = await self.pool.fetchval("SELECT value FROM settings WHERE key = $1", key)
        return value

    async def _put(self, key: str, value: bytes) -> None:
        await self.pool.execute(
            "INSERT INTO settings (key, value) VALUES ($1, $2)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = now()",
            key,
            value,
        )

    async def app(self, app: ArrApp) -> ArrSettings:
        value = await self._get(settings_key(app))
        if not value:
            return ArrSettings()
        try:
            return msgspec.json.decode(value, type=ArrSettings)
        except (msgspec.DecodeError, msgspec.ValidationError) as error:
            # Never echo the value: it holds an API key.
            raise InternalError(
                f"the stored {app} settings cannot be read ({type(error).__name__})"
            ) from None

    async def save_app(self, app: ArrApp, settings: ArrSettings) -> None:
        await self._put(settings_key(app), msgspec.json.encode(settings))

    async def new_webhook_key(self) -> str:
        """A new key for the apps' webhooks; the old one stops working. Only its hash is kept."""
        key = secrets.token_urlsafe(32)
        await self._put(WEBHOOK_KEY, msgspec.json.encode(WebhookSecret(key_sha256=digest(key))))
        return key

    async def webhook_key_set(self) -> bool:
        return bool(await self._get(WEBHOOK_KEY))

    async def webhook_key_matches(self, key: str) -> bool:
        value = await self._get(WEBHOOK_KEY)
        if not value or not key:
            return False
        stored = msgspec.json.decode(value, type=WebhookSecret).key_sha256
        return bool(stored) and hmac.compare_digest(stored, digest(key))

    # --- follow-ups after a transcode ------------------------------------------------------------------

    async def add_follow_up(self, job_id: int, app: ArrApp, path: str) -> bool:
        """Record that ``app`` must rescan (and maybe rename) ``path``, the output of job ``job_id``; False
        when it was recorded already (a redelivered completion)."""
        added = await self.pool.fetchval(
            "INSERT INTO followups (job_id, app, path) VALUES ($1, $2, $3)"
            " ON CONFLICT (job_id, app) DO NOTHING RETURNING true",
            job_id,
            app.value,
            path,
        )
        return bool(added)

    async def due_follow_ups(self, limit: int = 20) -> list[FollowUp]:
        rows = await self.pool.fetch(
            "SELECT id, job_id, app, path, attempts FROM followups"
            " WHERE done_at IS NULL AND next_at <= now() ORDER BY next_at, id LIMIT $1",
            limit,
        )
        return [FollowUp(r["id"], r["job_id"], ArrApp(r["app"]), r["path"], r["attempts"]) for r in rows]

    async def follow_up_done(self, follow_up: FollowUp, outcome: str) -> None:
        await self.pool.execute(
            "UPDATE followups SET done_at = now(), outcome = $2, attempts = attempts + 1 WHERE id = $1",
            follow_up.id,
            outcome,
        )

    async def follow_up_later(self, follow_up: FollowUp, error: str, delay_seconds: float) -> None:
        await self.pool.execute(
            "UPDATE followups SET attempts = attempts + 1, last_error = $2,"
            " next_at = now() + make_interval(secs => $3) WHERE id = $1",
            follow_up.id,
            error,
            delay_seconds,
        )

    async def next_follow_up_in(self) -> float | None:
        seconds = await self.pool.fetchval(
            "SELECT EXTRACT(EPOCH FROM min(next_at) - now()) FROM followups WHERE done_at IS NULL"
        )
        return None if seconds is None else max(0.0, float(seconds))
