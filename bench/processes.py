"""The processes of one ``librarrarian up`` by role, read from /proc: what each service, nats-server and
PostgreSQL costs in CPU time and in memory."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


def _stat(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def role(pid: int) -> str:
    """A process of the cluster by what it runs: a service, nats-server, postgres, or the supervisor."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "gone"
    program = Path(cmdline.split(" ", 1)[0]).name
    if program.startswith("postgres"):  # the server and its workers ("postgres: librarrarian_gateway …")
        return "postgres"
    if found := re.search(r"librarrarian_(\w+)", cmdline):
        return found.group(1)
    if "nats-server" in cmdline:
        return "nats-server"
    if "ffmpeg" in cmdline:
        return "ffmpeg"
    return "up" if " up " in cmdline else "other"


def tree(root: int) -> list[int]:
    """``root`` and every process under it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                children.setdefault(int(_stat(int(entry.name))[1]), []).append(int(entry.name))
            except (OSError, IndexError):
                continue
    found, stack = [], [root]
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(children.get(pid, []))
    return found


def cpu_by_role(*roots: int) -> dict[str, float]:
    """CPU seconds used so far by every process under any of ``roots``, summed per role; the ffmpeg
    processes an encoder has reaped count as ``ffmpeg`` (its children's time)."""
    totals: dict[str, float] = {}
    for pid in {pid for root in roots for pid in tree(root)}:
        try:
            fields = _stat(pid)
        except OSError:
            continue
        name = role(pid)
        own = (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime
        totals[name] = totals.get(name, 0.0) + own
        if name == "encoder":
            totals["ffmpeg"] = totals.get("ffmpeg", 0.0) + (int(fields[13]) + int(fields[14])) / TICKS
    return totals


@dataclass(frozen=True)
class Memory:
    """One process's resident memory: ``rss`` (VmRSS, what ``ps`` and ``top`` show), ``hwm`` (VmHWM, its
    peak so far) and ``pss`` (its pages shared with other processes counted by share, so that a sum over
    processes is not counted twice; 0 when not read)."""

    rss_kib: int
    hwm_kib: int
    pss_kib: int = 0


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


def memory(pid: int, *, pss: bool = True) -> Memory | None:
    """``pid``'s memory now; its PSS too unless ``pss`` is false (reading smaps_rollup walks every mapping)."""
    try:
        used = parse_status(Path(f"/proc/{pid}/status").read_text())
        if used is None or not pss:
            return used
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return None
    found = re.search(r"^Pss:\s+(\d+) kB", rollup, re.MULTILINE)
    return None if found is None else Memory(used.rss_kib, used.hwm_kib, int(found.group(1)))


def started_with(text: str) -> list[int]:
    """The processes whose command line holds ``text`` (a data directory: PostgreSQL's server, which the
    ``pgserver`` wheel starts as a daemon, outside the tree of the process that asked for it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def memory_by_role(*roots: int) -> dict[str, list[Memory]]:
    """Each role's processes' memory, under any of ``roots`` (PostgreSQL is several processes: its server
    and its workers)."""
    found: dict[str, list[Memory]] = {}
    for pid in {pid for root in roots for pid in tree(root)}:
        if (used := memory(pid)) is not None:
            found.setdefault(role(pid), []).append(used)
    return found
