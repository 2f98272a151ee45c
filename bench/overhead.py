"""What the cluster costs on top of ffmpeg: a batch of short real clips through ``librarrarian up`` (one local
encoder, one slot) against the very same ffmpeg argv in a plain loop, on the same machine, in the same run.

Reports both wall times and their ratio (goal: cluster ≤ 1.05 × the loop), and the per-job gap between one
job's end and the next job's start on the node (other tools poll every 2–10 s).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import nats
from librarrarian_contracts import JobCompleted, JobEvent, JobStarted
from librarrarian_contracts.codec import job_decoder
from librarrarian_embedded.nats_server import free_port
from librarrarian_encoder import ffmpeg
from librarrarian_media import probe
from librarrarian_runtime.ffmpeg_binary import locate
from librarrarian_testing.clips import ffmpeg as run_ffmpeg

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("LIBRARRARIAN_SHARED_MEDIA", ROOT.parent / "shared" / "media"))
OUT = ROOT / "bench" / "out"
CLIPS = int(os.environ.get("BENCH_CLIPS", "20"))
PRESET = os.environ.get("BENCH_PRESET", "fast")
CRF = 22


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


def bare_loop(clips: list[Path], scratch: Path) -> float:
    """The same argv the encoder builds, one after another, output discarded."""
    binary, _ = locate()
    quality = ffmpeg.Quality(preset=PRESET, crf=CRF)
    argvs = [ffmpeg.build_argv(binary, clip, scratch / clip.name, probe(clip), quality) for clip in clips]
    started = time.perf_counter()
    for argv in argvs:
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


async def cluster(clips: list[Path], work: Path) -> dict[str, object]:
    media, data = work / "media", work / "data"
    shutil.copytree(clips[0].parent, media)
    env = {k: v for k, v in os.environ.items() if k not in {"NATS_URL", "DATABASE_URL"}}
    # Every output is kept (as in the loop), so both sides do the same work.
    env.update(
        {
            "X265_PRESET": PRESET,
            "X265_CRF": str(CRF),
            "SLOTS": "1",
            "LOG_LEVEL": "WARNING",
            "MAX_OUTPUT_RATIO": "100",
        }
    )
    argv = [
        sys.executable,
        "-m",
        "librarrarian",
        "up",
        "--media",
        str(media),
        "--data-dir",
        str(data),
        "--port",
        str(free_port()),
    ]
    launched = time.perf_counter()
    up = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=open(work / "up.log", "wb"))  # noqa: SIM115
    try:
        while not (data / "nats" / "nats.conf").exists() or not (data / "credentials.json").exists():
            await asyncio.sleep(0.05)
        port = re.search(r"listen: 127.0.0.1:(\d+)", (data / "nats" / "nats.conf").read_text())
        password = json.loads((data / "credentials.json").read_text())["nats_password"]
        assert port
        nc = await nats.connect(f"nats://librarrarian:{password}@127.0.0.1:{port.group(1)}")
        js = nc.jetstream()
        events: list[JobEvent] = []
        done = asyncio.Event()

        async def on_event(msg: nats.aio.msg.Msg) -> None:
            events.append(job_decoder.decode(msg.data))
            if sum(not isinstance(e, JobStarted) for e in events) >= len(clips):
                done.set()

        while True:
            try:
                sub = await js.subscribe("job.>", ordered_consumer=True, cb=on_event)
                break
            except nats.js.errors.NotFoundError:
                await asyncio.sleep(0.05)  # the JOBS stream is not provisioned yet
        while not done.is_set():
            if up.poll() is not None:
                raise RuntimeError(f"librarrarian up exited with {up.returncode}: see {work / 'up.log'}")
            await asyncio.sleep(0.2)
        finished = time.perf_counter()
        await sub.unsubscribe()
        await nc.close()
    finally:
        up.send_signal(signal.SIGINT)
        up.wait(timeout=120)
    outcomes = [type(e).__name__ for e in events if not isinstance(e, JobStarted)]
    if set(outcomes) != {"JobCompleted"}:
        raise RuntimeError(f"not every job completed: {outcomes}")
    starts = sorted(e.occurred_at for e in events if isinstance(e, JobStarted))
    ends = sorted(e.occurred_at for e in events if isinstance(e, JobCompleted))
    busy = (ends[-1] - starts[0]).total_seconds()
    gaps = [(start - end).total_seconds() * 1000 for end, start in zip(ends, starts[1:], strict=False)]
    return {
        "first_start_to_last_end_seconds": busy,
        "launch_to_last_end_seconds": finished - launched,
        "gap_ms": gaps,
    }


async def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-overhead-") as tmp:
        work = Path(tmp)
        print(f"overhead: making {CLIPS} clips …", flush=True)
        clips = make_clips(work / "clips", CLIPS)
        scratch = work / "scratch"
        scratch.mkdir()
        print(f"overhead: bare ffmpeg loop (libx265 -preset {PRESET}) …", flush=True)
        loop_seconds = bare_loop(clips, scratch)
        print("overhead: the cluster (librarrarian up, one encoder, one slot) …", flush=True)
        result = await cluster(clips, work)
    gaps: list[float] = result["gap_ms"]  # type: ignore[assignment]
    busy: float = result["first_start_to_last_end_seconds"]  # type: ignore[assignment]
    report = {
        "when": datetime.now().isoformat(timespec="seconds"),
        "clips": CLIPS,
        "preset": PRESET,
        "bare_loop_seconds": round(loop_seconds, 2),
        "cluster_seconds": round(busy, 2),
        "ratio": round(busy / loop_seconds, 3),
        "cluster_seconds_including_start_and_scan": round(float(result["launch_to_last_end_seconds"]), 2),
        "gap_ms_median": round(statistics.median(gaps), 1) if gaps else None,
        "gap_ms_p95": round(sorted(gaps)[int(0.95 * (len(gaps) - 1))], 1) if gaps else None,
        "gap_ms_max": round(max(gaps), 1) if gaps else None,
    }
    (OUT / "overhead.json").write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"\noverhead: {CLIPS} clips, libx265 -preset {PRESET}\n"
        f"  bare ffmpeg loop          {loop_seconds:8.2f} s\n"
        f"  cluster (first start → last end) {busy:8.2f} s   ratio {busy / loop_seconds:.3f} (goal ≤ 1.05)\n"
        f"  cluster incl. start-up and scan  {report['cluster_seconds_including_start_and_scan']:8.2f} s\n"
        f"  gap between jobs on the node: median {report['gap_ms_median']} ms, p95 {report['gap_ms_p95']} ms, "
        f"max {report['gap_ms_max']} ms\n"
        f"  written to {OUT / 'overhead.json'}"
    )
