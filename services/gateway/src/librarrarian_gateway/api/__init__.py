"""The REST API's room: every route under ``/api/v1`` that the dashboard and scripts call.

The room's door checks who asks (a session or an ``X-Api-Key``, ``access.require_api``) for every route
included here, so a new route is private unless it is put outside the room (as the Arr apps' webhook is, with
a key of its own); each route then says which scope it needs (``dependencies=READ``, ``CONTROL`` or
``ADMIN``), and a route that says nothing stops the gateway from starting (``access.check_decisions``). A
service's refusal raised
from a route (``librarrarian_runtime.errors``) is answered with its status by the app's one error handler.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from ..access import require_api
from . import (
    accounts,
    arr,
    backups,
    cleanup,
    cluster,
    cluster_settings,
    history,
    jobs,
    media_folders,
    notifications,
    recycle,
    review,
    scans,
    schedules,
    service_settings,
    settings_transfer,
    sources,
)

__all__ = ["PARTS", "WEBHOOKS", "router"]

PARTS = (
    cluster.router,
    schedules.router,
    jobs.router,
    review.router,
    history.router,
    recycle.router,
    scans.router,
    sources.router,
    arr.router,
    cleanup.router,
    cluster_settings.router,
    service_settings.router,
    media_folders.router,
    settings_transfer.router,
    accounts.router,
    backups.router,
    notifications.router,
)
router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_api)])
for part in PARTS:
    router.include_router(part)
# Outside the room: the Arr apps' webhook, authenticated by its own key (the arr service checks it).
WEBHOOKS = arr.webhooks
