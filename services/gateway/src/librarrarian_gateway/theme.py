"""The colour theme a browser chose (light, dark or follow the system), kept in a cookie so that the server
renders the page's class at once and the page never flashes the other palette."""

from __future__ import annotations

from fastapi import Request

THEME_COOKIE = "theme"
THEMES = ("system", "light", "dark")


def theme_of(request: Request) -> str:
    value = request.cookies.get(THEME_COOKIE, "")
    return value if value in THEMES else "system"
