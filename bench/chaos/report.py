"""The table: per fault, runs, files checked, lost, duplicate commits, the other violations, and the median
and worst recovery time. Pure: from the runs' results to rows and text."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from .invariants import DUPLICATE, LOST, OUTLIVED, STUCK, TEMP, Violation


@dataclass
class RunResult:
    run: int
    fault: str
    delay: float
    files_checked: int
    recovery: float | None  # seconds from the fault until whole again; None if never within the deadline
    violations: list[Violation] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


COLUMNS = (
    "fault",
    "runs",
    "files",
    "lost",
    "dup commits",
    "temp left",
    "outlived",
    "other",
    "median s",
    "worst s",
)


def count(results: Sequence[RunResult], *kinds: str) -> int:
    return sum(1 for r in results for v in r.violations if v.kind in kinds)


def rows(results: Sequence[RunResult]) -> list[dict[str, object]]:
    by_fault: dict[str, list[RunResult]] = {}
    for result in results:
        by_fault.setdefault(result.fault, []).append(result)
    out = [row(fault, group) for fault, group in by_fault.items()]
    if len(by_fault) > 1:
        out.append(row("all", list(results)))
    return out


def row(fault: str, group: Sequence[RunResult]) -> dict[str, object]:
    times = [r.recovery for r in group if r.recovery is not None]
    never = any(r.recovery is None for r in group)
    known = {LOST, STUCK, DUPLICATE, TEMP, OUTLIVED}
    return {
        "fault": fault,
        "runs": len(group),
        "files": sum(r.files_checked for r in group),
        # A job never final by the deadline is as lost to the user as one with no record.
        "lost": count(group, LOST, STUCK),
        "dup commits": count(group, DUPLICATE),
        "temp left": count(group, TEMP),
        "outlived": count(group, OUTLIVED),
        "other": sum(1 for r in group for v in r.violations if v.kind not in known),
        "median s": round(statistics.median(times), 1) if times else None,
        "worst s": "never" if never else (round(max(times), 1) if times else None),
    }


def text(table: Sequence[dict[str, object]], header: str = "") -> str:
    cells = [[str(c) for c in COLUMNS]] + [
        ["" if r[c] is None else str(r[c]) for c in COLUMNS] for r in table
    ]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]

    def line(values: list[str]) -> str:
        return "  ".join(
            v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(values, widths, strict=True))
        )

    body = [line(cells[0]), "  ".join("-" * w for w in widths), *(line(c) for c in cells[1:])]
    return "\n".join(([header] if header else []) + body)


def failures(results: Sequence[RunResult]) -> list[str]:
    """Each violation with the run (and so the seed's moment) that found it."""
    return [
        f"run {r.run} ({r.fault}, {r.delay:.2f} s): {v.kind}: {v.detail}"
        for r in results
        for v in r.violations
    ]
