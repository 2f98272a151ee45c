"""The webhooks' room: what media servers send on their own, ``POST /hooks/<source>/<secret>``.

Its door is the secret in the URL (Plex sends no header of ours), made and rotated on the Options page and
kept hashed (``webhook_secrets``); a wrong one is answered 404 (no such URL) before the body is read. A body is read up to a
bound, so a caller cannot make the gateway hold more than that.
"""

from __future__ import annotations

from .plex import ROUTE_NAME as PLEX_ROUTE
from .plex import router

__all__ = ["PLEX_ROUTE", "router"]
