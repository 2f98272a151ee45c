"""The secrets that open a webhook's door, one per source (``plex``): long random tokens carried in the
webhook's URL, since Plex sends no header of ours. Only their SHA-256 is kept; a new one replaces the old."""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime

import asyncpg

from .credentials import token_hash


async def rotate(pool: asyncpg.Pool, source: str) -> tuple[str, datetime]:
    """A new secret for ``source``, returned this once, and when it was made; the one before stops working
    at once."""
    secret = secrets.token_urlsafe(32)
    made_at: datetime = await pool.fetchval(
        "INSERT INTO webhook_secrets (source, secret_hash) VALUES ($1, $2)"
        " ON CONFLICT (source) DO UPDATE SET secret_hash = excluded.secret_hash, created_at = now()"
        " RETURNING created_at",
        source,
        token_hash(secret),
    )
    return secret, made_at


async def made_at(pool: asyncpg.Pool, source: str) -> datetime | None:
    """When ``source``'s secret was made; None: it has none, its webhook is off."""
    return await pool.fetchval("SELECT created_at FROM webhook_secrets WHERE source = $1", source)  # type: ignore[no-any-return]


async def forget(pool: asyncpg.Pool, source: str) -> None:
    await pool.execute("DELETE FROM webhook_secrets WHERE source = $1", source)


async def opens(pool: asyncpg.Pool, source: str, secret: str) -> bool:
    stored = await pool.fetchval("SELECT secret_hash FROM webhook_secrets WHERE source = $1", source)
    return stored is not None and hmac.compare_digest(stored, token_hash(secret))
