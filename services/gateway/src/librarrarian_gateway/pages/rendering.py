"""How a page is made: the Jinja templates and their filters, who is looking (set at the room's door), and
the banner a page shows when a service behind it does not answer."""

from __future__ import annotations

from collections.abc import Awaitable
from pathlib import Path
from typing import TypeVar

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from librarrarian_runtime.errors import BadRequest, Conflict, NotFound, ServiceError

from .. import formatting
from ..access import require_page
from ..backend import Backend
from ..credentials import Principal
from ..theme import current_theme

T = TypeVar("T")

templates = Jinja2Templates(directory=Path(__file__).parent.with_name("templates"))
templates.env.filters.update(formatting.FILTERS)

# Refusals about what was asked for (no such entry) are the request's answer, not a missing service.
ANSWERS = (BadRequest, NotFound, Conflict)


async def viewer(request: Request) -> Principal:
    """The room's door: who asks for a page (or off to the login page), and the theme it is rendered in
    (``render`` is synchronous)."""
    principal = await require_page(request)
    request.state.user = principal
    request.state.theme = await current_theme(request)
    return principal


def backend(request: Request) -> Backend:
    return request.app.state.backend  # type: ignore[no-any-return]


def render(request: Request, template: str, **context: object) -> HTMLResponse:
    user = getattr(request.state, "user", None)  # set at the door; the login page has none
    theme = getattr(request.state, "theme", "system")
    return templates.TemplateResponse(
        request, template, {"user": user, "page": template, "theme": theme, **context}
    )


async def unless_unanswered(query: Awaitable[T]) -> tuple[T | None, str | None]:
    """What ``query`` answered, or ``None`` and the problem to show in the page's banner when the service
    behind it did not answer or failed; a refusal of the request itself is raised for the error handler."""
    try:
        return await query, None
    except ANSWERS:
        raise
    except ServiceError as error:
        return None, str(error)
