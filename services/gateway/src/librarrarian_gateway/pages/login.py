"""Logging in and out: the only pages outside the room's door (everyone may see the login form)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from .. import credentials
from ..access import SESSION_COOKIE
from ..theme import current_theme
from .rendering import render

router = APIRouter(include_in_schema=False)


def safe_next(target: str | None) -> str:
    """Only local paths: a login link must not send the user to another site."""
    if not target or not target.startswith("/") or target.startswith("//"):
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
    """The answer to a sign-in, whichever way it went: the session's cookie, and on to where the user was
    going."""
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


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    return await login_page(request, next)


@router.post("/login", response_model=None)
async def login(
    request: Request,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str | None, Form()] = None,
) -> Response:
    state = request.app.state
    if not state.settings.local_login_enabled:
        return await login_page(request, next, "Logging in with a password is turned off here.", 403)
    token = await credentials.login(state.pool, username, password, state.settings.session_days)
    if token is None:
        return await login_page(request, next, "Wrong user name or password.", 401)
    return signed_in(request, token, next)


@router.post("/logout")
async def logout(request: Request) -> RedirectResponse:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await credentials.logout(request.app.state.pool, token)
    redirect = RedirectResponse("/login", status_code=303)
    redirect.delete_cookie(SESSION_COOKIE)
    return redirect
