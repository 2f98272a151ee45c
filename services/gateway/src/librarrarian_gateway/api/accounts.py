"""Users and API keys under ``/api/v1/users`` and ``/api/v1/keys`` (the Options page uses them; admin scope).

A new key is in the answer that makes it and never again; listings hold no secret and no hash. Revoking a
key, deleting a user or demoting one ends their open live streams; deleting a user ends its sessions too.
The last admin can be neither demoted nor deleted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Request
from pydantic import BaseModel, Field

from .. import accounts, live
from ..access import ADMIN
from ..credentials import MIN_PASSWORD_LENGTH, Scope
from ..params import RecordId

router = APIRouter(tags=["access"])

ScopeName = Literal["read", "control", "admin"]
SCOPE_HELP = "read: look; control: also start, stop, scan, retry, delete jobs; admin: also settings, sources, approvals, users, keys"
UserName = Annotated[
    str, Path(min_length=1, max_length=accounts.MAX_NAME_LENGTH, pattern=r"^[^\x00-\x1f\x7f]+$")
]


class UserOut(BaseModel):
    name: str
    scope: ScopeName
    created_at: datetime


class UserIn(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=accounts.MAX_NAME_LENGTH)]
    password: Annotated[
        str, Field(min_length=MIN_PASSWORD_LENGTH, max_length=1024, description="at least 8 characters")
    ]
    scope: ScopeName = Field(description=SCOPE_HELP)


class ScopeIn(BaseModel):
    scope: ScopeName = Field(description=SCOPE_HELP)


class KeyOut(BaseModel):
    id: int
    name: str
    prefix: str = Field(description="the key's first characters, to tell keys apart")
    scope: ScopeName
    created_at: datetime
    last_used: datetime | None


class KeyIn(BaseModel):
    name: Annotated[
        str, Field(min_length=1, max_length=accounts.MAX_NAME_LENGTH, description="what it is for")
    ]
    scope: ScopeName = Field(description=SCOPE_HELP)


class NewKeyOut(BaseModel):
    id: int
    name: str
    prefix: str
    scope: ScopeName
    key: str = Field(description="the key itself: shown this once, keep it now")


class DeletedOut(BaseModel):
    name: str
    detail: str


class RevokedOut(BaseModel):
    id: int
    name: str
    prefix: str


async def _done(call: Any) -> Any:
    try:
        return await call
    except accounts.Refused as refused:
        raise HTTPException(refused.status, str(refused)) from None


def _pool(request: Request) -> Any:
    return request.app.state.pool


@router.get("/users", dependencies=ADMIN, response_model=list[UserOut], summary="The users and their scopes")
async def users(request: Request) -> Any:
    return await accounts.users(_pool(request))


@router.post(
    "/users",
    dependencies=ADMIN,
    response_model=UserOut,
    status_code=201,
    summary="Add a user",
    responses={
        400: {"description": "a weak password or a bad name"},
        409: {"description": "the user exists"},
    },
)
async def add_user(body: UserIn, request: Request) -> Any:
    return await _done(accounts.add_user(_pool(request), body.name, body.password, Scope.named(body.scope)))


@router.patch(
    "/users/{name}",
    dependencies=ADMIN,
    response_model=UserOut,
    summary="Change a user's scope",
    responses={404: {"description": "no such user"}, 409: {"description": "the last admin"}},
)
async def set_scope(name: UserName, body: ScopeIn, request: Request) -> Any:
    changed = await _done(accounts.set_scope(_pool(request), name, Scope.named(body.scope)))
    live.end_streams(request.app, user=name)  # reopened with the new scope
    return changed


@router.delete(
    "/users/{name}",
    dependencies=ADMIN,
    response_model=DeletedOut,
    summary="Delete a user; its sessions end",
    responses={404: {"description": "no such user"}, 409: {"description": "the last admin"}},
)
async def delete_user(name: UserName, request: Request) -> Any:
    await _done(accounts.delete_user(_pool(request), name))
    live.end_streams(request.app, user=name)
    return {"name": name, "detail": "deleted; its sessions ended"}


@router.get(
    "/keys",
    dependencies=ADMIN,
    response_model=list[KeyOut],
    summary="The API keys: name, prefix, scope, when made and last used (never the key)",
)
async def keys(request: Request) -> Any:
    return await accounts.keys(_pool(request))


@router.post(
    "/keys",
    dependencies=ADMIN,
    response_model=NewKeyOut,
    status_code=201,
    summary="Make an API key (the answer holds it, this once)",
)
async def add_key(body: KeyIn, request: Request) -> Any:
    made = await _done(accounts.add_key(_pool(request), body.name, Scope.named(body.scope)))
    return {
        "id": made.id,
        "name": made.name,
        "prefix": made.prefix,
        "scope": made.scope.label,
        "key": made.key,
    }


@router.delete(
    "/keys/{key_id}",
    dependencies=ADMIN,
    response_model=RevokedOut,
    summary="Revoke an API key: it stops working at once, for good",
    responses={404: {"description": "no such key"}},
)
async def revoke_key(key_id: RecordId, request: Request) -> Any:
    revoked = await _done(accounts.revoke_key(_pool(request), key_id))
    live.end_streams(request.app, key_id=key_id)
    return revoked
