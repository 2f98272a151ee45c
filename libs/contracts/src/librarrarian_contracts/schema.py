"""The JSON Schema of everything that crosses the bus or is stored: every message, every endpoint's request
and reply, every KV value and the sources' stored settings, all taken from :mod:`catalog`. ``schema.json`` is
its committed snapshot, so a change of the contract shows up in review; ``make schema`` refreshes it, the
bus table in ``docs/bus.md`` and the NATS permissions in ``deploy/nats.conf``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec

from . import catalog
from .messages import AnyMessage

SNAPSHOT = Path(__file__).with_name("schema.json")


def stored_types() -> tuple[Any, ...]:
    """Every type that is not a bus message but is exchanged or kept: replies, KV values, stored settings."""
    found: list[Any] = []
    for endpoint in catalog.ENDPOINTS:
        found += [endpoint.request, endpoint.reply]
    for bucket in catalog.BUCKETS:
        found += bucket.values
    found += catalog.STORED
    return tuple(dict.fromkeys(found))  # in order, once each


def current_schema() -> dict[str, Any]:
    (messages,), components = msgspec.json.schema_components([AnyMessage])
    _, view_components = msgspec.json.schema_components(stored_types())
    return {"messages": messages, "components": {**components, **view_components}}


def render() -> str:
    return json.dumps(current_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    from . import bus_table, nats_config

    SNAPSHOT.write_text(render())
    print(f"wrote {SNAPSHOT}")
    bus_table.DOCUMENT.write_text(bus_table.render())
    print(f"wrote {bus_table.DOCUMENT}")
    nats_config.DEPLOY_CONFIG.write_text(nats_config.deploy())
    print(f"wrote {nats_config.DEPLOY_CONFIG}")
