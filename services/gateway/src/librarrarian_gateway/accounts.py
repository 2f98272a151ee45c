"""Managing users and API keys (the API's ``/users`` and ``/keys`` and ``librarrarian admin``): list them,
make them with a scope, change a user's scope, delete a user, revoke a key. A key is returned once, when it
is made; listings never hold a secret or a hash. A revoked key's hash is kept, so that ``API_KEY`` in the
environment cannot bring it back.

Refusals are :class:`Refused` with the HTTP status they mean (404 none such, 409 the last admin, …).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import asyncpg

from .credentials import KEY_PREFIX_LENGTH, Scope, hashed, password_problem, token_hash

MAX_NAME_LENGTH = 100


class Refused(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status


@dataclass(frozen=True)
class NewKey:
    id: int
    name: str
    prefix: str
    scope: Scope
    key: str  # shown once


def name_problem(name: str) -> str | None:
    if not name.strip() or name != name.strip():
        return "a name must not be empty or start or end with a space"
    if len(name) > MAX_NAME_LENGTH:
        return f"a name has at most {MAX_NAME_LENGTH} characters"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "a name must not hold control characters"
    return None


def _checked_name(name: str) -> str:
    problem = name_problem(name)
    if problem:
        raise Refused(400, problem)
    return name


async def users(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    rows = await pool.fetch("SELECT name, scope, created_at FROM users ORDER BY name")
    return [dict(row) for row in rows]


async def add_user(pool: asyncpg.Pool, name: str, password: str, scope: Scope) -> dict[str, Any]:
    _checked_name(name)
    problem = password_problem(password)
    if problem:
        raise Refused(400, problem)
    row = await pool.fetchrow(
        "INSERT INTO users (name, password_hash, scope) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"
        " RETURNING name, scope, created_at",
        name,
        await hashed(password),
        scope.label,
    )
    if row is None:
        raise Refused(409, f"user {name} exists already")
    return dict(row)


async def set_scope(pool: asyncpg.Pool, name: str, scope: Scope) -> dict[str, Any]:
    """A user's new scope; the last admin keeps ``admin`` (someone must be able to manage the rest)."""
    async with pool.acquire() as conn, conn.transaction():
        await _lock_users(conn)
        current = await conn.fetchval("SELECT scope FROM users WHERE name = $1", name)
        if current is None:
            raise Refused(404, f"no user {name}")
        if current == Scope.ADMIN.label and scope != Scope.ADMIN and await _admins(conn) == 1:
            raise Refused(409, f"{name} is the last admin: make another admin first")
        row = await conn.fetchrow(
            "UPDATE users SET scope = $2 WHERE name = $1 RETURNING name, scope, created_at", name, scope.label
        )
    return dict(row)


async def delete_user(pool: asyncpg.Pool, name: str) -> None:
    """The user and its sessions go; the last admin stays."""
    async with pool.acquire() as conn, conn.transaction():
        await _lock_users(conn)
        current = await conn.fetchval("SELECT scope FROM users WHERE name = $1", name)
        if current is None:
            raise Refused(404, f"no user {name}")
        if current == Scope.ADMIN.label and await _admins(conn) == 1:
            raise Refused(409, f"{name} is the last admin: make another admin first")
        await conn.execute("DELETE FROM users WHERE name = $1", name)  # its sessions by the cascade


async def keys(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    rows = await pool.fetch("SELECT id, name, prefix, scope, created_at, last_used FROM api_keys ORDER BY id")
    return [dict(row) for row in rows]


async def add_key(pool: asyncpg.Pool, name: str, scope: Scope, key: str | None = None) -> NewKey:
    """A new key (random unless given); ``Refused`` 409 when the given one was revoked or exists."""
    _checked_name(name)
    key = key or secrets.token_urlsafe(32)
    digest = token_hash(key)
    async with pool.acquire() as conn, conn.transaction():
        if await conn.fetchval("SELECT true FROM revoked_keys WHERE key_hash = $1", digest):
            raise Refused(409, "this key was revoked: it cannot be used again")
        key_id = await conn.fetchval(
            "INSERT INTO api_keys (name, prefix, key_hash, scope) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (key_hash) DO NOTHING RETURNING id",
            name,
            key[:KEY_PREFIX_LENGTH],
            digest,
            scope.label,
        )
    if key_id is None:
        raise Refused(409, "this key exists already")
    return NewKey(key_id, name, key[:KEY_PREFIX_LENGTH], scope, key)


async def revoke_key(pool: asyncpg.Pool, key_id: int) -> dict[str, Any]:
    """The key stops working at once, for good: its hash is kept among the revoked."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "DELETE FROM api_keys WHERE id = $1 RETURNING id, name, prefix, key_hash", key_id
        )
        if row is None:
            raise Refused(404, f"no API key {key_id}")
        await conn.execute(
            "INSERT INTO revoked_keys (key_hash) VALUES ($1) ON CONFLICT DO NOTHING", row["key_hash"]
        )
    return {"id": row["id"], "name": row["name"], "prefix": row["prefix"]}


async def key_ids(pool: asyncpg.Pool, id_or_prefix: str) -> list[int]:
    """The keys an id or a prefix names (the CLI takes either)."""
    rows = await pool.fetch(
        "SELECT id FROM api_keys WHERE id::text = $1 OR prefix = $1 ORDER BY id", id_or_prefix
    )
    return [row["id"] for row in rows]


async def _lock_users(conn: asyncpg.Connection) -> None:
    """Two admins demoting each other at once must not leave none: changes of scope take turns."""
    await conn.execute("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE")


async def _admins(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM users WHERE scope = 'admin'"))
