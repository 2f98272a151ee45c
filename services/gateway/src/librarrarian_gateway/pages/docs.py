"""The API's documentation, browsable (``/api/v1/docs``): Swagger UI from the installed ``swagger-ui-py``
package (no CDN), for logged-in users, started by ``static/docs.js`` (no inline script)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from ..access import READ
from .rendering import render

SWAGGER_UI = Path(str(resources.files("swagger_ui") / "static"))

router = APIRouter()


@router.get("/api/v1/docs", dependencies=READ, response_class=HTMLResponse)
async def docs(request: Request) -> HTMLResponse:
    return render(request, "docs.html")
