"""Notifications under ``/api/v1/notifications``: which events are sent and the storm window (the
``notifications`` setting), the Apprise URLs they go to (kept in the gateway's schema, shown only as the
service they reach: a URL often holds a token), and sending a test.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from fastapi import APIRouter, HTTPException, Request
from librarrarian_contracts.settings import NOTIFICATIONS_KEY, NotificationSettings, NotifyEvent
from librarrarian_runtime.errors import BadRequest
from librarrarian_runtime.outbound import PrivateServers
from pydantic import BaseModel, ConfigDict, Field

from ..access import ADMIN, READ
from ..notify import sending, targets
from ..params import RecordId
from .dependencies import Bus, SettingsBucket

router = APIRouter(prefix="/notifications", tags=["notifications"])

TEST_TITLE = "Librarrarian: a test notification"
TEST_BODY = "Notifications reach you here."


class TargetOut(BaseModel):
    id: int
    service: str = Field(description="what Apprise calls the service the URL reaches; the URL is never shown")
    scheme: str
    added_at: datetime


class NotificationsOut(BaseModel):
    events: list[NotifyEvent]
    window_seconds: float
    targets: list[TargetOut]


class NotificationsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    events: list[NotifyEvent] | None = Field(None, description="the events to send; the others are not sent")
    window_seconds: float | None = Field(
        None, description="notices of one event within this many seconds of the first become one message"
    )


class UrlIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(description="an Apprise URL: json://host/path, discord://…, gotify://…, mailto://…")


class TestOut(BaseModel):
    targets: int
    sent: bool


def _allowed(request: Request) -> PrivateServers:
    allowed: PrivateServers = request.app.state.settings.private_servers
    return allowed


async def _settings(bus: Bus) -> NotificationSettings:
    try:
        return await bus.setting(NOTIFICATIONS_KEY, NotificationSettings, NotificationSettings())
    except (msgspec.DecodeError, msgspec.ValidationError):
        return NotificationSettings()


async def _view(request: Request, settings: NotificationSettings) -> dict[str, Any]:
    listed = await targets.listed(request.app.state.pool)
    return {**msgspec.to_builtins(settings), "targets": [t.__dict__ for t in listed]}


@router.get(
    "",
    dependencies=READ,
    response_model=NotificationsOut,
    summary="What is notified, and where (never the URLs)",
)
async def get_notifications(request: Request, bus: Bus) -> dict[str, Any]:
    return await _view(request, await _settings(bus))


@router.patch(
    "",
    dependencies=ADMIN,
    response_model=NotificationsOut,
    summary="Choose the events to notify and the storm window",
    description="Send only the fields to change. Invalid values are refused with 422 and nothing changes.",
)
async def patch_notifications(
    body: NotificationsIn, request: Request, bus: Bus, kv: SettingsBucket
) -> dict[str, Any]:
    current = msgspec.to_builtins(await _settings(bus))
    try:
        value = msgspec.convert({**current, **body.model_dump(exclude_unset=True)}, NotificationSettings)
    except msgspec.ValidationError as error:
        raise HTTPException(422, f"invalid settings: {error}") from None
    await kv.put(NOTIFICATIONS_KEY, msgspec.json.encode(value))
    return await _view(request, value)


@router.post(
    "/urls",
    dependencies=ADMIN,
    response_model=TargetOut,
    status_code=201,
    summary="Add a notification URL (Apprise's syntax)",
    description="The URL is checked by Apprise (422 if it cannot use it) and its server by the outbound "
    "rules (400: a cloud metadata or link-local address, or a private one `PRIVATE_SERVERS` does not allow), "
    "kept by the gateway and never shown again.",
)
async def add_url(body: UrlIn, request: Request) -> dict[str, Any]:
    try:
        return (await targets.add(request.app.state.pool, body.url, _allowed(request))).__dict__
    except targets.NotAnAppriseUrl as error:
        raise HTTPException(422, str(error)) from None
    except BadRequest as error:  # RefusedAddress among them; the reason names the host, not the URL
        raise HTTPException(400, str(error)) from None


@router.delete("/urls/{target_id}", dependencies=ADMIN, status_code=204, summary="Remove a notification URL")
async def remove_url(target_id: RecordId, request: Request) -> None:
    if not await targets.remove(request.app.state.pool, target_id):
        raise HTTPException(404, f"there is no notification URL {target_id}")


@router.post(
    "/test", dependencies=ADMIN, response_model=TestOut, summary="Send a test notification to every URL now"
)
async def send_test(request: Request) -> dict[str, Any]:
    urls = await targets.urls(request.app.state.pool)
    if not urls:
        raise HTTPException(409, "no notification URL is set")
    delivery = await sending.send(urls, TEST_TITLE, TEST_BODY, _allowed(request))
    if not delivery.sent:
        raise HTTPException(502, f"not every one of the {delivery.targets} notification URLs took the test")
    return {"targets": delivery.targets, "sent": delivery.sent}
