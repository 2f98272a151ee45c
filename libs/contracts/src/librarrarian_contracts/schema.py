"""The JSON Schema of every message and view; ``schema.json`` is its committed snapshot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec

from . import scans, settings, views
from .messages import AnyMessage

SNAPSHOT = Path(__file__).with_name("schema.json")

VIEW_TYPES: tuple[Any, ...] = (
    views.NodeStatus,
    views.JobProgress,
    views.CommitRequest,
    views.CommitDecision,
    views.JobsQuery,
    views.JobAction,
    views.ActionResult,
    views.JobsPage,
    views.HistoryQuery,
    views.HistoryPage,
    views.Stats,
    views.ClearPending,
    views.ClearedJobs,
    views.ReleaseJobs,
    views.ReleasedJobs,
    views.HistoryLookup,
    views.HistoryEntry,
    views.ChartsQuery,
    views.Charts,
    views.ErrorReply,
    scans.ScanStatus,
    settings.ScannerFolders,
    settings.TranscodeSettings,
    settings.PathSettings,
    settings.UiSettings,
)


def current_schema() -> dict[str, Any]:
    (messages,), components = msgspec.json.schema_components([AnyMessage])
    _, view_components = msgspec.json.schema_components(VIEW_TYPES)
    return {"messages": messages, "components": {**components, **view_components}}


def render() -> str:
    return json.dumps(current_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    SNAPSHOT.write_text(render())
    print(f"wrote {SNAPSHOT}")
