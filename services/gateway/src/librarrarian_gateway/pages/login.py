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


@router.get("/login", dependencies=PUBLIC, response_class=HTMLResponse)
async def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    request.state.theme = await current_theme(request)
    return render(request, "login.html", next=safe_next(next), error=None)


async def _form_again(request: Request, next: str | None, error: str, status: int) -> HTMLResponse:
    request.state.theme = await current_theme(request)
    response = render(request, "login.html", next=safe_next(next), error=error)
    response.status_code = status
    return response


@router.post("/login", dependencies=PUBLIC, response_model=None)
async def login(
    request: Request,
    username: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str | None, Form(max_length=2048)] = None,
) -> Response:
    state = request.app.state
    throttle: Throttle = state.throttle
    address = request.client.host if request.client else "unknown"
    wait = throttle.retry_after(address, username)
    if wait is not None:
        error = f"Too many failed logins: try again in {wait} s."
        response = await _form_again(request, next, error, 429)
        response.headers["Retry-After"] = str(wait)
        return response
    token = await credentials.login(state.pool, username, password, state.settings.session_days)
    if token is None:
        throttle.failed(address, username)
        return await _form_again(request, next, "Wrong user name or password.", 401)
    throttle.succeeded(address, username)
    redirect = RedirectResponse(safe_next(next), status_code=303)
    redirect.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=state.settings.session_days * 86_400,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return redirect


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
