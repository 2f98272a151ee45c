"""Cross-site writes: a state-changing request (POST, PUT, PATCH, DELETE) that a browser could have been
tricked into sending must come from a page of this site.

- Riding on a session cookie (and no ``X-Api-Key``): its ``Origin`` must name this host, or, without one,
  ``Sec-Fetch-Site`` must say ``same-origin`` or ``none`` (typed by the user); otherwise 403. Browsers send
  one or the other with every such request; a request with neither is refused.
- Without a cookie (logging in; every request while ``AUTH_ENABLED`` is false): refused when either header
  shows another site; a program that sends neither passes (it could not have been a tricked browser).
- With an ``X-Api-Key``: exempt. A page on another site cannot make a browser add that header (it would
  need our consent to a CORS preflight, which the gateway never gives), and no browser holds the key.

"This host" is the request's ``Host`` (checked against ``ALLOWED_HOSTS`` before this), compared by name and
port; the scheme is left out, so a TLS proxy that does not say so still works.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
SAME_SITE_FETCHES = frozenset({"same-origin", "none"})
DEFAULT_PORTS = {"http": 80, "https": 443}


def _place(netloc: str, scheme: str | None) -> tuple[str, int | None] | None:
    """(host, port) of a netloc, a port that is its scheme's default (or 80/443 when the scheme is not
    known, as for a Host header) taken as none."""
    try:
        parts = urlsplit(f"//{netloc}")
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not host:
        return None
    if port is not None and (
        port == DEFAULT_PORTS.get(scheme or "") or (scheme is None and port in (80, 443))
    ):
        port = None
    return host.lower(), port


def same_host(origin: str, host: str) -> bool:
    if origin == "null":
        return False
    try:
        parts = urlsplit(origin)
    except ValueError:
        return False
    mine = _place(host, None)
    theirs = _place(parts.netloc, parts.scheme)
    return mine is not None and mine == theirs


def refusal(headers: Headers, with_session: bool) -> str | None:
    """Why this state-changing request is refused, or None."""
    origin, site = headers.get("origin"), headers.get("sec-fetch-site")
    if origin is not None:
        if same_host(origin, headers.get("host", "")):
            return None
        return f"a request from another site ({origin}) may not change anything here"
    if site is not None:
        if site in SAME_SITE_FETCHES:
            return None
        return "a request from another site may not change anything here"
    if with_session:
        return "a request made with a login must say where it comes from (Origin); use an API key for scripts"
    return None


def has_cookie(headers: Headers, name: str) -> bool:
    """Whether the request carries the cookie, read as the app reads cookies (``request.cookies``)."""
    return any(name in cookie_parser(value) for value in headers.getlist("cookie"))


class SameOrigin:
    def __init__(self, app: ASGIApp, session_cookie: str) -> None:
        self.app = app
        self.session_cookie = session_cookie

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if "x-api-key" not in headers:
            problem = refusal(headers, has_cookie(headers, self.session_cookie))
            if problem:
                await JSONResponse({"detail": problem}, 403)(scope, receive, send)
                return
        await self.app(scope, receive, send)
