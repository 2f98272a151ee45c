"""Notifications through Apprise: the notifier that runs beside the live feed (:mod:`notifier`), the storm
gathering (:mod:`coalescing`), the URLs kept as secrets (:mod:`targets`) and the sending (:mod:`sending`).
Their API is ``api/notifications.py``; this package only starts the notifier with the app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version

from fastapi import APIRouter, FastAPI

from .notifier import Notifier

__all__ = ["Notifier", "duty"]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Runs inside the live room's lifespan (included before it), so the feed is there already."""
    state = app.state
    settings = state.settings
    notifier = Notifier(
        state.backend,
        state.feed,
        state.pool,
        settings.database_url,
        version("librarrarian-gateway"),
        settings.private_servers,
    )
    await notifier.start()
    state.notifier = notifier
    try:
        yield
    finally:
        await notifier.stop()


# No routes: it carries the notifier's lifespan into the app.
duty = APIRouter(lifespan=lifespan)
