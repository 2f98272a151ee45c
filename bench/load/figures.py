"""The load's figures, computed from what was seen: percentiles, the gap between one job's end and the next
job's start on the same node (what the scheduler and the encoder's loop cost per job), and the table."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime


def percentile(values: Sequence[float], share: float) -> float | None:
    """The nearest-rank percentile (``share`` in 0..1); None without values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def gaps_ms(reports: Iterable[tuple[str, str, datetime]]) -> list[float]:
    """``(node, "start" | "end", when)`` reports → per node, milliseconds from each end to the next start,
    each stamped by the node's own clock. A start with no end before it on that node (its first job) has
    no gap."""
    by_node: dict[str, list[tuple[datetime, str]]] = {}
    for node, kind, when in reports:
        by_node.setdefault(node, []).append((when, kind))
    out = []
    for events in by_node.values():
        last_end: datetime | None = None
        for when, kind in sorted(events, key=lambda e: (e[0], e[1] == "start")):
            if kind == "end":
                last_end = when
            elif last_end is not None:
                out.append((when - last_end).total_seconds() * 1000)
                last_end = None
    return out


def rates(progress: Sequence[tuple[float, int]], total: int) -> tuple[float | None, float | None]:
    """Jobs per second over the first and the last fifth of ``total`` (a rate that falls as the table grows
    is work that grows with it); None where the samples do not cover that fifth."""

    def rate(low: int, high: int) -> float | None:
        start = next(((t, n) for t, n in progress if n >= low), None)
        end = next(((t, n) for t, n in progress if n >= high), None)
        if start is None or end is None or end[0] <= start[0]:
            return None
        return round((end[1] - start[1]) / (end[0] - start[0]), 1)

    fifth = total // 5
    return rate(0, fifth), rate(total - fifth, total)


def summary(values: Sequence[float], digits: int = 1) -> dict[str, float | None]:
    def r(v: float | None) -> float | None:
        return None if v is None else round(v, digits)

    return {
        "n": len(values),
        "p50": r(percentile(values, 0.5)),
        "p95": r(percentile(values, 0.95)),
        "max": r(max(values) if values else None),
    }


def ratio(value: float | None, baseline: float | None) -> float | None:
    if value is None or not baseline:
        return None
    return round(value / baseline, 3)


def table(rows: Sequence[Mapping[str, object]]) -> str:
    """Rows of the same keys as an aligned text table."""
    if not rows:
        return "(none)"
    keys = list(rows[0])
    cells = [[str(k) for k in keys]] + [["-" if r[k] is None else str(r[k]) for k in keys] for r in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(keys))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(line, widths, strict=True)))
             for line in cells]  # fmt: skip
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
