"""Memory of the cluster's processes, as the kernel counts it: resident set (``VmRSS``) and its peak
(``VmHWM``) from ``/proc/PID/status``, per service, at the start of a phase (warmed up, idle) and at its end.

"Flat" is judged on the resident set, end over start, per process; a service whose memory grows with the
number of jobs it has seen holds something unbounded."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

# End over start above this is reported as growth (allocator noise and caches warmed by the first jobs
# stay below it; a dict keyed by job grows with every thousand jobs).
GROWTH = 1.25


@dataclass(frozen=True)
class Memory:
    rss_kib: int
    hwm_kib: int


def parse_status(text: str) -> Memory | None:
    """``VmRSS`` and ``VmHWM`` (kB) of a ``/proc/PID/status``; None for a process without them (a zombie)."""
    fields = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in {"VmRSS", "VmHWM"}:
            fields[key] = int(value.split()[0])
    if len(fields) < 2:
        return None
    return Memory(fields["VmRSS"], fields["VmHWM"])


def read(pid: int) -> Memory | None:
    try:
        return parse_status(Path(f"/proc/{pid}/status").read_text())
    except OSError:
        return None


def sample(pids: Mapping[str, int | None]) -> dict[str, Memory]:
    """Each named process's memory now (those gone or unknown are left out)."""
    out = {}
    for name, pid in pids.items():
        if pid is not None and (memory := read(pid)) is not None:
            out[name] = memory
    return out


def compare(start: Mapping[str, Memory], end: Mapping[str, Memory]) -> list[dict[str, object]]:
    """One row per process seen at both moments: RSS and peak at start and end (MiB), the ratio end/start
    and whether it grew beyond :data:`GROWTH`."""
    rows = []
    for name in sorted(set(start) & set(end)):
        before, after = start[name], end[name]
        ratio = after.rss_kib / before.rss_kib if before.rss_kib else float("inf")
        rows.append(
            {
                "process": name,
                "rss start MiB": round(before.rss_kib / 1024, 1),
                "rss end MiB": round(after.rss_kib / 1024, 1),
                "peak end MiB": round(after.hwm_kib / 1024, 1),
                "end/start": round(ratio, 3),
                "grew": ratio > GROWTH,
            }
        )
    return rows
