"""The Tools page: start a scan (one folder or all, force) and follow every scan live, scan the Arr apps for
renames and files below their quality cutoff, look for stale files, export and import the settings;
``tools.js`` does each through the API."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from ..access import READ
from .options import arr_apps
from .rendering import render

router = APIRouter()


@router.get("/tools", dependencies=READ, response_class=HTMLResponse)
async def tools(request: Request) -> HTMLResponse:
    media_paths = [str(p) for p in request.app.state.settings.media_paths]
    apps, problem = await arr_apps(request)
    return render(request, "tools.html", media_paths=media_paths, arr=apps, arr_problem=problem)
