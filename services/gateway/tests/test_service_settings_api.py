"""The settings the services follow (``/api/v1/settings/{scanner,cleanup,scheduler}``, ``/nodes/{node}/slots``)
through a real gateway: stored in the bucket the services watch, refused whole when wrong (422, nothing
changed), behind the API's auth and in its OpenAPI document."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from librarrarian_contracts.settings import (
    CLEANUP_KEY,
    ORDER_KEY,
    RETRIES_KEY,
    SCANNER_TIMING_KEY,
    STREAMING_KEY,
    CleanupSettings,
    NodeSlots,
    QueueOrder,
    RetrySettings,
    ScannerTiming,
    StreamingSettings,
    slots_key,
)
from librarrarian_contracts.topology import HwClass

from .sites import Site
from .test_system_settings_api import stored

CASES: list[tuple[str, str, type[Any], dict[str, Any], list[dict[str, Any]]]] = [
    (
        "/api/v1/settings/scanner",
        SCANNER_TIMING_KEY,
        ScannerTiming,
        {"scan_interval_seconds": 600},
        [{"scan_interval_seconds": -1}, {"scan_interval_seconds": "often"}, {"interval": 5}],
    ),
    (
        "/api/v1/settings/cleanup",
        CLEANUP_KEY,
        CleanupSettings,
        {"stale_after_hours": 48, "interval_hours": 0},
        [{"stale_after_hours": 0.5}, {"interval_hours": 10_000}, {"stale_after_hours": 48, "age": 1}],
    ),
    (
        "/api/v1/settings/scheduler",
        RETRIES_KEY,
        RetrySettings,
        {"max_attempts": 5},
        [{"max_attempts": 0}, {"max_attempts": 101}, {"max_attempts": 2.5}, {"retries": 2}],
    ),
    (
        "/api/v1/settings/queue-order",
        ORDER_KEY,
        QueueOrder,
        {"order": "benefit", "window": 2},
        [{"order": "size"}, {"window": 0}, {"window": 65}, {"order": "age", "priority": 1}],
    ),
    (
        "/api/v1/settings/streaming",
        STREAMING_KEY,
        StreamingSettings,
        {"pause_while_streaming": "all"},
        [{"pause_while_streaming": "always"}, {"pause_while_streaming": True}, {"pause": "off"}],
    ),
]


@pytest.mark.parametrize(("route", "key", "kind", "good", "bad"), CASES)
async def test_a_service_setting_is_stored_and_a_bad_one_changes_nothing(
    gateway: Site, route: str, key: str, kind: type[Any], good: dict[str, Any], bad: list[dict[str, Any]]
) -> None:
    async with gateway.client() as api, gateway.client(key=None) as anonymous:
        assert (await anonymous.get(route)).status_code == 401
        assert (await anonymous.patch(route, json=good)).status_code == 401
        assert (await api.get(route)).json() == _defaults(kind)  # nothing stored: the defaults
        changed = await api.patch(route, json=good)
        assert changed.status_code == 200, changed.text
        expected = {**_defaults(kind), **good}
        assert changed.json() == expected
        assert await stored(gateway.js, key, kind) == kind(**expected)
        for body in bad:
            refused = await api.patch(route, json=body)
            assert refused.status_code == 422, body
            assert await stored(gateway.js, key, kind) == kind(**expected), body
        assert (await api.get(route)).json() == expected
        spec = (await api.get("/api/v1/openapi.json")).json()
        assert {"get", "patch"} <= set(spec["paths"][route])


def _defaults(kind: type[Any]) -> dict[str, Any]:
    return msgspec.to_builtins(kind())  # type: ignore[no-any-return]


async def test_a_nodes_slots_are_stored_per_class_and_bad_ones_change_nothing(gateway: Site) -> None:
    route = "/api/v1/nodes/box 2/slots"
    async with gateway.client() as api:
        assert (await api.get(route)).json() == {"slots": {hw.value: 1 for hw in HwClass}}
        put = await api.put(route, json={"slots": {"cpu": 3, "nvenc": 2}})
        assert put.status_code == 200, put.text
        assert put.json() == {"slots": {"cpu": 3, "nvenc": 2}}
        wanted = NodeSlots(slots={HwClass.CPU: 3, HwClass.NVENC: 2})
        assert await stored(gateway.js, slots_key("box 2"), NodeSlots) == wanted
        for body in (
            {"slots": {"cpu": 0}},
            {"slots": {"cpu": 33}},
            {"slots": {"gpu": 1}},
            {"slots": {"cpu": "two"}},
            {"slots": {"cpu": 2}, "extra": True},
        ):
            assert (await api.put(route, json=body)).status_code == 422, body
        assert await stored(gateway.js, slots_key("box 2"), NodeSlots) == wanted
