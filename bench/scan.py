"""The scanner at library scale, each figure next to its baseline in the same run.

1. First scan of 10,000 files: files probed per second by the scanner (in-process PyAV, PROBE_WORKERS
   threads) against one probe process per file (``ffprobe`` when on PATH, else ``ffmpeg -i``), as many at
   once. Goal ≥ 50×. The baseline's rate is measured on a sample of the same files (a process per file costs
   the same whatever the library's size; 10,000 of them would take most of the bench's time).
2. Rescan of unchanged files, 100,000 (goal ≤ 1 s, ≤ 150 MB peak RSS) and 1,000,000 (≤ 10 s, ≤ 1 GB): a
   tree of empty ``.mkv`` files, a hundred to a folder, catalogued as a finished first scan leaves them. Two
   scans in one scanner process: the first after a start (it reads the catalogue into memory), the second
   the steady state of a running scanner. Baseline: a bare ``os.scandir`` walk with a ``stat`` of every file
   of the same tree (the floor), as a ratio.
3. First scan of 100,000 new files to jobs (goal ≤ 5 minutes end to end): distinct copies of a tiny real
   clip, probed, published, turned into jobs of record by a running scheduler and queued on the WORK
   stream; files per second for each stage, so the slowest is named.
4. Watch: time from a new file appearing in the library to its transcode job being queued (goal ≤ the
   settle time + 0.5 s, with the default settle time of 2 s).

``BENCH_SCAN_PARTS`` (default ``first,rescan,watch,jobs``) and the ``BENCH_*`` sizes below choose what runs.
``BENCH_SCAN_PROFILE=1`` writes a cProfile of the scanner's part of each stage to ``bench/out/``.
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import json
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import nats
from librarrarian_contracts import provision, topology
from librarrarian_contracts.codec import work_decoder
from librarrarian_embedded import NatsServer, PostgresServer
from librarrarian_media.ffmpeg_builds import candidates
from nats.aio.client import Client

from bench.scan_library import distinct_library, empty_library, linked_library, stat_walk, tiny_clip

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("LIBRARRARIAN_SHARED_MEDIA", ROOT.parent / "shared" / "media"))
OUT = ROOT / "bench" / "out"
PARTS = os.environ.get("BENCH_SCAN_PARTS", "first,rescan,watch,jobs").split(",")
FIRST_SCAN_FILES = int(os.environ.get("BENCH_FIRST_SCAN_FILES", "10000"))
BASELINE_SAMPLE = int(os.environ.get("BENCH_BASELINE_SAMPLE", "1000"))
RESCAN_SIZES = [int(n) for n in os.environ.get("BENCH_RESCAN_FILES", "100000,1000000").split(",")]
JOBS_FILES = int(os.environ.get("BENCH_JOBS_FILES", "100000"))
JOBS_DEADLINE = float(os.environ.get("BENCH_JOBS_DEADLINE", "600"))  # give up waiting after this long
PROFILE = os.environ.get("BENCH_SCAN_PROFILE") == "1"
WORKERS = 2
SETTLE_SECONDS = 2.0
GOALS = {
    "first_scan_ratio": 50.0,
    "rescan_100k_seconds": 1.0,
    "rescan_100k_mb": 150.0,
    "rescan_1m_seconds": 10.0,
    "rescan_1m_mb": 1024.0,
    "jobs_100k_seconds": 300.0,
    "watch_seconds": SETTLE_SECONDS + 0.5,
}


def process_per_file(paths: list[Path]) -> tuple[float, str]:
    """The baseline: one probe process per file, WORKERS at a time."""
    ffprobe = shutil.which("ffprobe")
    if ffprobe:
        tool = "ffprobe"

        def argv(p: Path) -> list[str]:
            return [ffprobe, "-v", "error", "-show_format", "-show_streams", "-of", "json", str(p)]
    else:
        binary = candidates()[0].path
        tool = "ffmpeg -i (no ffprobe on PATH)"

        def argv(p: Path) -> list[str]:
            return [binary, "-hide_banner", "-i", str(p)]

    started = time.perf_counter()
    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(lambda p: subprocess.run(argv(p), capture_output=True, check=False), paths))
    return time.perf_counter() - started, tool


# The scanner in a process of its own, so its peak memory is its own. It runs ``scans`` scans one after the
# other, and times the stages of the pipeline (probe threads, publishes, catalogue writes) as busy seconds:
# they overlap, so each stage's files per second is the files over its own busy time.
SCAN_CHILD = """
import asyncio, cProfile, io, json, pstats, resource, sys, time
from pathlib import Path
import nats
from librarrarian_runtime.migrations import connect_and_migrate
from librarrarian_scanner import batches, catalogue
from librarrarian_scanner.probe import Prober
from librarrarian_scanner.scan import Scanner

