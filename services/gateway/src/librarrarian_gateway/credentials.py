"""Users, passwords, sessions and API keys. Only hashes are stored; secrets are compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

import asyncpg

SCRYPT = {"n": 2**14, "r": 8, "p": 1}
KEY_PREFIX_LENGTH = 8


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


def token_hash(token: str) -> str:
    """API keys and session tokens are long random strings: a plain SHA-256 is enough to store them."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    name: str
    via: str  # session | api-key | open


async def create_user(pool: asyncpg.Pool, name: str, password: str) -> bool:
    """False when the user exists already (its password is left as it is)."""
    inserted = await pool.fetchval(
        "INSERT INTO users (name, password_hash) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING true",
        name,
        hash_password(password),
    )
    return bool(inserted)


async def set_password(pool: asyncpg.Pool, name: str, password: str) -> bool:
    result = await pool.execute(
        "UPDATE users SET password_hash = $2 WHERE name = $1", name, hash_password(password)
    )
    await pool.execute("DELETE FROM sessions WHERE user_name = $1", name)
    return bool(result.endswith(" 1"))


async def login(pool: asyncpg.Pool, name: str, password: str, days: int) -> str | None:
    """A new session token for the right password; None otherwise (also for a user who has no password:
    one who signs in with an OpenID provider)."""
    stored = await pool.fetchval("SELECT password_hash FROM users WHERE name = $1", name)
    if stored is None:
        hash_password(password)  # the same work either way: no user enumeration by timing
        return None
    if not check_password(password, stored):
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


async def session_user(pool: asyncpg.Pool, token: str) -> Principal | None:
    name = await pool.fetchval(
        "SELECT user_name FROM sessions WHERE token_hash = $1 AND expires_at > now()", token_hash(token)
    )
    return Principal(name, "session") if name else None


async def create_api_key(pool: asyncpg.Pool, name: str, key: str | None = None) -> str:
    key = key or secrets.token_urlsafe(32)
    await pool.execute(
        "INSERT INTO api_keys (name, prefix, key_hash) VALUES ($1, $2, $3) ON CONFLICT (key_hash) DO NOTHING",
        name,
        key[:KEY_PREFIX_LENGTH],
        token_hash(key),
    )
    return key


async def api_key_user(pool: asyncpg.Pool, key: str) -> Principal | None:
    name = await pool.fetchval(
        "UPDATE api_keys SET last_used = now() WHERE key_hash = $1 RETURNING name", token_hash(key)
    )
    return Principal(f"key:{name}", "api-key") if name else None
