"""What the API's routes are handed: the gateway's view of the bus, the settings bucket they write, and the
media paths every path they are given must lie inside."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request
from librarrarian_contracts import topology
from nats.js.kv import KeyValue

from ..backend import Backend
from ..params import BeforeId, RecordId

__all__ = [
    "BeforeId",
    "Bus",
    "MediaPaths",
    "RecordId",
    "SettingsBucket",
    "backend",
    "media_paths",
    "settings_kv",
]


def backend(request: Request) -> Backend:
    return request.app.state.backend  # type: ignore[no-any-return]


async def settings_kv(request: Request) -> KeyValue:
    return await backend(request).js.key_value(topology.SETTINGS.name)


def media_paths(request: Request) -> tuple[Path, ...]:
    return request.app.state.settings.media_paths  # type: ignore[no-any-return]


Bus = Annotated[Backend, Depends(backend)]
SettingsBucket = Annotated[KeyValue, Depends(settings_kv)]
MediaPaths = Annotated[tuple[Path, ...], Depends(media_paths)]