busy = {{"probe": 0.0, "deliver": 0.0, "record": 0.0}}

def timed(stage, function):
    async def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return await function(*args, **kwargs)
        finally:
            busy[stage] += time.perf_counter() - started
    return wrapper

Prober.examine_all = timed("probe", Prober.examine_all)
batches.Batches._deliver = timed("deliver", batches.Batches._deliver)
catalogue.record_many = timed("record", catalogue.record_many)

async def main(nats_url, db_url, root, scans, profile_to):
    nc = await nats.connect(nats_url)
    pool = await connect_and_migrate(db_url, "scanner", "librarrarian_scanner.migrations")
    scanner = Scanner(pool, nc.jetstream(), (Path(root),), Prober({workers}, 30))
    results = []
    for i in range(int(scans)):
        profiler = cProfile.Profile() if profile_to and i == int(scans) - 1 else None
        started, cpu = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        result = await scanner.scan()
        if profiler:
            profiler.disable()
            text = io.StringIO()
            pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(25)
            Path(profile_to).write_text(text.getvalue())
        results.append({{"seconds": time.perf_counter() - started, "cpu_seconds": time.process_time() - cpu,
                        "seen": result.seen, "probed": result.probed,
                        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                        "busy_seconds": dict(busy)}})
    await pool.close(); await nc.close()
    print(json.dumps(results))

