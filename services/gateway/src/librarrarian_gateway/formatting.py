"""Numbers as people read them: sizes, durations, percentages."""

from __future__ import annotations

from datetime import datetime

NONE = "\u2013"  # an en dash: how tables show "no value"


def size(value: int | None) -> str:
    if value is None:
        return NONE
    amount = float(value)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(amount) < 1000 or unit == "TB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1000
    return f"{amount:.1f} TB"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return NONE
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def percent(fraction: float | None) -> str:
    return NONE if fraction is None else f"{fraction * 100:.0f} %"


def when(moment: datetime | None) -> str:
    return NONE if moment is None else moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


FILTERS = {"size": size, "duration": duration, "percent": percent, "when": when}

# The buttons a node card offers in each state (dashboard.js has the same table for live updates).
NODE_ACTIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "running": (("pause", "Pause"), ("stop", "Stop"), ("stop-now", "Stop now")),
    "queue paused": (("pause", "Pause"), ("stop", "Stop")),
    "paused": (("resume", "Resume"), ("stop-now", "Stop now")),
    "draining": (("start", "Start"), ("stop-now", "Stop now")),
    "stopped": (("start", "Start"),),
}


def node_actions(state: str) -> tuple[tuple[str, str], ...]:
    return NODE_ACTIONS.get(state, ())
