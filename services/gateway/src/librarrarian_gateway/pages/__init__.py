"""The pages' room: the dashboard's server-rendered pages.

The room's door (``rendering.viewer``) sends anyone without a session to the login page, so a page added
to the room is private unless it is put in ``public`` instead, as only logging in and out are (with a
password, or with the OpenID provider); each page then says which scope it needs (``dependencies=READ``; the
Options page, where users, keys and settings are managed, ``ADMIN``). A page shows
a banner when a service behind it does not answer; a refusal of the request itself (no such entry) is
answered by the app's one error handler.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from . import dashboard, docs, jobs, login, oidc_login, options, reports, tools
from .rendering import viewer

__all__ = ["PAGES", "public", "router"]

PAGES = (dashboard.router, jobs.router, reports.router, options.router, tools.router, docs.router)
router = APIRouter(include_in_schema=False, dependencies=[Depends(viewer)])
for page in PAGES:
    router.include_router(page)

public = APIRouter(include_in_schema=False)
public.include_router(login.router)
public.include_router(oidc_login.router)
