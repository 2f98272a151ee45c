"""The user and the API key the environment names (``LOCAL_USER``/``LOCAL_PASSWORD``, ``API_KEY``), made or
brought up to date at start, without undoing what was done since by hand:

- ``API_KEY`` is made once, with the ``admin`` scope. A key revoked since stays revoked: its hash is kept
  among the revoked, and the start says so.
- ``LOCAL_PASSWORD`` is applied when it differs from the one last applied from the environment (whose hash is
  kept): the user's password becomes it and the user's sessions end, so a changed environment password
  leaves no old one working. A password changed since in the dashboard or the CLI stays while the
  environment's does not change. A user made before this rule (nothing applied yet) whose password differs
  takes the environment's: the environment is the operator's latest word.
"""

from __future__ import annotations

import logging

import asyncpg

from . import accounts
from .credentials import Scope, hashed, matches, token_hash
from .settings import Settings

log = logging.getLogger(__name__)


async def bootstrap(settings: Settings, pool: asyncpg.Pool) -> None:
    if settings.local_user and settings.local_password:
        await local_user(pool, settings.local_user, settings.local_password)
    if settings.api_key:
        await environment_key(pool, settings.api_key)
    if not settings.auth_enabled:
        log.warning("AUTH_ENABLED is false: anyone who can reach this port controls Librarrarian")


async def local_user(pool: asyncpg.Pool, name: str, password: str) -> None:
    row = await pool.fetchrow("SELECT password_hash, env_password_hash FROM users WHERE name = $1", name)
    if row is None:
        digest = await hashed(password)
        await pool.execute(
            "INSERT INTO users (name, password_hash, scope, env_password_hash) VALUES ($1, $2, $3, $2)"
            " ON CONFLICT DO NOTHING",
            name,
            digest,
            Scope.ADMIN.label,
        )
        log.info("created user %s", name)
        return
    applied = row["env_password_hash"]
    if applied is not None and await matches(password, applied):
        return  # unchanged since it was applied: whatever was set by hand since stays
    if applied is None and await matches(password, row["password_hash"]):
        await pool.execute("UPDATE users SET env_password_hash = password_hash WHERE name = $1", name)
        return
    digest = await hashed(password)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "UPDATE users SET password_hash = $2, env_password_hash = $2 WHERE name = $1", name, digest
        )
        await conn.execute("DELETE FROM sessions WHERE user_name = $1", name)
    log.warning("LOCAL_PASSWORD changed: the password of %s is now that one, and its sessions ended", name)


async def environment_key(pool: asyncpg.Pool, key: str) -> None:
    digest = token_hash(key)
    if await pool.fetchval("SELECT true FROM revoked_keys WHERE key_hash = $1", digest):
        log.warning("API_KEY names a key that was revoked: it stays revoked (set another, or unset it)")
        return
    if await pool.fetchval("SELECT true FROM api_keys WHERE key_hash = $1", digest):
        return
    try:
        await accounts.add_key(pool, "API_KEY", Scope.ADMIN, key)
    except accounts.Refused as refused:
        if refused.status != 409:  # 409: another gateway made it meanwhile, or revoked it
            raise
        return
    log.info("API key from API_KEY added (scope admin)")
