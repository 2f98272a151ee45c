"""One file encoded in segments on two one-core nodes against the whole of it on one: the first proof of
issue 19, with the encoder's own building blocks (``chunks``, ``chunk_join``) and no bus.

A long file (``BENCH_CHUNKED_SECONDS``, 240) is made at the start from the shared footage: Big Buck Bunny and
the cyclists (brought to 1280x720, bars above and below), alternated, each pair once as it is and once
mirrored (a 27.6 s cycle, so that the joins fall at different places in it), looped; H.264 (veryfast, CRF 18,
a keyframe at least every 48 frames, and at scene cuts) with the cartoon's soundtrack looped as AAC.

- Single: the whole file through the single-node argv (``ffmpeg.build_argv``), libx265 at the 720p tier's
  level and ``BENCH_CHUNKED_PRESET`` (``fast``: the default ``medium`` would take about twice as long), on
  core 0 alone (``taskset -c 0``).
- Chunked: the plan (``chunks.plan``, segments of about ``BENCH_CHUNKED_SEGMENT`` seconds, 30, each starting
  on a keyframe), two workers, one on core 0 and one on core 1, each taking the next segment from a shared
  queue (``chunks.encode_argv``), then the join (``chunk_join.join_argv``: the segments' video and the
  source's audio, copied once) and the decode-free seam check against the source's frame count. Its time
  runs from reading the source's keyframes to the end of the join.

Both sides give x265 one worker thread and one frame thread (``pools=1:frame-threads=1``; ``taskset`` keeps
each ffmpeg on its core in any case, this keeps x265 from running threads that would only take turns on it,
and makes its frame threading, which affects compression, the same on both sides).

Reports the wall times and the speed-up (goal ≥ 1.8, 0.9 per node), the CPU seconds of each side, the outputs'
sizes and their ratio, the video streams' alone too (goal: within 2%, judged on the video, the audio being
the same copy in both), VMAF of each output against the source (``vmaf.measure_segments``, goal: within one
point) and in a window across each join, on both outputs (where a segment's fresh start would show), the
seam report (goal: clean), each segment's node and time, and the join's own time; and the CPU time other
processes took meanwhile (from ``/proc/stat``: a run on a busy machine says so). Not measured here yet
(issue 19's proof asks for them): segments as work items over the bus, a node that does not see the library,
and a node killed in the middle of a segment.

Saves ``bench/out/chunked.json`` and ``chunked.txt``. About 11 minutes on two quiet cores.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import av
import imageio_ffmpeg
import msgspec
from librarrarian_contracts import MediaProbe
from librarrarian_contracts.settings import EncoderFamily, TranscodeSettings
from librarrarian_contracts.topology import HwClass
from librarrarian_encoder import chunk_join, chunks, ffmpeg, vmaf
from librarrarian_encoder.chunks import Segment
from librarrarian_encoder.profiles import Profile, profile_for
from librarrarian_media import probe

from .load.figures import table

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("LIBRARRARIAN_SHARED_MEDIA", ROOT.parent / "shared" / "media"))
OUT = ROOT / "bench" / "out"
SECONDS = float(os.environ.get("BENCH_CHUNKED_SECONDS", "240"))
SEGMENT_SECONDS = float(os.environ.get("BENCH_CHUNKED_SEGMENT", "30"))
PRESET = os.environ.get("BENCH_CHUNKED_PRESET", "fast")
FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()  # the static build: libx265 and libvmaf


def _x265() -> Profile:
    profile = profile_for(HwClass.CPU, "hevc")
    assert profile is not None  # the CPU class always has an HEVC encoder
    return profile


PROFILE = _x265()
WIDTH, HEIGHT = 1280, 720
QUALITY = msgspec.structs.replace(
    TranscodeSettings().quality_for(EncoderFamily.X265, WIDTH, HEIGHT), preset=PRESET
)
CORES = (0, 1)  # one node per core; the single node has the first
ONE_THREAD = "pools=1:frame-threads=1"
JOIN_WINDOW = 2.0  # seconds of the VMAF window across each join, centred on it
# The goals.
SPEEDUP = 1.8
SIZE_SHARE = 0.02
VMAF_POINTS = 1.0

BUNNY = SHARED / "bigbuckbunny.mp4"  # 1280x720, 5.3 s, 25 fps, AAC
BIKES = SHARED / "bikes.mp4"  # 640x272, 10 s, 25 fps, no audio


# The source -------------------------------------------------------------------------------------------------


def run(*argv: str | Path) -> None:
    subprocess.run([str(a) for a in argv], check=True, stdin=subprocess.DEVNULL)


def make_source(folder: Path, seconds: float = SECONDS) -> Path:
    """The long H.264 + AAC original. A 27.6 s cycle is made first (the two clips, then both mirrored, the
    cyclists' cut to 7 s, joined by the concat filter: each clip is a separate input, decoded as the filter
    reaches it, rather than one input split and held in memory), then looped to the length and encoded as the
    original. The cycle's length is no divisor of the segments' (a 30.6 s one made every join fall at the
    same point of it, a scene cut, where x265 starts afresh anyway): the joins land at different places in
    the pictures, most of them inside a scene."""
    cycle = folder / "cycle.mkv"
    fit = f"scale={WIDTH}:-2:flags=lanczos,pad={WIDTH}:{HEIGHT}:(ow-iw)/2:(oh-ih)/2"
    parts = [("0:v", "null"), ("1:v", fit), ("2:v", "hflip"), ("3:v", f"{fit},hflip,trim=duration=7")]
    graph = ";".join(f"[{label}]{vf},setsar=1,format=yuv420p[p{i}]" for i, (label, vf) in enumerate(parts))
    graph += ";" + "".join(f"[p{i}]" for i in range(len(parts))) + f"concat=n={len(parts)}:v=1:a=0[v]"
    run(FFMPEG, "-hide_banner", "-v", "error", "-y", "-i", BUNNY, "-i", BIKES, "-i", BUNNY, "-i", BIKES,
        "-filter_complex", graph, "-map", "[v]", "-c:v", "libx264", "-preset", "veryfast", "-crf", "10",
        cycle)  # fmt: skip
    source = folder / "source.mp4"
    run(FFMPEG, "-hide_banner", "-v", "error", "-y", "-stream_loop", "-1", "-i", cycle,
        "-stream_loop", "-1", "-i", BUNNY, "-map", "0:v", "-map", "1:a", "-t", f"{seconds:g}",
        "-r", "25", "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-g", "48",
        "-c:a", "aac", "-b:a", "128k", source)  # fmt: skip
    cycle.unlink()
    return source


# Running pinned ---------------------------------------------------------------------------------------------


def one_thread(argv: list[str]) -> list[str]:
    """``argv`` with ``ONE_THREAD`` added to its x265 parameters (one ``-x265-params`` only: a second one
    would replace the profile's, not add to it); an argv without x265 (the join) as it is."""
    if "-x265-params" not in argv:
        return argv
    at = argv.index("-x265-params") + 1
    return [*argv[:at], f"{argv[at]}:{ONE_THREAD}", *argv[at + 1 :]]


async def run_pinned(core: int, argv: list[str]) -> float:
    """Runs ``argv`` on ``core`` alone; its wall time. ``-progress pipe:1`` goes nowhere."""
    began = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        "taskset", "-c", str(core), *one_thread(argv),
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    _, stderr = await process.communicate()
    if process.returncode != 0:
        tail = stderr.decode(errors="replace").strip().splitlines()[-3:]
        raise RuntimeError(f"ffmpeg on core {core} exited {process.returncode}: {' | '.join(tail)}")
    return time.monotonic() - began


@dataclass(frozen=True)
class Usage:
    """CPU seconds so far: this process's finished children's (the encodes: its only children meanwhile),
    its own, and the whole machine's busy time (``/proc/stat``, every CPU)."""

    children: float
    own: float
    machine: float

    @classmethod
    def now(cls) -> Usage:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        own = resource.getrusage(resource.RUSAGE_SELF)
        # user nice system idle iowait irq softirq steal …: busy is all but idle and iowait.
        ticks = [int(t) for t in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        busy = sum(ticks) - ticks[3] - ticks[4]
        return cls(
            children=children.ru_utime + children.ru_stime,
            own=own.ru_utime + own.ru_stime,
            machine=busy / os.sysconf("SC_CLK_TCK"),
        )

    def since(self, before: Usage) -> tuple[float, float]:
        """Our encodes' CPU seconds since ``before``, and the other processes' (the machine's busy time less
        ours): a timing is only as good as the machine was quiet."""
        ours = self.children - before.children
        others = self.machine - before.machine - ours - (self.own - before.own)
        return round(ours, 1), round(max(0.0, others), 1)


# Single and chunked -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Single:
    seconds: float
    cpu_seconds: float
    other_cpu_seconds: float  # what other processes ran meanwhile


async def single(source: Path, probed: MediaProbe, out: Path) -> Single:
    before = Usage.now()
    seconds = await run_pinned(CORES[0], ffmpeg.build_argv(FFMPEG, source, out, probed, PROFILE, QUALITY))
    return Single(round(seconds, 1), *Usage.now().since(before))


@dataclass(frozen=True)
class Done:
    """One encoded segment: which node (core) took it, when (seconds from the phase's start), how long."""

    index: int
    start: float
    length: float | None
    core: int
    began: float
    seconds: float
    bytes: int


@dataclass(frozen=True)
class Chunked:
    seconds: float  # from reading the keyframes to the end of the join
    cpu_seconds: float
    other_cpu_seconds: float
    plan_seconds: float
    encode_seconds: float  # from the first segment's start to the last one's end
    join_seconds: float
    segments: list[Done]
    joins: list[float]  # where the segments meet, in seconds from the first one's start
    seams: chunk_join.SeamReport


async def worker(
    core: int,
    queue: asyncio.Queue[Segment],
    source: Path,
    container: str | None,
    scratch: Path,
    t0: float,
    done: list[Done],
) -> None:
    """A node: takes the next segment until none is left."""
    while not queue.empty():
        segment = queue.get_nowait()
        out = scratch / chunks.segment_name(segment)
        argv = chunks.encode_argv(FFMPEG, source, segment, PROFILE, QUALITY, out, container=container)
        began = time.monotonic() - t0
        seconds = await run_pinned(core, argv)
        length = None if segment.duration is None else round(segment.duration, 3)
        done.append(
            Done(
                index=segment.index,
                start=round(segment.start, 3),
                length=length,
                core=core,
                began=round(began, 1),
                seconds=round(seconds, 1),
                bytes=out.stat().st_size,
            )
        )


async def chunked(source: Path, probed: MediaProbe, out: Path, scratch: Path) -> Chunked:
    before = Usage.now()
    t0 = time.monotonic()
    line = chunks.timeline(source)
    plan = chunks.plan(line.keyframes, probed.duration, SEGMENT_SECONDS)
    planned = time.monotonic()
    queue: asyncio.Queue[Segment] = asyncio.Queue()
    for segment in plan:
        queue.put_nowait(segment)
    done: list[Done] = []
    await asyncio.gather(*(worker(c, queue, source, probed.container, scratch, t0, done) for c in CORES))
    encoded = time.monotonic()
    segments = [scratch / chunks.segment_name(s) for s in plan]
    argv = chunk_join.join_argv(FFMPEG, segments, source, out, plan=plan, probe=probed, scratch=scratch)
    await run_pinned(CORES[0], argv)  # copies only: one core is plenty
    end = time.monotonic()
    ours, others = Usage.now().since(before)
    joins = chunk_join.join_times(plan)
    report = chunk_join.seams(out, joins, expected_frames=line.frames)
    return Chunked(
        seconds=round(end - t0, 1),
        cpu_seconds=ours,
        other_cpu_seconds=others,
        plan_seconds=round(planned - t0, 2),
        encode_seconds=round(encoded - planned, 1),
        join_seconds=round(end - encoded, 2),
        segments=sorted(done, key=lambda d: d.index),
        joins=joins,
        seams=report,
    )


# Measures ---------------------------------------------------------------------------------------------------


def video_bytes(path: Path) -> int:
    """The main video stream's bytes, by its packets."""
    with av.open(str(path)) as container:
        stream = chunks.main_video(container)
        assert stream is not None
        return sum(p.size for p in container.demux(stream) if p.size)


def whole_vmaf(source: Path, output: Path, duration: float | None) -> vmaf.Score:
    score = vmaf.measure_segments(FFMPEG, source, output, duration)
    if score is None:
        raise RuntimeError(f"{output.name}: VMAF could not be measured")
    return score


def window_vmaf(source: Path, output: Path, at: float, scratch: Path) -> float:
    """The mean VMAF of every frame in ``JOIN_WINDOW`` seconds around ``at``: the frames just before a join,
    those just after it, encoded from a fresh start in the chunked output (every frame scored, not one in
    ``vmaf.SUBSAMPLE``: the window is short and the frames at the join are the point)."""
    log_path = str(scratch / "join-vmaf.json")
    argv = vmaf.argv(FFMPEG, output, source, max(0.0, at - JOIN_WINDOW / 2), length=JOIN_WINDOW,
                     subsample=1, log_path=log_path)  # fmt: skip
    subprocess.run(argv, check=True, capture_output=True, stdin=subprocess.DEVNULL)
    frames = vmaf.frame_scores(Path(log_path).read_text())
    return round(sum(frames) / len(frames), 2)


def join_rows(
    source: Path, single_out: Path, chunked_out: Path, joins: list[float], scratch: Path
) -> list[dict[str, Any]]:
    rows = []
    for at in joins:
        one, two = window_vmaf(source, single_out, at, scratch), window_vmaf(source, chunked_out, at, scratch)
        rows.append(
            {"join s": round(at, 2), "VMAF single": one, "VMAF chunked": two, "diff": round(two - one, 2)}
        )
    return rows


# The report -------------------------------------------------------------------------------------------------


NOT_QUIET = " (NOT a quiet machine: the times are not to be trusted)"
QUIET_SHARE = 0.05  # other processes' CPU at most this share of the cores' time for a run to count as quiet


def quiet(run: dict[str, Any]) -> bool:
    return bool(run["other_cpu_seconds"] <= QUIET_SHARE * run["seconds"] * len(CORES))


def mb(n: float) -> str:
    return f"{n / 1e6:.2f} MB"


def score(s: dict[str, Any]) -> str:
    return f"{s['mean']}/{s['low']}/{s['worst']}"


def goals(doc: dict[str, Any]) -> list[tuple[str, bool, str]]:
    speedup, size, score = doc["speedup"], doc["sizes"]["video_ratio"], doc["vmaf"]
    seams = doc["chunked"]["seams"]
    return [
        (f"speed-up ≥ {SPEEDUP} ({SPEEDUP / len(CORES):.2f} per node)", speedup >= SPEEDUP,
         f"{speedup:.2f} × ({speedup / len(CORES):.2f} per node)"),
        (f"video size within {SIZE_SHARE:.0%} of the single encode", abs(size - 1) <= SIZE_SHARE,
         f"{(size - 1) * 100:+.2f}% (whole file {(doc['sizes']['file_ratio'] - 1) * 100:+.2f}%)"),
        (f"VMAF within {VMAF_POINTS:g} point", abs(score["diff"]) <= VMAF_POINTS,
         f"{score['single']['mean']} single, {score['chunked']['mean']} chunked ({score['diff']:+.2f})"),
        ("no seam", not seams["problems"],
         f"{seams['frames']} frames of {seams['expected_frames']}, {len(seams['joins'])} joins"
         + (": " + "; ".join(seams["problems"]) if seams["problems"] else ", every gap one frame")),
    ]  # fmt: skip


def text(doc: dict[str, Any]) -> str:
    one, many, sizes = doc["single"], doc["chunked"], doc["sizes"]
    segments = [
        {"segment": d["index"], "start s": d["start"], "length s": d["length"] or "to the end",
         "core": d["core"], "began s": d["began"], "encode s": d["seconds"], "MB": round(d["bytes"] / 1e6, 2)}
        for d in many["segments"]
    ]  # fmt: skip
    alone, shared = (
        f"single (core {CORES[0]}):",
        f"chunked ({len(CORES)} nodes, cores {', '.join(map(str, CORES))}):",
    )
    width = max(len(alone), len(shared))
    lines = [
        f"chunked: a {doc['source']['seconds']:g} s {WIDTH}x{HEIGHT} H.264 + AAC original "
        f"({doc['source']['frames']} frames, {doc['source']['keyframes']} keyframes), libx265 "
        f"CRF {QUALITY.level} -preset {PRESET}, x265 {ONE_THREAD}; one node = one core (taskset)",
        "",
        f"  {alone:<{width}} {one['seconds']:7.1f} s wall, {one['cpu_seconds']:.1f} CPU s",
        f"  {shared:<{width}} {many['seconds']:7.1f} s wall, "
        f"{many['cpu_seconds']:.1f} CPU s (plan {many['plan_seconds']:.2f} s, encodes "
        f"{many['encode_seconds']:.1f} s, join {many['join_seconds']:.2f} s)",
        f"  speed-up {doc['speedup']:.2f} × ({doc['speedup'] / len(CORES):.2f} per node)",
        f"  other processes meanwhile: {one['other_cpu_seconds']:.1f} CPU s during the single encode, "
        f"{many['other_cpu_seconds']:.1f} during the chunked one" + ("" if doc["quiet"] else NOT_QUIET),
        f"  sizes: single {mb(sizes['single_file'])} (video {mb(sizes['single_video'])}), chunked "
        f"{mb(sizes['chunked_file'])} (video {mb(sizes['chunked_video'])}); ratio {sizes['file_ratio']:.4f} "
        f"(video {sizes['video_ratio']:.4f})",
        f"  VMAF mean/low/worst (vmaf.measure_segments): single {score(doc['vmaf']['single'])}, chunked "
        f"{score(doc['vmaf']['chunked'])}",
        "",
        f"{len(segments)} segments of about {SEGMENT_SECONDS:g} s, each on the first node free:",
        table(segments),
        "",
        f"VMAF over {JOIN_WINDOW:g} s across each join, every frame:",
        table(doc["joins"]),
        "",
        "goals:",
        *(f"  {'met    ' if met else 'NOT met'}  {goal}: {detail}" for goal, met, detail in doc["goals"]),
        "",
        "not in this bench yet (issue 19's proof): segments as work items over the bus, a node that does not",
        "see the library (bytes moved, transfer overhead), kill -9 of a node in the middle of a segment.",
        "",
        f"  {doc['seconds']:.0f} s in all (making the original {doc['source']['make_seconds']:.0f} s)",
    ]
    return "\n".join(lines)


async def main() -> None:
    if not vmaf.available(FFMPEG):
        raise SystemExit(f"{FFMPEG} has no libvmaf")
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-chunked-") as tmp:
        folder = Path(tmp)
        print(f"chunked: making a {SECONDS:g} s original …", flush=True)
        source = make_source(folder)
        made = time.monotonic() - began
        probed = probe(source)
        line = chunks.timeline(source)
        print(f"chunked: the whole file on core {CORES[0]} (-preset {PRESET}) …", flush=True)
        single_out = folder / "single.mkv"
        one = await single(source, probed, single_out)
        print(f"  {one.seconds:.1f} s", flush=True)
        print(f"chunked: segments on cores {', '.join(map(str, CORES))}, then the join …", flush=True)
        scratch = folder / "scratch"
        scratch.mkdir()
        chunked_out = folder / "chunked.mkv"
        many = await chunked(source, probed, chunked_out, scratch)
        print(
            f"  {many.seconds:.1f} s ({len(many.segments)} segments, join {many.join_seconds:.2f} s)",
            flush=True,
        )
        print("chunked: VMAF of both outputs, and across each join …", flush=True)
        scores = {"single": whole_vmaf(source, single_out, probed.duration),
                  "chunked": whole_vmaf(source, chunked_out, probed.duration)}  # fmt: skip
        joins = join_rows(source, single_out, chunked_out, many.joins, folder)
        sizes: dict[str, float] = {
            "single_file": single_out.stat().st_size,
            "single_video": video_bytes(single_out),
            "chunked_file": chunked_out.stat().st_size,
            "chunked_video": video_bytes(chunked_out),
        }
    sizes["file_ratio"] = round(sizes["chunked_file"] / sizes["single_file"], 4)
    sizes["video_ratio"] = round(sizes["chunked_video"] / sizes["single_video"], 4)
    doc: dict[str, Any] = {
        "when": datetime.now().isoformat(timespec="seconds"),
        "command": "python -m bench chunked",
        "ffmpeg": FFMPEG,
        "encoder": PROFILE.encoder,
        "quality": msgspec.to_builtins(QUALITY),
        "x265_params": ONE_THREAD,
        "cores": list(CORES),
        "segment_seconds": SEGMENT_SECONDS,
        "source": {
            "seconds": SECONDS,
            "frames": line.frames,
            "keyframes": len(line.keyframes),
            "make_seconds": round(made, 1),
        },
        "single": asdict(one),
        "chunked": asdict(many),
        "speedup": round(one.seconds / many.seconds, 3),
        "sizes": sizes,
        "vmaf": {
            **{k: asdict(v) for k, v in scores.items()},
            "diff": round(scores["chunked"].mean - scores["single"].mean, 2),
        },
        "joins": joins,
        "not_yet": [
            "segments as work items over the bus",
            "a node without the library",
            "kill -9 of a node in the middle of a segment",
        ],
        "seconds": round(time.monotonic() - began, 1),
    }
    doc["chunked"]["seams"]["clean"] = many.seams.clean
    doc["quiet"] = quiet(doc["single"]) and quiet(doc["chunked"])
    doc["goals"] = goals(doc)
    report = text(doc)
    print("\n" + report)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "chunked.json").write_text(json.dumps(doc, indent=2) + "\n")
    (OUT / "chunked.txt").write_text(report + "\n")
    print(f"\nsaved {OUT / 'chunked.json'} and .txt")
