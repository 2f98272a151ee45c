"""What every request passes before it reaches a room, outermost first (``middleware``):

1. ``headers``: every answer says how a browser must treat it (CSP, no framing, no sniffing, no referrer
   to other sites).
2. Starlette's ``TrustedHostMiddleware``: only the host names in ``ALLOWED_HOSTS`` (400 otherwise).
3. ``body``: a request body larger than its route's limit is refused (413) before it is read.
4. ``origin``: a state-changing request riding on a session cookie must come from a page of this site
   (403 otherwise); API-key requests are exempt (a browser never adds that header across sites by itself).
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware

from .body import BodyLimit
from .headers import SecurityHeaders
from .origin import SameOrigin

__all__ = ["BodyLimit", "SameOrigin", "SecurityHeaders", "middleware"]


def middleware(
    hosts: tuple[str, ...], body_limit: int, larger: Mapping[str, int], session_cookie: str
) -> list[Middleware]:
    return [
        Middleware(SecurityHeaders),
        Middleware(TrustedHostMiddleware, allowed_hosts=list(hosts), www_redirect=False),
        Middleware(BodyLimit, limit=body_limit, larger=larger),
        Middleware(SameOrigin, session_cookie=session_cookie),
    ]