asyncio.run(main(*sys.argv[1:]))
"""


def scan_in_child(
    nats_url: str, db_url: str, root: Path, scans: int = 1, profile: str = ""
) -> list[dict[str, Any]]:
    code = SCAN_CHILD.format(workers=WORKERS)
    out = subprocess.run(
        [sys.executable, "-c", code, nats_url, db_url, str(root), str(scans), profile],
        capture_output=True,
        text=True,
        check=True,
    )
    results: list[dict[str, Any]] = json.loads(out.stdout.strip().splitlines()[-1])
    return results


def profile_path(name: str) -> str:
    return str(OUT / f"scan-profile-{name}.txt") if PROFILE else ""


async def fresh_database(admin_url: str, name: str) -> str:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return admin_url.replace("/postgres?", f"/{name}?")


async def seed_catalogue(db_url: str, root: Path, files: list[tuple[str, int, int, int, int]]) -> None:
    """Fill the catalogue as a finished first scan would have: one row per file, with the identity the scan
    compares (size, mtime, inode, links)."""
    from librarrarian_runtime.migrations import connect_and_migrate

    pool = await connect_and_migrate(db_url, "scanner", "librarrarian_scanner.migrations")
    try:
        library = str(root)
        async with pool.acquire() as conn:
            await conn.copy_records_to_table(
                "files",
                schema_name="scanner",
                records=(
                    (p, library, size, mtime, inode, "ok", links) for p, size, mtime, inode, links in files
                ),
                columns=["path", "library", "size", "mtime_ns", "inode", "status", "links"],
            )
    finally:
        await pool.close()


async def first_scan(work: Path, nats_url: str, admin_url: str) -> dict[str, Any]:
    print(f"scan: first scan of {FIRST_SCAN_FILES:,} files vs one probe process per file …", flush=True)
    root = (work / "first").resolve()
    linked_library(root, [SHARED / "bigbuckbunny.mp4", SHARED / "bikes.mp4"], FIRST_SCAN_FILES)
    paths = sorted(p for p in root.rglob("*") if p.is_file())
    step = max(1, len(paths) // BASELINE_SAMPLE)
    sample = paths[::step][:BASELINE_SAMPLE]
    # Half the baseline before the scan and half after: on a shared machine the load moves, and both sides
    # should see the same mix of it.
    before, tool = process_per_file(sample[::2])
    db = await fresh_database(admin_url, "first")
    (scan,) = scan_in_child(nats_url, db, root, profile=profile_path("first"))
    after, _ = process_per_file(sample[1::2])
    baseline_seconds = before + after
    assert scan["probed"] == FIRST_SCAN_FILES, scan
    ours = FIRST_SCAN_FILES / scan["seconds"]
    base = len(sample) / baseline_seconds
    shutil.rmtree(root)
    return {
        "files": FIRST_SCAN_FILES,
        "workers": WORKERS,
        "scanner_seconds": round(scan["seconds"], 2),
        "scanner_files_per_second": round(ours, 1),
        "baseline": tool,
        "baseline_sample": len(sample),
        "baseline_files_per_second": round(base, 1),
        "ratio": round(ours / base, 2),
        "goal_ratio": GOALS["first_scan_ratio"],
    }


async def rescan(work: Path, nats_url: str, admin_url: str, count: int) -> dict[str, Any]:
    print(f"scan: rescan of {count:,} unchanged files …", flush=True)
    root = (work / f"rescan-{count}").resolve()
    started = time.perf_counter()
    empty_library(root, count)
    made = time.perf_counter() - started
    floors, floor_cpu = [], []
    started, cpu = time.perf_counter(), time.process_time()
    files = stat_walk(root)
    floors.append(time.perf_counter() - started)
    floor_cpu.append(time.process_time() - cpu)
    db = await fresh_database(admin_url, f"rescan{count}")
    await seed_catalogue(db, root, files)
    del files
    after_start, steady = scan_in_child(nats_url, db, root, scans=2, profile=profile_path(f"rescan-{count}"))
    started, cpu = time.perf_counter(), time.process_time()
    stat_walk(root)
    floors.append(time.perf_counter() - started)
    floor_cpu.append(time.process_time() - cpu)
    for scan in (after_start, steady):
        assert scan["probed"] == 0 and scan["seen"] == count, scan
    floor = min(floors)
    shutil.rmtree(root)
    big = count >= 1_000_000
    return {
        "files": count,
        "tree": f"{count:,} empty .mkv files, 100 a folder, made in {made:.1f} s",
        "steady_seconds": round(steady["seconds"], 3),
        "after_start_seconds": round(after_start["seconds"], 3),
        "steady_cpu_seconds": round(steady["cpu_seconds"], 3),
        "after_start_cpu_seconds": round(after_start["cpu_seconds"], 3),
        "peak_rss_mb": round(steady["peak_rss_mb"], 1),
        "baseline": "os.scandir walk + stat of every file (the floor)",
        "floor_seconds": [round(f, 3) for f in floors],
        "floor_cpu_seconds": [round(f, 3) for f in floor_cpu],
        "steady_cpu_vs_floor_cpu": round(steady["cpu_seconds"] / min(floor_cpu), 2),
        "steady_vs_floor": round(steady["seconds"] / floor, 2),
        "after_start_vs_floor": round(after_start["seconds"] / floor, 2),
        "goal_seconds": GOALS["rescan_1m_seconds" if big else "rescan_100k_seconds"],
        "goal_mb": GOALS["rescan_1m_mb" if big else "rescan_100k_mb"],
    }


async def scheduler_counts(nc: Client, sched: asyncpg.Connection, root: Path) -> tuple[int, int, int]:
    """Of the files under ``root``: jobs of record written by the scheduler, and of them the ones pending in
    its queue (what the dashboard's queue lists); and the transcodes released to the WORK stream, which
    holds only a window of the queue's head (the rest waits in the outbox, still reorderable)."""
    jobs, pending = await sched.fetchrow(
        "SELECT count(*), count(*) FILTER (WHERE status = 'pending') FROM scheduler.jobs"
        " WHERE starts_with(path, $1)",
        str(root) + "/",
    )
    info = await nc.jetstream().stream_info(topology.WORK.name)
    return int(jobs), int(pending), int(info.state.messages)


async def to_jobs(work: Path, nats_url: str, admin_url: str) -> dict[str, Any]:
    """A first scan of JOBS_FILES new files with the scheduler running: when every file is probed and
    published (the scan returns), when every job is written and when every transcode is queued."""
    from librarrarian_scheduler import service as scheduler_service
    from librarrarian_scheduler.settings import Settings as SchedulerSettings

    print(f"scan: first scan of {JOBS_FILES:,} new files to jobs …", flush=True)
    root = (work / "jobs").resolve()
    clip = tiny_clip(work / "tiny.mp4")
    started = time.perf_counter()
    distinct_library(root, clip, JOBS_FILES, old_ns=time.time_ns() - 3_600 * 10**9)
    made = time.perf_counter() - started
    db = await fresh_database(admin_url, "jobs")
    stopping = asyncio.Event()
    scheduler = asyncio.create_task(
        scheduler_service.run(SchedulerSettings(nats_url=nats_url, database_url=db), stopping)
    )
    nc = await nats.connect(nats_url)
    sched = await asyncpg.connect(db)
    try:
        await asyncio.sleep(2)  # the scheduler's migrations and consumers
        started = time.perf_counter()
        scanning = asyncio.create_task(
            asyncio.to_thread(scan_in_child, nats_url, db, root, 1, profile_path("jobs"))
        )
        jobs_at = None
        jobs = pending = released = 0
        # The scheduler runs in this process: its profile, when asked for, is this process's.
        profiler = cProfile.Profile() if PROFILE else None
        if profiler:
            profiler.enable()
        while time.perf_counter() - started < JOBS_DEADLINE:
            await asyncio.sleep(0.5)
            jobs, pending, released = await scheduler_counts(nc, sched, root)
            if jobs >= JOBS_FILES:
                jobs_at = time.perf_counter() - started
                break
        watched = time.perf_counter() - started
        if profiler:
            profiler.disable()
            text = io.StringIO()
            pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(30)
            (OUT / "scan-profile-scheduler.txt").write_text(text.getvalue())
        (scan,) = await scanning
    finally:
        await sched.close()
        await nc.close()
        stopping.set()
        await scheduler
    shutil.rmtree(root)
    busy = scan["busy_seconds"]
    publish_busy = busy["deliver"] - busy["record"]

    def rate(seconds: float | None) -> float | None:
        return round(JOBS_FILES / seconds, 1) if seconds else None

    stages = {
        "probe (busy)": rate(busy["probe"]),
        "publish (busy)": rate(publish_busy),
        "catalogue write (busy)": rate(busy["record"]),
        "scan: walk to last record (wall)": rate(scan["seconds"]),
        # Not all written by the deadline: the rate so far.
        "jobs of record (wall, from the scan's start)": rate(jobs_at) or round(jobs / watched, 1),
    }
    slowest = min((k for k, v in stages.items() if v), key=lambda k: stages[k] or 0.0)
    return {
        "files": JOBS_FILES,
        "tree": f"{JOBS_FILES:,} distinct copies of a {clip.stat().st_size:,}-byte clip, made in {made:.1f} s",
        "scan_seconds": round(scan["seconds"], 1),
        "busy_seconds": {k: round(v, 1) for k, v in busy.items()},
        "jobs_written": jobs,
        "jobs_pending_in_queue": pending,
        "released_to_work_stream": released,
        "end_to_end_seconds": round(jobs_at, 1) if jobs_at else f"> {JOBS_DEADLINE:g}",
        "files_per_second": stages,
        "slowest": slowest,
        "peak_rss_mb": round(scan["peak_rss_mb"], 1),
        "goal_seconds": GOALS["jobs_100k_seconds"],
    }


async def watch_latency(nats_url: str, db_url: str, root: Path, rounds: int = 5) -> list[float]:
    """Seconds from a new file's appearance to its Transcode on the WORK stream."""
    from librarrarian_scanner import service as scanner_service
    from librarrarian_scanner.settings import Settings as ScannerSettings
    from librarrarian_scheduler import service as scheduler_service
    from librarrarian_scheduler.settings import Settings as SchedulerSettings

    stopping = asyncio.Event()
    tasks = [
        asyncio.create_task(
            scanner_service.run(
                ScannerSettings(
                    nats_url=nats_url, database_url=db_url, media_paths=(root,), scan_interval_seconds=0
                ),
                stopping,
            )
        ),
        asyncio.create_task(
            scheduler_service.run(SchedulerSettings(nats_url=nats_url, database_url=db_url), stopping)
        ),
    ]
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    sub = await js.pull_subscribe_bind(durable=topology.encoder_durable("cpu"), stream=topology.WORK.name)
    latencies = []
    try:
        await asyncio.sleep(3)  # start scan of the (empty) library and the watch set-up
        clip = (SHARED / "bikes.mp4").read_bytes()
        for i in range(rounds):
            target = root / f"New Movie {i}.mp4"
            appeared = time.perf_counter()
            # Each one a file of its own (a few trailing bytes more): a copy of a file already queued is
            # recognised by its fingerprint and skipped, which is not what this measures.
            target.write_bytes(clip + bytes(i + 1))
            while True:
                try:
                    (msg,) = await sub.fetch(1, timeout=30)
                except nats.errors.TimeoutError:
                    raise RuntimeError(f"no job for {target.name} within 30 s") from None
                await msg.ack()
                if work_decoder.decode(msg.data).path == str(target):
                    latencies.append(time.perf_counter() - appeared)
                    break
    finally:
        await sub.unsubscribe()
        await nc.close()
        stopping.set()
        await asyncio.gather(*tasks)
    return latencies


async def fresh_streams(nats_url: str) -> None:
    """Empty the MEDIA and WORK streams: a scheduler started for a stage must not first work through the
    events of the stages before it (the durable consumers keep their place across schedulers)."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        for stream in (topology.MEDIA.name, topology.WORK.name):
            await js.purge_stream(stream)
    finally:
        await nc.close()


def save(report: dict[str, Any]) -> Path:
    """Write this run into ``scan.json`` beside the runs before it (the last few kept): after every stage,
    so a stage that fails keeps the figures of the ones before."""
    saved = OUT / "scan.json"
    try:
        runs = json.loads(saved.read_text()).get("runs", [])
    except (OSError, ValueError):
        runs = []
    runs = [*[r for r in runs if r.get("run") != report["run"]][-3:], report]
    saved.write_text(json.dumps({"goals": GOALS, "runs": runs}, indent=2) + "\n")
    return saved


async def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    when = datetime.now().isoformat(timespec="seconds")
    report: dict[str, Any] = {"run": f"{when} pid {os.getpid()}", "when": when, "parts": PARTS}
    with tempfile.TemporaryDirectory(prefix="bench-scan-") as tmp:
        work = Path(tmp)
        nats_server = NatsServer(work / "nats")
        nats_server.start()
        postgres = PostgresServer(work / "pg")
        postgres.start()
        url, admin = nats_server.url, postgres.uri()
        try:
            nc = await nats.connect(url)
            await provision(nc.jetstream())
            await nc.close()
            if "first" in PARTS:
                report["first_scan"] = await first_scan(work, url, admin)
                print(summary(report), flush=True)
                save(report)
            if "rescan" in PARTS:
                report["rescan"] = []
                for n in RESCAN_SIZES:
                    report["rescan"].append(await rescan(work, url, admin, n))
                    print(summary({"rescan": report["rescan"][-1:]}), flush=True)
                    save(report)
            if "watch" in PARTS:
                print("scan: watch latency …", flush=True)
                await fresh_streams(url)
                watch_root = (work / "watch").resolve()
                watch_root.mkdir()
                db = await fresh_database(admin, "watch")
                latencies = await watch_latency(url, db, watch_root)
                report["watch_seconds_to_queued"] = [round(x, 2) for x in latencies]
                save(report)
            if "jobs" in PARTS:
                await fresh_streams(url)
                report["to_jobs"] = await to_jobs(work, url, admin)
                save(report)
        finally:
            nats_server.stop()
            postgres.stop()
    print(summary(report) + f"\n  written to {save(report)}")


def summary(report: dict[str, Any]) -> str:
    lines = []
    if first := report.get("first_scan"):
        lines.append(
            f"scan: first scan of {first['files']:,} files, {first['workers']} workers: scanner "
            f"{first['scanner_files_per_second']:.1f} files/s, {first['baseline']} "
            f"{first['baseline_files_per_second']:.1f} files/s ({first['baseline_sample']} sampled): "
            f"{first['ratio']:.1f}× (goal ≥ {first['goal_ratio']:g}×)"
        )
    for r in report.get("rescan", []):
        lines.append(
            f"scan: rescan of {r['files']:,} unchanged files: {r['steady_seconds']:.2f} s running "
            f"({r['steady_vs_floor']:.2f}× the floor {min(r['floor_seconds']):.2f} s), "
            f"{r['after_start_seconds']:.2f} s after a start ({r['after_start_vs_floor']:.2f}×); CPU "
            f"{r['steady_cpu_seconds']:.2f} s vs the floor's {min(r['floor_cpu_seconds']):.2f} s "
            f"({r['steady_cpu_vs_floor_cpu']:.2f}×), "
            f"peak {r['peak_rss_mb']:.0f} MB (goals ≤ {r['goal_seconds']:g} s, ≤ {r['goal_mb']:g} MB)"
        )
    if jobs := report.get("to_jobs"):
        rates = ", ".join(f"{k} {v}" for k, v in jobs["files_per_second"].items())
        lines.append(
            f"scan: {jobs['files']:,} new files to jobs: {jobs['end_to_end_seconds']} s end to end "
            f"(goal ≤ {jobs['goal_seconds']:g} s); files/s: {rates}; slowest: {jobs['slowest']}"
        )
    if "watch_seconds_to_queued" in report:
        shown = ", ".join(f"{x:.2f} s" for x in report["watch_seconds_to_queued"])
        lines.append(f"scan: new file → job queued: {shown} (goal ≤ {GOALS['watch_seconds']:g} s)")
    return "\n".join(lines)
