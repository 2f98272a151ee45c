"""The notification URLs, kept in the gateway's schema: checked by Apprise and by the outbound rules
(:mod:`destinations`) when they are added, and shown only as the kind of service they reach, never the URL
(its tokens and passwords stay here)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from librarrarian_runtime.outbound import PrivateServers

from .destinations import NotAnAppriseUrl, guarded, plugin_of

__all__ = ["NotAnAppriseUrl", "Target", "add", "describe", "listed", "remove", "urls"]


@dataclass(frozen=True)
class Target:
    id: int
    service: str  # what Apprise calls the service: "JSON", "Discord", "Gotify", …
    scheme: str
    added_at: datetime


def describe(url: str) -> tuple[str, str]:
    """The service and scheme of an Apprise URL, or :class:`NotAnAppriseUrl` (in words without the URL)."""
    plugin = plugin_of(url)
    return str(plugin.service_name), url.partition("://")[0].lower()


async def add(pool: asyncpg.Pool, url: str, allowed: PrivateServers) -> Target:
    """Keep ``url`` once Apprise reads it and its server may be reached (``RefusedAddress`` otherwise)."""
    await asyncio.to_thread(guarded, url, allowed)
    row = await pool.fetchrow(
        "INSERT INTO notification_urls (url) VALUES ($1)"
        " ON CONFLICT (url) DO UPDATE SET url = EXCLUDED.url RETURNING id, url, added_at",
        url.strip(),
    )
    assert row is not None
    return _target(row)


async def remove(pool: asyncpg.Pool, target_id: int) -> bool:
    return bool((await pool.execute("DELETE FROM notification_urls WHERE id = $1", target_id)).endswith(" 1"))


async def listed(pool: asyncpg.Pool) -> list[Target]:
    return [
        _target(r) for r in await pool.fetch("SELECT id, url, added_at FROM notification_urls ORDER BY id")
    ]


async def urls(pool: asyncpg.Pool) -> list[str]:
    return [r["url"] for r in await pool.fetch("SELECT url FROM notification_urls ORDER BY id")]


def _target(row: asyncpg.Record) -> Target:
    try:
        service, scheme = describe(row["url"])
    except NotAnAppriseUrl:
        service, scheme = "unknown", "?"
    return Target(row["id"], service, scheme, row["added_at"])
