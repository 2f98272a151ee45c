"""Signing in with the OpenID provider: the button's route sends the browser there, the callback lets the user
in. Public pages, like the login form; without ``OIDC_ENABLED`` they do not exist (404)."""

from __future__ import annotations

import logging
import re
import secrets

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from .. import credentials, oidc_store
from ..access import PUBLIC
from ..oidc import OpenIdProvider, SignInRefused
from ..theme import current_theme
from .login import safe_next, signed_in
from .rendering import render

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)

# Binds a sign-in to the browser that started it: a callback link made elsewhere (an attacker's own
# sign-in, sent to a victim) finds no cookie of its own and is refused. Only sent to the two routes here.
BROWSER_COOKIE = "librarrarian_oidc"
COOKIE_PATH = "/login/oidc"
WELL_FORMED = re.compile(r"[A-Za-z0-9_-]{32,64}")


def provider(request: Request) -> OpenIdProvider:
    found: OpenIdProvider | None = request.app.state.oidc
    if found is None:
        raise HTTPException(404, "sign-in with an OpenID provider is not set up here")
    return found


async def refused(request: Request, provider_name: str, error: SignInRefused) -> HTMLResponse:
    request.state.theme = await current_theme(request)
    response = render(request, "sign_in_refused.html", provider=provider_name, message=str(error))
    response.status_code = error.status
    return response


@router.get("/login/oidc", dependencies=PUBLIC, response_model=None)
async def sign_in(request: Request, next: str | None = None) -> Response:
    """Off to the provider, with a fresh state, nonce and PKCE challenge kept here for the callback."""
    found = provider(request)
    redirect_uri = found.settings.redirect_url or str(request.url_for("oidc_callback"))
    try:
        authorization = await found.authorize(redirect_uri)
    except SignInRefused as error:
        return await refused(request, found.name, error)
    browser = request.cookies.get(BROWSER_COOKIE, "")
    if not WELL_FORMED.fullmatch(browser):
        browser = secrets.token_urlsafe(32)
    await oidc_store.remember(request.app.state.pool, authorization, browser, safe_next(next))
    response = RedirectResponse(authorization.url, status_code=303)
    response.set_cookie(
        BROWSER_COOKIE,
        browser,
        max_age=int(oidc_store.PENDING_FOR.total_seconds()),
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",  # sent on the provider's redirect back (a top-level GET), not on other sites' requests
        secure=request.url.scheme == "https",
    )
    return response


@router.get("/login/oidc/callback", dependencies=PUBLIC, name="oidc_callback", response_model=None)
async def callback(
    request: Request,
    state: str | None = None,
    code: str | None = None,
    iss: str | None = None,
    error: str | None = None,
    error_description: str | None = None,
) -> Response:
    """The provider's answer: the sign-in it names (once, from this browser), then the code traded and the
    ID token checked, the required group, and a session for the user."""
    found = provider(request)
    pool = request.app.state.pool
    try:
        pending = await oidc_store.take(pool, state, request.cookies.get(BROWSER_COOKIE))
        if pending is None:
            raise SignInRefused(
                400,
                "This sign-in is not valid any more: it was used already, took more than ten minutes, or was "
                "started in another browser. Start again from the login page.",
            )
        if error or not code:
            reason = error_description or error or "no code"
            raise SignInRefused(401, f"{found.name} did not sign you in ({reason}).")
        identity = await found.finish(code, iss, pending.nonce, pending.code_verifier, pending.redirect_uri)
        found.check_membership(identity)
        user = await oidc_store.user_for(pool, identity, found.settings.default_scope)
    except SignInRefused as refusal:
        log.info("sign-in with %s refused: %s", found.name, refusal)
        return await refused(request, found.name, refusal)
    token = await credentials.start_session(pool, user, request.app.state.settings.session_days)
    log.info("user %s signed in with %s", user, found.name)
    response = signed_in(request, token, pending.next_url)
    response.delete_cookie(BROWSER_COOKIE, path=COOKIE_PATH)
    return response
