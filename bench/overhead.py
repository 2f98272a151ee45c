"""What the cluster costs on top of ffmpeg: a batch of short real clips through ``librarrarian up`` (one local
encoder, one slot), with verification and VMAF sampling on, against the very same ffmpeg argv in a plain loop
(the encodes only: the bare floor), on the same machine, in the same run; ``BENCH_RUNS`` times (3), each run
measuring its own loop right before its cluster, as the machine is shared and its load varies.

Reports both wall times and their ratio (goal: cluster ≤ 1.02 × the loop in every run; the cluster's time
runs from the first job's start to the last job's report, its verification and VMAF included), and the gap on
the node between one encode's end and the next one's start (from the encoder's log lines, to the millisecond;
other tools poll every 2–10 s).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
from datetime import datetime
from pathlib import Path

import msgspec
import nats
from librarrarian_contracts import JobCompleted, JobReport, JobStarted
from librarrarian_contracts.codec import job_decoder
from librarrarian_contracts.settings import EncoderFamily, Quality, TierQuality
from librarrarian_contracts.topology import HwClass
from librarrarian_encoder import binaries, ffmpeg
from librarrarian_encoder.profiles import PROFILES
from librarrarian_media import probe
from librarrarian_media.ffmpeg_builds import candidates
from librarrarian_testing import transcode
from librarrarian_testing.clips import ffmpeg as run_ffmpeg
from nats.aio.msg import Msg

from . import local_cluster, processes

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("LIBRARRARIAN_SHARED_MEDIA", ROOT.parent / "shared" / "media"))
OUT = ROOT / "bench" / "out"
CLIPS = int(os.environ.get("BENCH_CLIPS", "20"))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
PRESET = os.environ.get("BENCH_PRESET", "fast")
CRF = 22
# Every output is kept (as in the loop), so both sides do the same work; VMAF is measured on each output
# (verification, on by default, samples its decode).
SETTINGS = transcode.fastest(x265_preset=PRESET, max_output_percent=1000, measure_vmaf=True)
SETTINGS = msgspec.structs.replace(
    SETTINGS,
    quality={
        **SETTINGS.quality,
        EncoderFamily.X265: TierQuality(
            **{t: Quality(level=CRF, preset=PRESET) for t in ("sd", "hd720", "hd1080", "uhd")}
        ),
    },
)


def make_clips(folder: Path, count: int) -> list[Path]:
    """``count`` distinct 2-second H.264 + AAC clips cut from the shared footage."""
    folder.mkdir(parents=True)
    sources = [(SHARED / "bigbuckbunny.mp4", 5.0, "scale=640:-2"), (SHARED / "bikes.mp4", 10.0, "null")]
    clips = []
    for i in range(count):
        source, length, vf = sources[i % 2]
        start = (i // 2 * 0.7) % (length - 2.0)
        out = folder / f"clip{i:02d}.mp4"
        run_ffmpeg(
            "-ss",
            f"{start:.2f}",
            "-t",
            "2",
            "-i",
            source,
            "-f",
            "lavfi",
            "-i",
            "sine=duration=2",
            "-map",
            "0:v",
            "-map",
            "1:a",
            "-vf",
            vf,
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-c:a",
            "aac",
            "-shortest",
            out,
        )
        clips.append(out)
    return clips


def bare_loop(clips: list[Path], scratch: Path) -> tuple[float, float]:
    """The same argv the encoder builds, one after another; wall and CPU seconds."""
    binary = binaries.chosen(candidates()).for_class(HwClass.CPU)  # what the encoder runs for the CPU class
    quality = SETTINGS.quality_for(EncoderFamily.X265, 320, 240)
    x265 = PROFILES[(HwClass.CPU, "hevc")]
    argvs = [
        ffmpeg.build_argv(binary, clip, scratch / clip.name, probe(clip), x265, quality) for clip in clips
    ]
    started = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    for argv in argvs:
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


# The encoder's lines for an encode's start and end and a job's end (``LOG_LEVEL=INFO``), to the millisecond.
_ENCODER_LINE = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) INFO\s+encoder\s+job (\d+) "
    r"(attempt \d+ delivery \d+ started|encoded|done)",
    re.MULTILINE,
)


def gaps_ms(log: str) -> tuple[list[float], list[float]]:
    """Between each encode's end and the next one's start on the node, in milliseconds; and the part of each
    spent waiting for the job before to be put in place (the slot keeps at most one job in its background
    stage)."""
    moments: dict[tuple[int, str], datetime] = {}
    for when, job, what in _ENCODER_LINE.findall(log):
        moments[(int(job), what.rsplit(" ", 1)[-1])] = datetime.strptime(when, "%Y-%m-%d %H:%M:%S.%f")
    gaps, waits = [], []
    order = sorted((when, job) for (job, what), when in moments.items() if what == "started")
    jobs = [job for _, job in order]
    for index, (job, following) in enumerate(itertools.pairwise(jobs)):
        encoded, started = moments.get((job, "encoded")), moments.get((following, "started"))
        if encoded is None or started is None:
            continue
        gaps.append((started - encoded).total_seconds() * 1000)
        before = moments.get((jobs[index - 1], "done")) if index else None
        waits.append(max(0.0, (before - encoded).total_seconds() * 1000) if before else 0.0)
    return gaps, waits


async def cluster(clips: list[Path], work: Path) -> dict[str, object]:
    media, data = work / "media", work / "data"
    media.mkdir()  # empty until the settings are in place; the watch then picks the clips up
    env = {"SLOTS": "1", "LOG_LEVEL": "INFO"}  # INFO: the encoder's lines give the gaps between encodes
    launched = time.perf_counter()
    async with local_cluster.up(media, data, work / "up.log", env) as cluster:
        js = cluster.nc.jetstream()
        while True:
            try:
                await transcode.put(js, SETTINGS)
                break
            except (nats.js.errors.ServiceUnavailableError, nats.js.errors.BucketNotFoundError):
                await asyncio.sleep(0.05)  # JetStream is still starting, or not provisioned yet
        events: list[JobReport] = []
        done = asyncio.Event()
        cpu: dict[str, dict[str, float]] = {}

        async def on_event(msg: Msg) -> None:
            events.append(job_decoder.decode(msg.data))
            if len(events) == 1:
                cpu["start"] = processes.cpu_by_role(*roots)
            if sum(not isinstance(e, JobStarted) for e in events) >= len(clips):
                cpu["end"] = processes.cpu_by_role(*roots)
                done.set()

        # Start-up done (passwords hashed, first passes run): the batch pays for the jobs only.
        await cluster.healthy()
        await cluster.settled()
        roots = (cluster.process.pid, *processes.started_with(str(data)))  # PostgreSQL runs as a daemon
        # Before the clips arrive: every report is seen.
        sub = await cluster.nc.subscribe("job.>", cb=on_event)
        for clip in clips:
            shutil.copy2(clip, media / clip.name)
        while not done.is_set():
            cluster.check()
            await asyncio.sleep(0.2)
        finished = time.perf_counter()
        await sub.unsubscribe()
    log = (work / "up.log").read_text(errors="replace")
    (OUT / f"overhead-{work.name}-up.log").write_text(log)  # for a look at a run afterwards
    outcomes = [type(e).__name__ for e in events if not isinstance(e, JobStarted)]
    if set(outcomes) != {"JobCompleted"}:
        raise RuntimeError(f"not every job completed: {outcomes}")
    if any(e.vmaf is None for e in events if isinstance(e, JobCompleted)):
        raise RuntimeError("a job was reported without its VMAF score: see the encoder's lines in up.log")
    starts = sorted(e.occurred_at for e in events if isinstance(e, JobStarted))
    ends = sorted(e.occurred_at for e in events if isinstance(e, JobCompleted))
    return {
        "first_start_to_last_end_seconds": (ends[-1] - starts[0]).total_seconds(),
        "launch_to_last_end_seconds": finished - launched,
        "gap_ms": gaps_ms(log)[0],
        "gap_waiting_for_the_job_before_ms": gaps_ms(log)[1],
        "cpu_seconds": {
            role: round(cpu["end"].get(role, 0.0) - cpu["start"].get(role, 0.0), 2)
            for role in sorted(cpu["end"])
        },
    }


def _percentile(values: list[float], share: float) -> float:
    return round(sorted(values)[int(share * (len(values) - 1))], 1)


async def one_run(clips: list[Path], work: Path) -> dict[str, object]:
    scratch = work / "scratch"
    scratch.mkdir()
    print(f"overhead: bare ffmpeg loop (libx265 -preset {PRESET}) …", flush=True)
    loop_seconds, loop_cpu = bare_loop(clips, scratch)
    shutil.rmtree(scratch)
    print(
        "overhead: the cluster (librarrarian up, one encoder, one slot, verification and VMAF) …", flush=True
    )
    result = await cluster(clips, work)
    gaps: list[float] = result["gap_ms"]  # type: ignore[assignment]
    waits: list[float] = result["gap_waiting_for_the_job_before_ms"]  # type: ignore[assignment]
    cpu: dict[str, float] = result["cpu_seconds"]  # type: ignore[assignment]
    busy: float = result["first_start_to_last_end_seconds"]  # type: ignore[assignment]
    run = {
        "bare_loop_seconds": round(loop_seconds, 2),
        "cluster_seconds": round(busy, 2),
        "ratio": round(busy / loop_seconds, 3),
        "cluster_seconds_including_start_and_scan": round(float(result["launch_to_last_end_seconds"]), 2),  # type: ignore[arg-type]
        "gaps": len(gaps),
        "gap_ms_median": round(statistics.median(gaps), 1) if gaps else None,
        "gap_ms_p95": _percentile(gaps, 0.95) if gaps else None,
        "gap_ms_max": round(max(gaps), 1) if gaps else None,
        "gap_ms_waiting_for_the_job_before_total": round(sum(waits), 1),
        "bare_loop_ffmpeg_cpu_seconds": round(loop_cpu, 2),
        "cluster_cpu_seconds_by_process": result["cpu_seconds"],
        # What the machine's load does not blur: the CPU time each side needed, and the encoder's ffmpeg
        # processes alone (the encodes, and VMAF's decodes and scoring) against the loop's.
        "cpu_ratio": round(sum(cpu.values()) / loop_cpu, 3),
        "ffmpeg_cpu_ratio": round(cpu.get("ffmpeg", 0.0) / loop_cpu, 3),
    }
    print(
        f"  bare ffmpeg loop {loop_seconds:7.2f} s; cluster (first start → last report) {busy:7.2f} s; "
        f"ratio {busy / loop_seconds:.3f}; CPU ratio {run['cpu_ratio']} (ffmpeg alone {run['ffmpeg_cpu_ratio']})\n"
        f"  gap between encodes: median {run['gap_ms_median']} ms, p95 {run['gap_ms_p95']} ms, "
        f"max {run['gap_ms_max']} ms; of which waiting for the job before: {sum(waits):.0f} ms in all\n"
        f"  CPU seconds: bare loop ffmpeg {loop_cpu:.2f}; cluster {run['cluster_cpu_seconds_by_process']}",
        flush=True,
    )
    return run


async def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-overhead-") as tmp:
        print(f"overhead: making {CLIPS} clips …", flush=True)
        clips = make_clips(Path(tmp) / "clips", CLIPS)
        for number in range(RUNS):
            print(f"overhead: run {number + 1} of {RUNS}", flush=True)
            work = Path(tmp) / f"run{number}"
            work.mkdir()
            runs.append(await one_run(clips, work))
    ratios = [float(r["ratio"]) for r in runs]  # type: ignore[arg-type]
    report = {
        "when": datetime.now().isoformat(timespec="seconds"),
        "command": "python -m bench overhead",
        "clips": CLIPS,
        "preset": PRESET,
        "verification": "sample",
        "vmaf": True,
        "ratio_max": max(ratios),
        "ratio_median": statistics.median(ratios),
        "runs": runs,
    }
    (OUT / "overhead.json").write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"\noverhead: {CLIPS} clips, libx265 -preset {PRESET}, verification and VMAF on, {RUNS} runs\n"
        f"  ratios {', '.join(f'{r:.3f}' for r in ratios)} (goal ≤ 1.02 in every run)\n"
        f"  gap medians (ms) {', '.join(str(r['gap_ms_median']) for r in runs)}; "
        f"maxima {', '.join(str(r['gap_ms_max']) for r in runs)}\n"
        f"  written to {OUT / 'overhead.json'}"
    )
