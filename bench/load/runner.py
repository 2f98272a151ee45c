"""The whole load run: the baseline loop, then one cluster (``up`` plus the extra nodes) through both phases,
then one SIGTERM and nothing may be left. Returns the report as a document; :mod:`bench.load.__main__`
prints and saves it."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import tempfile
from datetime import datetime
from pathlib import Path

import msgspec
from librarrarian_testing.transcode import fastest

from bench.chaos import invariants
from bench.chaos.cluster import NODE, SERVICES, STALL_SECONDS, Cluster

from . import baseline, clips, encodes, figures, memory, waiting
from .nodes import Encoders

# Every output replaces its original: a tiny clip's HEVC may come out larger than its H.264.
SETTINGS = fastest(stall_seconds=STALL_SECONDS, max_output_percent=1000)


def pids(cluster: Cluster, encoders: Encoders) -> dict[str, int | None]:
    """Every process of the cluster worth watching, by name: ``up``, each service, each node, the servers."""
    out: dict[str, int | None] = {"up": cluster.process.pid if cluster.process else None}
    for name in SERVICES:
        out[NODE if name == "encoder" else name] = cluster.service_pid(name)
    out |= encoders.pids()
    out["nats-server"] = cluster.nats_pid()
    postmaster = cluster.postmaster()
    out["postgres (postmaster)"] = postmaster[0] if postmaster else None
    return out


def encodes_report(outcome: encodes.Outcome, loop_seconds: float, nodes: int) -> dict[str, object]:
    gaps = figures.gaps_ms(outcome.reports.seen)
    encode = outcome.encode_seconds
    return {
        "jobs": outcome.jobs,
        "statuses": outcome.statuses,
        "wall_seconds": round(outcome.wall_seconds, 2),
        "encode_seconds": None if encode is None else round(encode, 2),
        "jobs_per_second": round(outcome.jobs / outcome.wall_seconds, 2),
        "baseline_bare_ffmpeg_seconds": round(loop_seconds, 2),
        "baseline_jobs_per_second": round(outcome.jobs / loop_seconds, 2),
        "ratio_wall_to_baseline": figures.ratio(outcome.wall_seconds, loop_seconds),
        "ratio_encode_to_baseline": figures.ratio(encode, loop_seconds),
        "nodes": nodes,
        "gap_ms": figures.summary(gaps),
        "violations": [f"{v.kind}: {v.detail}" for v in outcome.violations],
        "memory": memory.compare(outcome.memory_start, outcome.memory_end),
    }


def waiting_report(outcome: waiting.Outcome) -> dict[str, object]:
    dashboard = outcome.dashboard
    idle = dashboard.latencies_ms.get("idle", [])
    flood = dashboard.latencies_ms.get("flood", [])
    idle_p95, flood_p95 = figures.percentile(idle, 0.95), figures.percentile(flood, 0.95)
    first_fifth, last_fifth = figures.rates(outcome.progress, outcome.published)
    return {
        "published": outcome.published,
        "publish_seconds": round(outcome.publish_seconds, 2),
        "intake_seconds": None if outcome.intake_seconds is None else round(outcome.intake_seconds, 2),
        "jobs_per_second_taken_in": (
            round(outcome.published / outcome.intake_seconds, 1) if outcome.intake_seconds else None
        ),
        "jobs_per_second_first_fifth": first_fifth,
        "jobs_per_second_last_fifth": last_fifth,
        "recorded": outcome.recorded,
        "queued_of_record": outcome.pending,
        "lost": outcome.published - outcome.recorded,
        "dashboard_reads_ms_idle": figures.summary(idle),
        "dashboard_reads_ms_flood": figures.summary(flood),
        "ratio_p95_flood_to_idle": figures.ratio(flood_p95, idle_p95),
        "live_queued_events": dashboard.changes["queued"],
        "live_connects": dashboard.connects,
        "dashboard_errors": dashboard.errors[:20],
        "memory": memory.compare(outcome.memory_start, outcome.memory_end),
    }


async def run_all(
    jobs: int, waiting_jobs: int, nodes: int, keep: bool, idle_seconds: float = waiting.IDLE_SECONDS
) -> dict[str, object]:
    root = Path(tempfile.mkdtemp(prefix="load-"))
    cluster = Cluster(root)
    encoders = Encoders(cluster)
    document: dict[str, object] = {"when": datetime.now().isoformat(timespec="seconds")}
    try:
        clip = await asyncio.to_thread(clips.make_clip, root / "clip")
        bare = await asyncio.to_thread(clips.copies, clip, root / "baseline", jobs, 2)
        print(f"load: baseline, {jobs} encodes as a bare ffmpeg loop, {nodes} at a time …", flush=True)
        loop_seconds = await asyncio.to_thread(baseline.bare_loop, bare, root / "scratch", SETTINGS, nodes)
        print(f"load: the cluster (up + {nodes - 1} more node(s), one slot each) …", flush=True)
        cluster.start()
        await cluster.ready()
        while (await cluster.api().patch("/api/v1/settings/transcode", json=msgspec.to_builtins(SETTINGS))).status_code != 200:  # fmt: skip
            await asyncio.sleep(0.5)
        encoders.start(nodes - 1)
        await encoders.control("start")
        print(f"load: phase 1, {jobs} small jobs …", flush=True)
        first = await encodes.run(cluster, clip, jobs, pids(cluster, encoders))
        document["encodes"] = encodes_report(first, loop_seconds, nodes)
        await encoders.control("stop")
        print(f"load: phase 2, {waiting_jobs} waiting jobs with the dashboard open …", flush=True)
        second = await waiting.run(
            cluster, clip, bare[0], waiting_jobs, pids(cluster, encoders), idle_seconds
        )
        document["waiting"] = waiting_report(second)
        await encoders.stop()
        cluster.signal_up(signal.SIGTERM)
        code = await cluster.wait_exit(90)
        await cluster.close_api()
        left = await cluster.leftovers(10.0)
        document["stop"] = {
            "exit": code,
            "violations": [
                f"{v.kind}: {v.detail}" for v in invariants.check_processes(left, "after one SIGTERM")
            ],
        }
    finally:
        await encoders.stop()
        if cluster.process is not None and cluster.process.poll() is None:
            os.killpg(cluster.process.pid, signal.SIGKILL)
            cluster.process.wait()
        cluster.kill_leftovers()
        await cluster.close_api()
        if keep:
            print(f"kept {root} (log: {cluster.log_path})")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return document
