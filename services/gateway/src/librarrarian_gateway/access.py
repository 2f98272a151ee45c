"""Who is asking, and what they may do.

Who: a session cookie (browsers) or an ``X-Api-Key`` header (scripts, the Arr convention); the rooms' doors
(``require_api``, ``require_page``) turn away whoever is neither. What: every route carries exactly one
decision, ``Depends(allow(Scope.X))`` or ``Depends(anyone)``; :func:`decisions` reads them back and
:func:`check_decisions` refuses an app with a route that has none (``create_app`` calls it, so a new route
without a decision stops the gateway from starting, and the route-matrix test tries every decision).
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import Mount

from . import credentials
from .credentials import Principal, Scope

__all__ = [
    "ADMIN",
    "CONTROL",
    "PUBLIC",
    "READ",
    "SESSION_COOKIE",
    "Allow",
    "LoginRequired",
    "Principal",
    "Scope",
    "UndecidedRoute",
    "allow",
    "anyone",
    "check_decisions",
    "decisions",
    "identify",
    "require_api",
    "require_page",
]

SESSION_COOKIE = "librarrarian_session"
_UNSET = object()


class LoginRequired(Exception):
    """A page was asked for without a session: the browser goes to the login page."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


class UndecidedRoute(RuntimeError):
    """A route carries no decision (or more than one) about who may call it."""


async def identify(request: Request) -> Principal | None:
    """The caller, looked up once per request."""
    known = getattr(request.state, "principal", _UNSET)
    if known is not _UNSET:
        return known  # type: ignore[return-value]
    principal = await _lookup(request)
    request.state.principal = principal
    return principal


async def _lookup(request: Request) -> Principal | None:
    state = request.app.state
    if not state.settings.auth_enabled:
        return Principal("anonymous", "open", Scope.ADMIN)
    key = request.headers.get("x-api-key")
    if key:
        return await credentials.api_key_user(state.pool, key)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        idle = timedelta(minutes=state.settings.session_idle_minutes)
        return await credentials.session_user(state.pool, token, idle)
    return None


async def require_api(request: Request) -> Principal:
    principal = await identify(request)
    if principal is None:
        raise HTTPException(
            401,
            "log in, or send an API key in the X-Api-Key header",
            headers={"WWW-Authenticate": "X-Api-Key"},
        )
    return principal


async def require_page(request: Request) -> Principal:
    principal = await identify(request)
    if principal is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(quote(target))
    return principal


class Allow:
    """One route's decision: the scope it needs, or None for a public route. Behind a room's door the
    caller is known already; anywhere else an unknown caller is a 401."""

    def __init__(self, scope: Scope | None) -> None:
        self.scope = scope

    def __repr__(self) -> str:
        return f"allow({self.scope.label if self.scope else 'anyone'})"

    async def __call__(self, request: Request) -> Principal | None:
        if self.scope is None:
            return None
        principal = await require_api(request)
        if not principal.may(self.scope):
            raise HTTPException(
                403,
                f"this needs the {self.scope.label} scope; your {_what(principal)} has {principal.scope.label}",
            )
        return principal


def _what(principal: Principal) -> str:
    return "API key" if principal.via == "api-key" else "user"


_DECISIONS = {scope: Allow(scope) for scope in Scope}
anyone = Allow(None)


def allow(scope: Scope) -> Allow:
    """The decision that a route needs ``scope`` (one object per scope, so FastAPI runs it once)."""
    return _DECISIONS[scope]


# What a route's decorator says: ``@router.get("/x", dependencies=READ)``.
READ = [Depends(allow(Scope.READ))]
CONTROL = [Depends(allow(Scope.CONTROL))]
ADMIN = [Depends(allow(Scope.ADMIN))]
PUBLIC = [Depends(anyone)]


def _decisions_of(dependant: Dependant) -> list[Allow]:
    found = [dependant.call] if isinstance(dependant.call, Allow) else []
    for child in dependant.dependencies:
        found += _decisions_of(child)
    return found


def decisions(app: FastAPI, static: frozenset[str] = frozenset({"/static"})) -> dict[tuple[str, str], Allow]:
    """(method, path) → the decision of every route, as served (prefixes and the doors' dependencies
    included); raises :class:`UndecidedRoute` for a route with none or with several, and for anything served
    that is not a route (only the static files' mounts in ``static`` are)."""
    found: dict[tuple[str, str], Allow] = {}
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, Mount) and context.path in static:
            continue
        if not isinstance(route, APIRoute):
            raise UndecidedRoute(
                f"{context.path} ({type(route).__name__}) is not a route that can carry a decision"
            )
        made = set(_decisions_of(context.dependant))
        if len(made) != 1:
            raise UndecidedRoute(
                f"{sorted(context.methods or ())} {context.path} carries {len(made)} decisions: give it exactly "
                "one, Depends(allow(Scope.…)) or Depends(anyone)"
            )
        (decision,) = made
        for method in context.methods or ():
            found[(method, str(context.path))] = decision
    return found


def check_decisions(app: FastAPI, static: frozenset[str]) -> None:
    decisions(app, static)
