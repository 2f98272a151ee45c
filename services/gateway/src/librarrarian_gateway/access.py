"""Who is asking: a session cookie (browsers) or an ``X-Api-Key`` header (scripts, the Arr convention)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import HTTPException, Request

from . import credentials
from .credentials import Principal

SESSION_COOKIE = "librarrarian_session"


class LoginRequired(Exception):
    """A page was asked for without a session: the browser goes to the login page."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


async def identify(request: Request) -> Principal | None:
    state = request.app.state
    if not state.settings.auth_enabled:
        return Principal("anonymous", "open")
    key = request.headers.get("x-api-key")
    if key:
        return await credentials.api_key_user(state.pool, key)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        return await credentials.session_user(state.pool, token)
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
