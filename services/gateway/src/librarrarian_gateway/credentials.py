"""Who may do what: scopes, passwords, sessions and API keys. Only hashes are stored; secrets are compared
in constant time; the scrypt work runs off the event loop, so a login never holds up other requests."""

from __future__ import annotations

import asyncio
import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

import asyncpg

SCRYPT = {"n": 2**14, "r": 8, "p": 1}
KEY_PREFIX_LENGTH = 8
MIN_PASSWORD_LENGTH = 8
# A session's last use is written at most this often: a page's many requests cost one write a minute.
SEEN_EVERY = timedelta(minutes=1)


class Scope(enum.IntEnum):
    """What a user or an API key may do; each scope includes the ones below it."""

    READ = 1  # dashboards, lists, statistics, live events (Home Assistant, a wall display)
    CONTROL = 2  # start, stop and pause nodes and the queue; scans; retry and delete jobs
    ADMIN = 3  # settings, sources, approvals, users and keys

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def named(cls, label: str) -> Scope:
        """The scope of a stored or given label (``read``, ``control``, ``admin``)."""
        try:
            return cls[label.upper()]
        except KeyError:
            raise ValueError(f"unknown scope {label!r}: use read, control or admin") from None


SCOPES = tuple(scope.label for scope in Scope)


def password_problem(password: str) -> str | None:
    """Why a new password is refused (the same rule for the CLI, the API and ``LOCAL_PASSWORD``)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"a password needs at least {MIN_PASSWORD_LENGTH} characters"
    if len(set(password)) < 4:
        return "a password needs at least 4 different characters"
    return None


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), dklen=32, **SCRYPT)
    return hmac.compare_digest(candidate.hex(), digest)


async def hashed(password: str) -> str:
    return await asyncio.to_thread(hash_password, password)


async def matches(password: str, stored: str) -> bool:
    return await asyncio.to_thread(check_password, password, stored)


def token_hash(token: str) -> str:
    """API keys and session tokens are long random strings: a plain SHA-256 is enough to store them."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    """Who asks: a user by a session (``session`` is its token's hash), a program by an API key
    (``key_id``), or anyone when authentication is off."""

    name: str
    via: str  # session | api-key | open
    scope: Scope
    user: str | None = None
    session: str | None = None
    key_id: int | None = None

    def may(self, scope: Scope | str) -> bool:
        wanted = Scope.named(scope) if isinstance(scope, str) else scope
        return self.scope >= wanted


async def set_password(pool: asyncpg.Pool, name: str, password: str) -> bool:
    """A new password; the user's sessions end."""
    async with pool.acquire() as conn, conn.transaction():
        result = await conn.execute(
            "UPDATE users SET password_hash = $2 WHERE name = $1", name, await hashed(password)
        )
        await conn.execute("DELETE FROM sessions WHERE user_name = $1", name)
    return bool(result.endswith(" 1"))


async def login(pool: asyncpg.Pool, name: str, password: str, days: int) -> str | None:
    """A new session token for the right password; None otherwise (also for a user who has no password:
    one who signs in with an OpenID provider)."""
    stored = await pool.fetchval("SELECT password_hash FROM users WHERE name = $1", name)
    if stored is None:
        await hashed(password)  # the same work either way: no user enumeration by timing
        return None
    if not await matches(password, stored):
        return None
    return await start_session(pool, name, days)


async def start_session(pool: asyncpg.Pool, user_name: str, days: int) -> str:
    """A new session of ``user_name``, however the user proved who they are (password, OpenID provider):
    its token, for the cookie; only its hash is kept."""
    token = secrets.token_urlsafe(32)
    await pool.execute(
        "INSERT INTO sessions (token_hash, user_name, expires_at) VALUES ($1, $2, now() + $3)",
        token_hash(token),
        user_name,
        timedelta(days=days),
    )
    await pool.execute("DELETE FROM sessions WHERE expires_at < now()")
    return token


async def logout(pool: asyncpg.Pool, token: str) -> None:
    await pool.execute("DELETE FROM sessions WHERE token_hash = $1", token_hash(token))


async def session_user(pool: asyncpg.Pool, token: str, idle: timedelta) -> Principal | None:
    """The session's user and scope, while the session is neither expired nor idle for longer than
    ``idle``; its last use is noted (at most once a minute)."""
    digest = token_hash(token)
    row = await pool.fetchrow(
        """
        WITH live AS (
            SELECT s.user_name, u.scope FROM sessions s JOIN users u ON u.name = s.user_name
            WHERE s.token_hash = $1 AND s.expires_at > now() AND s.last_seen > now() - $2::interval
        ), seen AS (
            UPDATE sessions SET last_seen = now()
            WHERE token_hash = $1 AND last_seen < now() - $3::interval AND EXISTS (SELECT 1 FROM live)
        )
        SELECT user_name, scope FROM live
        """,
        digest,
        idle,
        SEEN_EVERY,
    )
    if row is None:
        return None
    name = row["user_name"]
    return Principal(name, "session", Scope.named(row["scope"]), user=name, session=digest)


async def api_key_user(pool: asyncpg.Pool, key: str) -> Principal | None:
    row = await pool.fetchrow(
        "UPDATE api_keys SET last_used = now() WHERE key_hash = $1 RETURNING id, name, scope", token_hash(key)
    )
    if row is None:
        return None
    return Principal(f"key:{row['name']}", "api-key", Scope.named(row["scope"]), key_id=row["id"])
