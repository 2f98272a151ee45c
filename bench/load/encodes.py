"""Phase one: many small jobs through the real cluster's encoders. Distinct copies of one tiny clip are moved
into the library whole; the scanner finds them, the scheduler queues them, the nodes encode, verify and
replace them. Then the chaos harness's invariants on every file and record, and the figures: wall time,
jobs per second, the gap between jobs on a node, and each process's memory before and after."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import msgspec
from librarrarian_contracts import JobStarted
from librarrarian_contracts.codec import job_decoder
from nats.aio.msg import Msg

from bench.chaos import media, runner
from bench.chaos.cluster import Cluster
from bench.chaos.faults import query
from bench.chaos.invariants import FINAL, Expected, Violation

from . import clips
from .memory import Memory, sample
from .nodes import bus

WARM_UP = 4  # jobs run before the start is measured: the first imports, connections and caches
SECONDS_PER_JOB = 5.0  # the wait's bound: far beyond a job's few hundred milliseconds


@dataclass
class Reports:
    """What the nodes reported, as ``(node, start | end, when)`` by the nodes' clocks."""

    seen: list[tuple[str, str, datetime]] = field(default_factory=list)
    ends: int = 0

    def take(self, msg: Msg) -> None:
        try:
            report = job_decoder.decode(msg.data)
        except msgspec.DecodeError:
            return
        node = getattr(report, "node", None)
        if not isinstance(node, str):
            return
        kind = "start" if isinstance(report, JobStarted) else "end"
        self.ends += kind == "end"
        self.seen.append((node, kind, report.occurred_at))


@dataclass
class Outcome:
    jobs: int
    statuses: dict[str, int]
    wall_seconds: float  # files moved in → every job final
    encode_seconds: float | None  # first job start → last job end, by the nodes' clocks
    reports: Reports
    violations: list[Violation]
    memory_start: dict[str, Memory]
    memory_end: dict[str, Memory]


async def statuses(cluster: Cluster, folder: Path) -> dict[str, int]:
    rows = await query(
        cluster,
        "SELECT status, count(*) AS n FROM scheduler.jobs WHERE path LIKE $1 GROUP BY status",
        f"{folder}/%",
    )
    return {str(r["status"]): int(str(r["n"])) for r in rows}


async def wait_final(cluster: Cluster, folder: Path, count: int, timeout: float) -> float:
    """Seconds until ``count`` jobs under ``folder`` are final and none is not; raises at the deadline."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        seen = await statuses(cluster, folder)
        if sum(n for s, n in seen.items() if s in FINAL) >= count and all(s in FINAL for s in seen):
            return time.monotonic() - started
        await asyncio.sleep(0.5)
    raise RuntimeError(
        f"{folder.name}: not every job final within {timeout:.0f} s: {await statuses(cluster, folder)}"
    )


def move_in(clip: bytes, cluster: Cluster, name: str, count: int, band: int) -> list[Path]:
    """``count`` copies made beside the library, then moved in as one folder."""
    staging = cluster.root / "staging" / name
    clips.copies(clip, staging, count, band)
    target = cluster.media / name
    os.rename(staging, target)
    return sorted(target.iterdir())


def expect(paths: list[Path], into: dict[Path, Expected]) -> None:
    original = media.facts(paths[0])  # every copy is the same video
    for path in paths:
        into[path] = Expected(path, media.sha256(path), original, needs_job=True)


async def run(cluster: Cluster, clip: bytes, count: int, pids: dict[str, int | None]) -> Outcome:
    """The phase, on a cluster whose nodes are started and idle; ``pids``: the processes to watch."""
    expected: dict[Path, Expected] = {}
    warm = await asyncio.to_thread(move_in, clip, cluster, "Warm-up", WARM_UP, 1)
    expect(warm, expected)
    await wait_final(cluster, cluster.media / "Warm-up", WARM_UP, 120 + WARM_UP * SECONDS_PER_JOB)
    await runner.history_done(cluster, await runner.all_jobs(cluster))
    memory_start = sample(pids)

    reports = Reports()
    async with bus(cluster, "gateway") as nc:

        async def take(msg: Msg) -> None:
            reports.take(msg)

        subscription = await nc.subscribe("job.>", cb=take)
        moved = time.monotonic()
        paths = await asyncio.to_thread(move_in, clip, cluster, "Load", count, 2)
        await wait_final(cluster, cluster.media / "Load", count, 120 + count * SECONDS_PER_JOB)
        wall = time.monotonic() - moved
        # The nodes' last reports may trail the record by a moment.
        deadline = time.monotonic() + 10
        while reports.ends < count and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await subscription.unsubscribe()
    expect(paths, expected)
    violations = await runner.check(cluster, expected)  # waits for history to catch up, too
    memory_end = sample(pids)
    starts = [w for _, k, w in reports.seen if k == "start"]
    ends = [w for _, k, w in reports.seen if k == "end"]
    encode = (max(ends) - min(starts)).total_seconds() if starts and ends else None
    return Outcome(
        count, await statuses(cluster, cluster.media / "Load"), wall, encode, reports, violations,
        memory_start, memory_end,
    )  # fmt: skip
