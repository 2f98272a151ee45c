"""What sign-in with an OpenID provider keeps in PostgreSQL: the sign-ins under way between the two requests
(each taken once, only by the browser that started it, for ten minutes) and the users the provider names by
issuer and subject. Shared by every gateway replica, so a callback may reach another one."""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import asyncpg

from .credentials import token_hash
from .oidc import Authorization, Identity, SignInRefused

log = logging.getLogger(__name__)

PENDING_FOR = timedelta(minutes=10)


@dataclass(frozen=True)
class Pending:
    """A sign-in under way, taken back at the callback."""

    nonce: str
    code_verifier: str
    redirect_uri: str
    next_url: str


async def remember(pool: asyncpg.Pool, authorization: Authorization, browser: str, next_url: str) -> None:
    await pool.execute("DELETE FROM oidc_sign_ins WHERE expires_at < now()")
    await pool.execute(
        "INSERT INTO oidc_sign_ins (state_hash, browser_hash, nonce, code_verifier, redirect_uri, next_url,"
        " expires_at) VALUES ($1, $2, $3, $4, $5, $6, now() + $7)",
        token_hash(authorization.state),
        token_hash(browser),
        authorization.nonce,
        authorization.code_verifier,
        authorization.redirect_uri,
        next_url,
        PENDING_FOR,
    )


async def take(pool: asyncpg.Pool, state: str | None, browser: str | None) -> Pending | None:
    """The sign-in ``state`` names, gone from the store whatever the outcome (a state works once); None
    when there is none, it is too old, or another browser started it."""
    if not state:
        return None
    row = await pool.fetchrow(
        "DELETE FROM oidc_sign_ins WHERE state_hash = $1"
        " RETURNING browser_hash, nonce, code_verifier, redirect_uri, next_url, expires_at > now() AS fresh",
        token_hash(state),
    )
    if row is None or not row["fresh"] or browser is None:
        return None
    if not hmac.compare_digest(row["browser_hash"], token_hash(browser)):
        return None
    return Pending(row["nonce"], row["code_verifier"], row["redirect_uri"], row["next_url"])


def names(identity: Identity) -> list[str]:
    """The user names to try, in order: the provider's name for the user, then with the provider's host, so
    a provider's ``admin`` never becomes the local ``admin`` (users are never merged by name)."""
    host = urlsplit(identity.issuer).hostname or "oidc"
    qualified = f"{identity.name} ({host})"
    return [identity.name, qualified, *(f"{qualified} {n}" for n in range(2, 10))]


async def user_for(pool: asyncpg.Pool, identity: Identity, scope: str) -> str:
    """The name of the user the provider names, made at the first sign-in (with no password here, and
    ``scope``; an admin may change it later on the Options page)."""
    query = "SELECT name FROM users WHERE oidc_issuer = $1 AND oidc_subject = $2"
    existing: str | None = await pool.fetchval(query, identity.issuer, identity.subject)
    if existing:
        return existing
    for name in names(identity):
        created: str | None = await pool.fetchval(
            "INSERT INTO users (name, oidc_issuer, oidc_subject, scope) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT DO NOTHING RETURNING name",
            name,
            identity.issuer,
            identity.subject,
            scope,
        )
        if created:
            log.info("created user %s for subject %s of %s", created, identity.subject, identity.issuer)
            return created
        # Taken: by another user, or by this one signing in at the same moment in another tab.
        existing = await pool.fetchval(query, identity.issuer, identity.subject)
        if existing:
            return existing
    raise SignInRefused(
        409, f"Every user name tried for {identity.name} is taken here: ask an administrator."
    )
