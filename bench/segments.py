"""One file across nodes over the bus, as users run it (issue 19's proof): ``librarrarian up`` (its own NATS and
PostgreSQL, every service, one local encoder: node-a) on core 0 alone, and a second encoder process (node-b)
on core 1 alone (``taskset``), logged in as the encoder user of that cluster. The file is dropped into the
library; the scanner finds it, the scheduler queues it, node-a takes the job and, with segments on, cuts it
into segments that both nodes take from the bus, then joins, verifies and replaces it.

The original is ``bench.chunked``'s (``BENCH_SEGMENTS_SECONDS``, 180, of 720p H.264 + AAC from the shared
footage). libx265 at the 720p tier's level, ``BENCH_SEGMENTS_PRESET`` (``fast``). Four runs, each on a fresh
cluster:

- single: node-a alone, segments off: the file encoded whole on one core (the baseline);
- two nodes: node-a and node-b (both see the library), segments of ``BENCH_SEGMENTS_SEGMENT`` (30) seconds;
- no library: the same, node-b started without ``MEDIA_PATHS``: it reads the source from the transfer store;
- kill: as "no library", node-b killed with SIGKILL while its ffmpeg encodes a segment; the segment comes
  back to node-a after AckWait. node-b is then started again (it removes its scratch leftovers at start).

A run's time is the job's, from its ``JobStarted`` to its ``JobCompleted`` (the scan and queueing aside, the
same on every run). Reports the speed-up (goal ≥ 1.8), the outputs' video sizes (goal: within 2%), VMAF of
each output against the original (goal: within one point), the seam check of each segmented output (every
frame once, no gap at a join), each node's segments, the bytes moved through the transfer store and the
seconds spent moving them, and what is left after each run: temporary files in the library, objects in the
transfer store, scratch folders of node-b.

Saves ``bench/out/segments.json`` and ``segments.txt``. About 35 minutes on two quiet cores (the single run and
the kill run take ten minutes each).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec
import nats
from librarrarian_contracts import JobCompleted, JobReport, JobStarted, topology
from librarrarian_contracts.codec import job_decoder
from librarrarian_contracts.settings import TranscodeSettings
from librarrarian_encoder import chunk_join, chunks, vmaf
from librarrarian_media import probe
from librarrarian_testing import transcode
from nats.aio.msg import Msg

from . import local_cluster
from .chunked import FFMPEG, OUT, make_source, video_bytes, whole_vmaf
from .load.figures import table
from .segments_nodes import CORE_B, ENCODING, NodeB, stored_objects, transfer_figures

SECONDS = float(os.environ.get("BENCH_SEGMENTS_SECONDS", "180"))
SEGMENT_SECONDS = float(os.environ.get("BENCH_SEGMENTS_SEGMENT", "30"))
PRESET = os.environ.get("BENCH_SEGMENTS_PRESET", "fast")
CORE_A = 0  # node-a, librarrarian up; node-b has CORE_B
JOB_TIMEOUT = 3600.0
# The goals.
SPEEDUP = 1.8
SIZE_SHARE = 0.02
VMAF_POINTS = 1.0


def settings(segments: bool) -> TranscodeSettings:
    return transcode.fastest(
        x265_preset=PRESET,
        max_output_percent=1000,
        segment_min_minutes=0.1 if segments else 0.0,
        segment_seconds=SEGMENT_SECONDS,
    )


async def wait_for(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {timeout:g} s")
        await asyncio.sleep(0.1)


async def one_run(
    name: str, source: Path, work: Path, *, node_b: str | None, kill: bool = False
) -> dict[str, Any]:
    """One fresh cluster, one file; ``node_b``: None, ``library`` or ``remote``."""
    folder = work / name
    media, data = folder / "media", folder / "data"
    (media / "Films").mkdir(parents=True)
    # node-b without the library logs in as its own user, remote-node-b, and reaches its own store only.
    env = {"SLOTS": "1", "LOG_LEVEL": "INFO", "HW_CLASSES": "cpu", "REMOTE_NODES": "node-b"}
    segments = node_b is not None
    events: list[JobReport] = []
    b: NodeB | None = None
    result: dict[str, Any] = {"name": name, "node_b": node_b or "none", "segments": segments}
    async with local_cluster.up(media, data, folder / "up.log", env, core=CORE_A) as cluster:
        js = cluster.nc.jetstream()
        while True:
            try:
                await transcode.put(js, settings(segments))
                break
            except (nats.js.errors.ServiceUnavailableError, nats.js.errors.BucketNotFoundError):
                await asyncio.sleep(0.05)
        await cluster.healthy()
        nodes = await js.key_value(topology.NODES.name)
        if node_b is not None:
            b = NodeB(data, media if node_b == "library" else None, folder)
            b.start()

            async def b_is_live() -> bool:
                try:
                    return bool((await nodes.get("node-b")).value)
                except Exception:  # noqa: BLE001 - not there yet
                    return False

            deadline = time.monotonic() + 120
            while not await b_is_live():
                if time.monotonic() > deadline or (b.process and b.process.poll() is not None):
                    raise RuntimeError(f"node-b did not start: see {b.log}")
                await asyncio.sleep(0.2)
        await cluster.settled()

        async def on_event(msg: Msg) -> None:
            events.append(job_decoder.decode(msg.data))

        sub = await cluster.nc.subscribe("job.>", cb=on_event)
        target = media / "Films" / "Film.mp4"
        shutil.copy2(source, target)
        try:
            if kill:
                assert b is not None
                await wait_for(lambda: b.ffmpeg_seconds() > 5.0, 600, "node-b encoding a segment")
                b.kill()
                result["killed_at"] = datetime.now().isoformat(timespec="seconds")
                begun = ENCODING.findall(b.log.read_text(errors="replace"))
                result["killed_segment"] = int(begun[-1]) if begun else None
                result["left_by_the_kill"] = b.leftovers()

            def ended() -> list[JobReport]:
                return [e for e in events if not isinstance(e, JobStarted)]

            await wait_for(ended, JOB_TIMEOUT, "the job's outcome")
            cluster.check()
        finally:
            await sub.unsubscribe()
        started = next(e for e in events if isinstance(e, JobStarted))
        (outcome,) = ended()
        if not isinstance(outcome, JobCompleted):
            raise RuntimeError(f"{name}: the job did not complete: {outcome}")
        result["seconds"] = round((outcome.occurred_at - started.occurred_at).total_seconds(), 1)
        kept = folder / f"output{Path(outcome.output_path).suffix}"
        shutil.copy2(outcome.output_path, kept)
        result["output"] = str(kept)
        result["library_temporary_files"] = sorted(str(p.relative_to(media)) for p in media.rglob(".tmp_*"))
        if b is not None:
            result["store_after"] = await stored_objects(data)
            if kill:
                b.start()  # a restart removes the killed process's scratch folders
                await asyncio.sleep(5)
            b.stop()
            result["node_b_scratch_after"] = b.leftovers()
    logs = (folder / "up.log").read_text(errors="replace")
    logs_b = b.log.read_text(errors="replace") if b is not None else ""
    result |= transfer_figures(logs, logs_b)
    return result


def checks(source: Path, output: Path, line: chunks.Timeline, duration: float | None) -> dict[str, Any]:
    plan = chunks.plan(line.keyframes, duration, SEGMENT_SECONDS)
    report = chunk_join.seams(output, chunk_join.join_times(plan), expected_frames=line.frames)
    return {
        "frames": report.frames,
        "expected_frames": line.frames,
        "joins": len(report.joins),
        "seam_problems": list(report.problems),
        "video_bytes": video_bytes(output),
        "file_bytes": output.stat().st_size,
    }


def goals(doc: dict[str, Any]) -> list[tuple[str, bool, str]]:
    runs = {r["name"]: r for r in doc["runs"]}
    single, two = runs["single"], runs["two nodes"]
    speedup = doc["speedup"]
    size = two["video_bytes"] / single["video_bytes"]
    diff = two["vmaf"]["mean"] - single["vmaf"]["mean"]
    found = [
        (f"speed-up ≥ {SPEEDUP} ({SPEEDUP / 2:.2f} per node)", speedup >= SPEEDUP,
         f"{speedup:.2f} × ({single['seconds']:.1f} s → {two['seconds']:.1f} s)"),
        (f"video size within {SIZE_SHARE:.0%} of the single encode", abs(size - 1) <= SIZE_SHARE,
         f"{(size - 1) * 100:+.2f}%"),
        (f"VMAF within {VMAF_POINTS:g} point", abs(diff) <= VMAF_POINTS,
         f"{single['vmaf']['mean']} single, {two['vmaf']['mean']} two nodes ({diff:+.2f})"),
    ]  # fmt: skip
    for run in doc["runs"][1:]:
        clean = not run["seam_problems"] and run["frames"] == run["expected_frames"]
        found.append((f"{run['name']}: every frame once, no seam", clean,
                      f"{run['frames']} frames of {run['expected_frames']}, {run['joins']} joins"
                      + (": " + "; ".join(run["seam_problems"]) if run["seam_problems"] else "")))  # fmt: skip
        left = (
            run["library_temporary_files"] + run.get("store_after", []) + run.get("node_b_scratch_after", [])
        )
        found.append((f"{run['name']}: nothing left in the library, the store or scratch", not left,
                      ", ".join(left) or "nothing"))  # fmt: skip
    remote = runs["no library"]
    found.append(("no library: node-b encoded segments from the store", bool(remote["segments_by_node"]["node-b"]),
                  f"node-b: {remote['segments_by_node']['node-b']}, node-a: {remote['segments_by_node']['node-a']}"))  # fmt: skip
    killed = runs["kill"]
    redone = killed["killed_segment"] in killed["segments_by_node"]["node-a"]
    found.append(("kill: the killed segment done again by node-a, the file replaced and verified", redone,
                  f"segment {killed['killed_segment']} killed on node-b; node-a did "
                  f"{killed['segments_by_node']['node-a']}, node-b {killed['segments_by_node']['node-b']}; "
                  f"{killed['seconds']:.1f} s; left by the kill in node-b's scratch (removed at its restart): "
                  f"{', '.join(killed['left_by_the_kill']) or 'nothing'}"))  # fmt: skip
    return found


def text(doc: dict[str, Any]) -> str:
    rows = [
        {
            "run": r["name"],
            "job s": r["seconds"],
            "node-a segments": len(r["segments_by_node"]["node-a"]) if r["segments"] else "whole",
            "node-b segments": len(r["segments_by_node"]["node-b"]) if r["segments"] else "-",
            "moved MB": round(r["moved_bytes"] / 1e6, 1),
            "moving s": r["moved_seconds"],
            "video MB": round(r["video_bytes"] / 1e6, 2),
            "VMAF": r["vmaf"]["mean"],
        }
        for r in doc["runs"]
    ]
    lines = [
        f"segments: a {SECONDS:g} s 720p H.264 + AAC original ({doc['source']['frames']} frames), libx265 "
        f"-preset {PRESET} at the 720p tier's level; node-a = librarrarian up on core {CORE_A}, node-b = an "
        f"encoder process on core {CORE_B}; segments of about {SEGMENT_SECONDS:g} s",
        "",
        table(rows),
        "",
        f"  speed-up {doc['speedup']:.2f} × with two nodes; with node-b reading from the store "
        f"{doc['speedup_no_library']:.2f} × (transfer overhead {doc['transfer_overhead'] * 100:+.1f}% of the "
        f"two-node time)",
        "",
        "goals:",
        *(f"  {'met    ' if met else 'NOT met'}  {goal}: {detail}" for goal, met, detail in doc["goals"]),
        "",
        f"  {doc['seconds']:.0f} s in all",
    ]
    return "\n".join(lines)


async def main() -> None:
    if not vmaf.available(FFMPEG):
        raise SystemExit(f"{FFMPEG} has no libvmaf")
    began = time.monotonic()
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-segments-") as tmp:
        work = Path(tmp)
        print(f"segments: making a {SECONDS:g} s original …", flush=True)
        source = make_source(work, SECONDS)
        line = chunks.timeline(source)
        duration = probe(source).duration
        runs = []
        for name, node_b, kill in (
            ("single", None, False),
            ("two nodes", "library", False),
            ("no library", "remote", False),
            ("kill", "remote", True),
        ):
            print(f"segments: {name} …", flush=True)
            run = await one_run(name.replace(" ", "-"), source, work, node_b=node_b, kill=kill)
            run["name"] = name
            output = Path(run.pop("output"))
            run |= checks(source, output, line, duration)
            run["vmaf"] = msgspec.to_builtins(whole_vmaf(source, output, duration))
            print(f"  {run['seconds']:.1f} s, segments {run['segments_by_node']}", flush=True)
            for log in (work / run["name"].replace(" ", "-")).glob("*.log"):
                shutil.copy2(log, OUT / f"segments-{name.replace(' ', '-')}-{log.name}")
            runs.append(run)
    by = {r["name"]: r for r in runs}
    doc: dict[str, Any] = {
        "when": datetime.now().isoformat(timespec="seconds"),
        "command": "python -m bench segments",
        "source": {"seconds": SECONDS, "frames": line.frames, "keyframes": len(line.keyframes)},
        "preset": PRESET,
        "segment_seconds": SEGMENT_SECONDS,
        "runs": runs,
        "speedup": round(by["single"]["seconds"] / by["two nodes"]["seconds"], 3),
        "speedup_no_library": round(by["single"]["seconds"] / by["no library"]["seconds"], 3),
        "transfer_overhead": round(by["no library"]["seconds"] / by["two nodes"]["seconds"] - 1, 3),
        "seconds": round(time.monotonic() - began, 1),
    }
    doc["goals"] = goals(doc)
    report = text(doc)
    print("\n" + report)
    (OUT / "segments.json").write_text(json.dumps(doc, indent=2, default=str) + "\n")
    (OUT / "segments.txt").write_text(report + "\n")
    print(f"\nsaved {OUT / 'segments.json'} and .txt")
