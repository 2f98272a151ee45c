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
import resource
import shutil
import signal
import statistics
import subprocess
import sys
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
from librarrarian_embedded.nats_server import free_port
from librarrarian_encoder import binaries, ffmpeg
from librarrarian_encoder.profiles import PROFILES
from librarrarian_media import probe
from librarrarian_media.ffmpeg_builds import candidates
from librarrarian_testing import transcode
from librarrarian_testing.clips import ffmpeg as run_ffmpeg

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("LIBRARRARIAN_SHARED_MEDIA", ROOT.parent / "shared" / "media"))
OUT = ROOT / "bench" / "out"
CLIPS = int(os.environ.get("BENCH_CLIPS", "20"))
LOOP_CPU_SECONDS = 0.0
PRESET = os.environ.get("BENCH_PRESET", "fast")
CRF = 22
# Every output is kept (as in the loop), so both sides do the same work.
SETTINGS = transcode.fastest(x265_preset=PRESET, max_output_percent=1000)
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


TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def _role(pid: int) -> str:
    """A process of the cluster by what it runs: a service, nats-server, postgres, or the supervisor."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "gone"
    if found := re.search(r"librarrarian_(\w+)", cmdline):
        return found.group(1)
    for name in ("nats-server", "postgres"):
        if name in cmdline:
            return name
    return "up" if " up " in cmdline else "other"


def cpu_by_role(root: int) -> dict[str, float]:
    """CPU seconds used so far by every process under ``root``, summed per role; the ffmpeg processes an
    encoder has reaped count as ``ffmpeg`` (its children's time)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                children.setdefault(int(_stat(int(entry.name))[1]), []).append(int(entry.name))
            except (OSError, IndexError):
                continue
    totals: dict[str, float] = {}
    stack = [root]
    while stack:
        pid = stack.pop()
        stack.extend(children.get(pid, []))
        try:
            fields = _stat(pid)
        except OSError:
            continue
        role = _role(pid)
        own = (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime
        totals[role] = totals.get(role, 0.0) + own
        if role == "encoder":
            totals["ffmpeg"] = totals.get("ffmpeg", 0.0) + (int(fields[13]) + int(fields[14])) / TICKS
    return totals


def bare_loop(clips: list[Path], scratch: Path) -> float:
    """The same argv the encoder builds, one after another, output discarded."""
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
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    global LOOP_CPU_SECONDS
    LOOP_CPU_SECONDS = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return time.perf_counter() - started


async def cluster(clips: list[Path], work: Path) -> dict[str, object]:
    media, data = work / "media", work / "data"
    media.mkdir()  # empty until the settings are in place; the watch then picks the clips up
    env = {k: v for k, v in os.environ.items() if k not in {"NATS_URL", "DATABASE_URL"}}
    # Every output is kept (as in the loop), so both sides do the same work.
    env.update(
        {
            "SLOTS": "1",
            "LOG_LEVEL": "WARNING",
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
        url = f"nats://librarrarian:{password}@127.0.0.1:{port.group(1)}"
        for _ in range(200):  # the config is written before the server listens
            try:
                nc = await nats.connect(url, max_reconnect_attempts=0)
                break
            except (OSError, nats.errors.NoServersError):
                await asyncio.sleep(0.05)
        else:
            raise RuntimeError("the cluster's NATS server never started listening")
        js = nc.jetstream()
        while True:
            try:
                await transcode.put(js, SETTINGS)
                break
            except nats.js.errors.ServiceUnavailableError:
                await asyncio.sleep(0.05)  # JetStream is still starting
        for clip in clips:
            shutil.copy2(clip, media / clip.name)
        events: list[JobReport] = []
        done = asyncio.Event()
        cpu: dict[str, dict[str, float]] = {}

        async def on_event(msg: nats.aio.msg.Msg) -> None:
            events.append(job_decoder.decode(msg.data))
            if len(events) == 1:
                cpu["start"] = cpu_by_role(up.pid)
            if sum(not isinstance(e, JobStarted) for e in events) >= len(clips):
                cpu["end"] = cpu_by_role(up.pid)
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
        "cpu_seconds": {
            role: round(cpu["end"].get(role, 0.0) - cpu["start"].get(role, 0.0), 2)
            for role in sorted(cpu["end"])
        },
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
        "bare_loop_ffmpeg_cpu_seconds": round(LOOP_CPU_SECONDS, 2),
        "cluster_cpu_seconds_by_process": result["cpu_seconds"],
    }
    (OUT / "overhead.json").write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"\noverhead: {CLIPS} clips, libx265 -preset {PRESET}\n"
        f"  bare ffmpeg loop          {loop_seconds:8.2f} s\n"
        f"  cluster (first start → last end) {busy:8.2f} s   ratio {busy / loop_seconds:.3f} (goal ≤ 1.05)\n"
        f"  cluster incl. start-up and scan  {report['cluster_seconds_including_start_and_scan']:8.2f} s\n"
        f"  gap between jobs on the node: median {report['gap_ms_median']} ms, p95 {report['gap_ms_p95']} ms, "
        f"max {report['gap_ms_max']} ms\n"
        f"  CPU seconds: bare loop ffmpeg {LOOP_CPU_SECONDS:.2f}; cluster {report['cluster_cpu_seconds_by_process']}\n"
        f"  written to {OUT / 'overhead.json'}"
    )
