"""Phase two: a flood of waiting jobs with the dashboard open and no node taking work. The harness publishes
the ``media.probed`` events the scanner would for ``count`` new copies of the clip (as the scanner's role,
with the fingerprint the scanner would compute), as fast as the stream takes them, and measures how long the
scheduler takes to hold every one as a queued job of record, what the dashboard's reads cost meanwhile
against the same reads idle, and that nothing was lost on the way."""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

from librarrarian_contracts import FileIdentity, MediaProbed, publish
from librarrarian_media import probe

from bench.chaos.cluster import Cluster
from bench.chaos.faults import query

from . import clips
from .dashboard import Dashboard, opened
from .memory import Memory, sample
from .nodes import bus

PUBLISH_BATCH = 64  # as the scanner publishes: a batch at a time, its acks awaited together
IDLE_SECONDS = 5.0  # the dashboard's reads timed before the flood, for the baseline (default)
SECONDS_PER_JOB = 0.5  # the wait's bound
WAITING_BAND = 3  # the copies' tags (the encodes' are 1 and 2)


@dataclass
class Outcome:
    published: int
    publish_seconds: float
    intake_seconds: float | None  # first publish → every job queued of record
    recorded: int  # jobs of record for the published paths
    pending: int  # of which waiting (queued)
    progress: list[tuple[float, int]]  # (seconds since the first publish, jobs of record)
    dashboard: Dashboard
    memory_start: dict[str, Memory]
    memory_end: dict[str, Memory]


def events(clip: bytes, sample_path: Path, folder: Path, library: Path, count: int) -> list[MediaProbed]:
    """What the scanner would publish for ``count`` copies of ``clip`` in ``folder``; ``sample_path``: one
    copy on disk, for the probe every copy shares."""
    facts = probe(sample_path)
    now = time.time_ns()
    out = []
    for number in range(1, count + 1):
        content = clip.replace(clips.TAG, clips.tag_of(number, WAITING_BAND))
        # The scanner's fingerprint of a small file: the whole file, hashed (librarrarian_scanner.fingerprint).
        fingerprint = f"v1:{len(content)}:{hashlib.sha256(content).hexdigest()[:32]}"
        out.append(
            MediaProbed(
                path=str(folder / f"Clip {number:05d}.mkv"),
                identity=FileIdentity(size=len(content), mtime_ns=now, inode=10_000_000 + number),
                probe=facts,
                library=str(library),
                fingerprint=fingerprint,
            )
        )
    return out


async def counts(cluster: Cluster, folder: Path) -> tuple[int, int]:
    rows = await query(
        cluster,
        "SELECT count(*) AS n, count(*) FILTER (WHERE status = 'pending') AS pending FROM scheduler.jobs"
        " WHERE path LIKE $1",
        f"{folder}/%",
    )
    return (int(str(rows[0]["n"])), int(str(rows[0]["pending"]))) if rows else (0, 0)


async def run(
    cluster: Cluster,
    clip: bytes,
    sample_path: Path,
    count: int,
    pids: dict[str, int | None],
    idle_seconds: float = IDLE_SECONDS,
) -> Outcome:
    """The phase, on a cluster whose nodes are stopped (they take no work)."""
    folder = cluster.media / "Waiting"
    flood = await asyncio.to_thread(events, clip, sample_path, folder, cluster.media, count)
    memory_start = sample(pids)
    async with opened(str(cluster.api().base_url), cluster.credentials["api_key"]) as dashboard:
        await asyncio.sleep(idle_seconds)  # the reads' baseline: the same dashboard, idle
        dashboard.recording = "flood"
        started = time.monotonic()
        async with bus(cluster, "scanner") as nc:
            js = nc.jetstream()
            for first in range(0, len(flood), PUBLISH_BATCH):
                await asyncio.gather(*(publish(js, e) for e in flood[first : first + PUBLISH_BATCH]))
        published = time.monotonic() - started
        intake = None
        progress: list[tuple[float, int]] = []
        deadline = started + 120 + count * SECONDS_PER_JOB
        while time.monotonic() < deadline:
            recorded, pending = await counts(cluster, folder)
            progress.append((time.monotonic() - started, recorded))
            if recorded >= count:
                intake = time.monotonic() - started
                break
            await asyncio.sleep(0.25)
        # The dashboard stays open until the state events of the flood have had their chance to arrive.
        settle = time.monotonic() + 30
        while dashboard.changes["queued"] < count and time.monotonic() < settle:
            await asyncio.sleep(0.25)
        dashboard.recording = "after"
    recorded, pending = await counts(cluster, folder)
    return Outcome(
        count, published, intake, recorded, pending, progress, dashboard, memory_start, sample(pids)
    )
