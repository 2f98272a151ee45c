"""Memory of the cluster's processes, as the kernel counts it: resident set (``VmRSS``) and its peak
(``VmHWM``) from ``/proc/PID/status``, per service, at the start of a phase (warmed up, idle) and at its end.

"Flat" is judged on the resident set, end over start, per process; a service whose memory grows with the
number of jobs it has seen holds something unbounded."""

from __future__ import annotations

from collections.abc import Mapping

from bench.processes import Memory, memory, parse_status

__all__ = ["GROWTH", "Memory", "compare", "parse_status", "read", "sample"]

# End over start above this is reported as growth (allocator noise and caches warmed by the first jobs
# stay below it; a dict keyed by job grows with every thousand jobs).
GROWTH = 1.25


def read(pid: int) -> Memory | None:
    return memory(pid, pss=False)


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
