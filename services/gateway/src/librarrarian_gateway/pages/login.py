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


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    request.state.theme = await current_theme(request)
    return render(request, "login.html", next=safe_next(next), error=None)


@router.post("/login", response_model=None)
async def login(
    request: Request,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str | None, Form()] = None,
) -> Response:
    state = request.app.state
    token = await credentials.login(state.pool, username, password, state.settings.session_days)
    if token is None:
        request.state.theme = await current_theme(request)
        response = render(request, "login.html", next=safe_next(next), error="Wrong user name or password.")
        response.status_code = 401
        return response
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


@router.post("/logout")
async def logout(request: Request) -> RedirectResponse:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await credentials.logout(request.app.state.pool, token)
    redirect = RedirectResponse("/login", status_code=303)
    redirect.delete_cookie(SESSION_COOKIE)
    return redirect
