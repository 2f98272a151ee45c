"""The scanner at library scale, each figure next to its baseline in the same run.

1. First scan: files probed per second by the scanner (in-process PyAV, PROBE_WORKERS threads) against one
   probe process per file (``ffprobe`` when on PATH, else ``ffmpeg -i``) with as many processes at once.
2. Rescan of 100,000 unchanged files: wall time and the scan process's peak memory (goals ≤ 10 s, ≤ 250 MB).
3. Watch: time from a new file appearing in the library to its transcode job being queued (goal ≤ 5 s).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import asyncpg
import nats
from librarrarian_contracts import provision, topology
from librarrarian_contracts.codec import work_decoder
from librarrarian_embedded import NatsServer, PostgresServer
from librarrarian_media.ffmpeg_builds import candidates
from librarrarian_runtime.migrations import connect_and_migrate

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("LIBRARRARIAN_SHARED_MEDIA", ROOT.parent / "shared" / "media"))
OUT = ROOT / "bench" / "out"
# 2,000: a first scan of 300 takes about 0.1 s now, too short to time steadily.
FIRST_SCAN_FILES = int(os.environ.get("BENCH_FIRST_SCAN_FILES", "2000"))
RESCAN_FILES = int(os.environ.get("BENCH_RESCAN_FILES", "100000"))
WORKERS = 2


def linked_library(root: Path, count: int, per_dir: int = 100) -> list[Path]:
    """``count`` videos as hard links of the two shared clips, in show/season folders like a real library.
    The links are of copies beside ``root``: on its disk, and each within the per-file link limit."""
    root.parent.mkdir(parents=True, exist_ok=True)
    # copy2 keeps the clips' times: a library that has been there a while, not files still being written.
    sources = [
        Path(shutil.copy2(SHARED / name, root.parent / f"{root.name}-{name}"))
        for name in ("bigbuckbunny.mp4", "bikes.mp4")
    ]
    paths = []
    for i in range(count):
        folder = root / f"Show {i // (per_dir * 10):03d}" / f"Season {i // per_dir % 10:02d}"
        if i % per_dir == 0:
            folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"Episode {i:06d}{'.mp4' if i % 2 == 0 else '.m4v'}"
        os.link(sources[i % 2], path)
        paths.append(path)
    return paths


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


SCAN_CHILD = """
import asyncio, json, resource, sys, time
from pathlib import Path
import nats
from librarrarian_runtime.migrations import connect_and_migrate
from librarrarian_scanner.probe import Prober
from librarrarian_scanner.scan import Scanner

async def main(nats_url, db_url, root):
    nc = await nats.connect(nats_url)
    pool = await connect_and_migrate(db_url, "scanner", "librarrarian_scanner.migrations")
    scanner = Scanner(pool, nc.jetstream(), (Path(root),), Prober({workers}, 30))
    started = time.perf_counter()
    result = await scanner.scan()
    elapsed = time.perf_counter() - started
    await pool.close(); await nc.close()
    print(json.dumps({{"seconds": elapsed, "seen": result.seen, "probed": result.probed,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))

asyncio.run(main(*sys.argv[1:]))
"""


def scan_in_child(nats_url: str, db_url: str, root: Path) -> dict[str, float]:
    """One scan in a fresh process, so its peak memory is the scan's own."""
    code = SCAN_CHILD.format(workers=WORKERS)
    out = subprocess.run(
        [sys.executable, "-c", code, nats_url, db_url, str(root)], capture_output=True, text=True, check=True
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


async def fresh_database(admin_url: str, name: str) -> str:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return admin_url.replace("/postgres?", f"/{name}?")


async def catalogue_as_scanned(db_url: str, root: Path, paths: list[Path]) -> None:
    """Fill the catalogue as a finished first scan would have (probing 100,000 files first would take hours
    of the bench's time and measure nothing the first-scan figure does not)."""
    pool = await connect_and_migrate(db_url, "scanner", "librarrarian_scanner.migrations")
    try:
        rows = []
        for path in paths:
            st = path.stat()
            rows.append((str(path), str(root), st.st_size, st.st_mtime_ns, st.st_ino, "ok"))
        async with pool.acquire() as conn:
            await conn.copy_records_to_table(
                "files",
                schema_name="scanner",
                records=rows,
                columns=["path", "library", "size", "mtime_ns", "inode", "status"],
            )
    finally:
        await pool.close()


async def watch_latency(nats_url: str, db_url: str, root: Path, rounds: int = 3) -> list[float]:
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


async def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-scan-") as tmp:
        work = Path(tmp)
        nats_server = NatsServer(work / "nats")
        nats_server.start()
        postgres = PostgresServer(work / "pg")
        postgres.start()
        try:
            nc = await nats.connect(nats_server.url)
            await provision(nc.jetstream())
            await nc.close()

            print(f"scan: first scan of {FIRST_SCAN_FILES} files vs one probe process per file …", flush=True)
            first_root = (work / "first").resolve()
            first_paths = linked_library(first_root, FIRST_SCAN_FILES)
            baseline_seconds, tool = process_per_file(first_paths)
            db = await fresh_database(postgres.uri(), "first")
            first = scan_in_child(nats_server.url, db, first_root)

            print(f"scan: rescan of {RESCAN_FILES:,} unchanged files …", flush=True)
            big_root = (work / "big").resolve()
            big_paths = linked_library(big_root, RESCAN_FILES)
            db = await fresh_database(postgres.uri(), "big")
            await catalogue_as_scanned(db, big_root, big_paths)
            rescan = scan_in_child(nats_server.url, db, big_root)
            assert rescan["probed"] == 0 and rescan["seen"] == RESCAN_FILES, rescan

            print("scan: watch latency …", flush=True)
            watch_root = (work / "watch").resolve()
            watch_root.mkdir()
            db = await fresh_database(postgres.uri(), "watch")
            latencies = await watch_latency(nats_server.url, db, watch_root)
        finally:
            nats_server.stop()
            postgres.stop()

    ours_rate = FIRST_SCAN_FILES / first["seconds"]
    base_rate = FIRST_SCAN_FILES / baseline_seconds
    report = {
        "when": datetime.now().isoformat(timespec="seconds"),
        "first_scan": {
            "files": FIRST_SCAN_FILES,
            "workers": WORKERS,
            "scanner_files_per_second": round(ours_rate, 1),
            "baseline": tool,
            "baseline_files_per_second": round(base_rate, 1),
            "ratio": round(ours_rate / base_rate, 2),
        },
        "rescan": {
            "files": RESCAN_FILES,
            "seconds": round(rescan["seconds"], 2),
            "peak_rss_mb": round(rescan["peak_rss_mb"], 1),
        },
        "watch_seconds_to_queued": [round(x, 2) for x in latencies],
    }
    (OUT / "scan.json").write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"\nscan: first scan of {FIRST_SCAN_FILES} files, {WORKERS} workers\n"
        f"  scanner (in-process PyAV)   {ours_rate:8.1f} files/s\n"
        f"  {tool:<27} {base_rate:8.1f} files/s   ratio {ours_rate / base_rate:.2f}× (goal ≥ 10×)\n"
        f"scan: rescan of {RESCAN_FILES:,} unchanged files: {rescan['seconds']:.2f} s (goal ≤ 10 s), "
        f"peak memory {rescan['peak_rss_mb']:.0f} MB (goal ≤ 250 MB)\n"
        f"scan: new file → job queued: {', '.join(f'{x:.2f} s' for x in latencies)} (goal ≤ 5 s)\n"
        f"  written to {OUT / 'scan.json'}"
    )
