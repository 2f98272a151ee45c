"""Logging in and out: the only pages outside the room's door (everyone may see the login form).

Failed logins are counted per address and per user name (``throttle``): past the limit the form answers 429
with ``Retry-After`` until the lockout ends. The session cookie is ``Secure`` whenever the page was served
over HTTPS, which behind a proxy the proxy says (``FORWARDED_ALLOW_IPS``). Logging out ends the session and
its live event streams.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from .. import credentials, live
from ..access import PUBLIC, SESSION_COOKIE
from ..theme import current_theme
from ..throttle import Throttle
from .rendering import render

router = APIRouter(include_in_schema=False)


def safe_next(target: str | None) -> str:
    """Only local paths: a login link must not send the user to another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


async def login_page(
    request: Request, next: str | None, error: str | None = None, status: int = 200
) -> HTMLResponse:
    """The login page with the ways in this gateway offers: the button of the OpenID provider, the form."""
    request.state.theme = await current_theme(request)
    state = request.app.state
    response = render(
        request,
        "login.html",
        next=safe_next(next),
        error=error,
        oidc=state.oidc,
        local_login=state.settings.local_login_enabled,
    )
    response.status_code = status
    return response


def signed_in(request: Request, token: str, target: str | None) -> RedirectResponse:
    """The answer to a sign-in, whichever way it went: the session's cookie (``Secure`` over HTTPS), and on
    to where the user was going."""
    redirect = RedirectResponse(safe_next(target), status_code=303)
    redirect.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=request.app.state.settings.session_days * 86_400,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return redirect


@router.get("/login", dependencies=PUBLIC, response_class=HTMLResponse)
async def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    return await login_page(request, next)


@router.post("/login", dependencies=PUBLIC, response_model=None)
async def login(
    request: Request,
    username: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str | None, Form(max_length=2048)] = None,
) -> Response:
    state = request.app.state
    if not state.settings.local_login_enabled:
        return await login_page(request, next, "Logging in with a password is turned off here.", 403)
    throttle: Throttle = state.throttle
    address = request.client.host if request.client else "unknown"
    wait = throttle.retry_after(address, username)
    if wait is not None:
        response = await login_page(request, next, f"Too many failed logins: try again in {wait} s.", 429)
        response.headers["Retry-After"] = str(wait)
        return response
    token = await credentials.login(state.pool, username, password, state.settings.session_days)
    if token is None:
        throttle.failed(address, username)
        return await login_page(request, next, "Wrong user name or password.", 401)
    throttle.succeeded(address, username)
    return signed_in(request, token, next)


@router.post("/logout", dependencies=PUBLIC)
async def logout(request: Request) -> RedirectResponse:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await credentials.logout(request.app.state.pool, token)
        live.end_streams(request.app, session=credentials.token_hash(token))
    redirect = RedirectResponse("/login", status_code=303)
    redirect.delete_cookie(
        SESSION_COOKIE, httponly=True, samesite="lax", secure=request.url.scheme == "https"
    )
    return redirect
