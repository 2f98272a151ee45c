"""The dashboard's colour theme (light, dark or follow the system): the ``ui`` setting, one for every browser.
Each page is rendered with it in ``<html class="theme-…">``, so a page never flashes the other palette; the
Options page changes it through ``PATCH /api/v1/settings/ui`` and switches at once."""

from __future__ import annotations

import logging

import msgspec
from fastapi import Request
from librarrarian_contracts.settings import THEMES, UI_KEY, UiSettings

from .backend import Backend

__all__ = ["THEMES", "current_theme"]

log = logging.getLogger(__name__)


async def current_theme(request: Request) -> str:
    """The theme pages are rendered in; a value that does not decode (written by hand) counts as the default."""
    bus: Backend = request.app.state.backend
    try:
        return (await bus.setting(UI_KEY, UiSettings, UiSettings())).theme
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        log.error("ignoring a bad value for setting %r: %s", UI_KEY, error)
        return UiSettings().theme
