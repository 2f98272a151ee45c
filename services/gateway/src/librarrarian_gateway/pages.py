"""The dashboard's pages (server-rendered) and the login form."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from librarrarian_contracts import JobKind, JobStatus
from librarrarian_contracts.views import JOB_KINDS, JOB_STATUSES, HistoryQuery, JobsQuery
from librarrarian_runtime.errors import ServiceError

from . import credentials, formatting
from .access import SESSION_COOKIE, require_page
from .backend import Backend
from .credentials import Principal
from .theme import current_theme

templates = Jinja2Templates(directory=Path(__file__).with_name("templates"))
templates.env.filters.update(formatting.FILTERS)
templates.env.globals["node_actions"] = formatting.node_actions

router = APIRouter(include_in_schema=False)


async def viewer(request: Request) -> Principal:
    """Who asks for a page; also reads the theme the page is rendered in (``render`` is synchronous)."""
    principal = await require_page(request)
    request.state.theme = await current_theme(request)
    return principal


User = Annotated[Principal, Depends(viewer)]
STATUSES = JOB_STATUSES
KINDS = JOB_KINDS


def backend(request: Request) -> Backend:
    return request.app.state.backend  # type: ignore[no-any-return]


def render(request: Request, template: str, user: Principal | None, **context: object) -> HTMLResponse:
    theme = getattr(request.state, "theme", "system")  # set by ``viewer``, or by the login page itself
    return templates.TemplateResponse(
        request, template, {"user": user, "page": template, "theme": theme, **context}
    )


@router.get("/", response_class=HTMLResponse)
async def dashboard(request: Request, user: User) -> HTMLResponse:
    bus = backend(request)
    nodes = await bus.nodes()
    try:
        stats, counts = await bus.stats()
        recent = (await bus.history(HistoryQuery(limit=8))).items
        problem = None
    except ServiceError as error:
        stats, counts, recent, problem = None, {}, (), str(error)
    return render(
        request,
        "dashboard.html",
        user,
        nodes=nodes,
        stats=stats,
        counts=counts,
        recent=recent,
        problem=problem,
        queue_paused=await bus.queue_paused(),
        gateway_version=version("librarrarian-gateway"),
    )


@router.get("/queue", response_class=HTMLResponse)
async def queue(
    request: Request,
    user: User,
    status: str | None = None,
    kind: str | None = None,
    before_id: int | None = None,
) -> HTMLResponse:
    statuses = (JobStatus(status),) if status in STATUSES else ()
    kind = JobKind(kind) if kind in KINDS else None
    try:
        page = await backend(request).jobs(
            JobsQuery(statuses=statuses, kind=kind, before_id=before_id, limit=100)
        )
        problem = None
    except ServiceError as error:
        page, problem = None, str(error)
    return render(
        request,
        "queue.html",
        user,
        page=page,
        status=status if statuses else None,
        statuses=STATUSES,
        kind=kind,
        kinds=KINDS,
        problem=problem,
    )


@router.get("/history", response_class=HTMLResponse)
async def history(
    request: Request, user: User, search: str | None = None, before_id: int | None = None
) -> HTMLResponse:
    search = (search or "").strip()[:200] or None
    try:
        page = await backend(request).history(HistoryQuery(search=search, before_id=before_id, limit=100))
        problem = None
    except ServiceError as error:
        page, problem = None, str(error)
    return render(request, "history.html", user, page=page, search=search or "", problem=problem)


def safe_next(target: str | None) -> str:
    """Only local paths: a login link must not send the user to another site."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    request.state.theme = await current_theme(request)
    return render(request, "login.html", None, next=safe_next(next), error=None)


@router.post("/login", response_model=None)
async def login(
    request: Request,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str | None, Form()] = None,
) -> Response:
    state = request.app.state
    token = await credentials.login(state.pool, username, password, state.settings.session_days)
    if token is None:
        request.state.theme = await current_theme(request)
        response = render(
            request, "login.html", None, next=safe_next(next), error="Wrong user name or password."
        )
        response.status_code = 401
        return response
    redirect = RedirectResponse(safe_next(next), status_code=303)
    redirect.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=state.settings.session_days * 86_400,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return redirect


@router.post("/logout")
async def logout(request: Request) -> RedirectResponse:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await credentials.logout(request.app.state.pool, token)
    redirect = RedirectResponse("/login", status_code=303)
    redirect.delete_cookie(SESSION_COOKIE)
    return redirect
