"""The dashboard at library scale: 100,000 history rows and 100,000 queued jobs.

Times the queue and history pages and their API lists (first page, a deep keyset page, a search) through the
real gateway, scheduler and history services on loopback, p50 and p95 of repeated requests. Then drops the
indexes those lists use and times the same requests again: the baseline (goal: p95 ≤ 150 ms with the indexes).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path

import asyncpg
import httpx
import nats
from librarrarian_contracts import provision
from librarrarian_embedded import NatsServer, PostgresServer
from librarrarian_embedded.nats_server import free_port
from librarrarian_gateway import service as gateway
from librarrarian_gateway.settings import Settings as GatewaySettings
from librarrarian_history import service as history
from librarrarian_history.settings import Settings as HistorySettings
from librarrarian_scheduler import service as scheduler
from librarrarian_scheduler.settings import Settings as SchedulerSettings

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
ROWS = int(os.environ.get("BENCH_UI_ROWS", "100000"))
REPEAT = int(os.environ.get("BENCH_UI_REPEAT", "40"))
API_KEY = "bench-ui-key-0123456789abcdef"

# The indexes the lists are served by (the baseline runs without them).
INDEXES = {
    "scheduler": ["jobs_by_status", "jobs_by_path"],
    "history": ["transcodes_by_status", "transcodes_search"],
}


async def seed(db_url: str, rows: int) -> None:
    """``rows`` jobs (1 % of them failed, the rest queued) and ``rows`` finished transcodes, written as the
    services would have."""
    conn = await asyncpg.connect(db_url)
    try:
        await conn.execute(
            "INSERT INTO scheduler.jobs (path, status, attempts, hw_class, source_size, source_mtime_ns,"
            " source_inode, codec_before, queued_at)"
            " SELECT format('/media/TV/Show %s/Season 01/Episode %s.mkv', g / 100, g),"
            " CASE WHEN g % 100 = 0 THEN 'failed' ELSE 'pending' END, 1, 'cpu',"
            " 1000000 + g, g, g, 'h264', now() - make_interval(secs => $1 - g)"
            " FROM generate_series(1, $1) AS g",
            rows,
        )
        await conn.execute(
            "INSERT INTO history.transcodes (event_id, job_id, status, path, output_path, node, encoder,"
            " codec_before, codec_after, size_before, size_after, duration, elapsed_seconds, finished_at)"
            " SELECT 'seed-' || g, $1 + g, 'done', format('/media/Movies/Film %s (2001)/Film %s.mkv', g, g),"
            " format('/media/Movies/Film %s (2001)/Film %s.mkv', g, g), 'node-' || (g % 4), 'libx265',"
            " 'h264', 'hevc', 2000000000, 800000000, 5400, 1800, now() - make_interval(secs => $1 - g)"
            " FROM generate_series(1, $1) AS g",
            rows,
        )
        await conn.execute("ANALYZE scheduler.jobs; ANALYZE history.transcodes")
    finally:
        await conn.close()


async def timed(request: Callable[[], Awaitable[httpx.Response]], repeat: int) -> dict[str, float]:
    await request()  # warm: connection, plans
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = await request()
        samples.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    samples.sort()
    return {
        "p50_ms": round(statistics.median(samples), 1),
        "p95_ms": round(samples[int(0.95 * (len(samples) - 1))], 1),
    }


async def measure(client: httpx.AsyncClient, rows: int) -> dict[str, dict[str, float]]:
    deep = rows // 2
    requests: dict[str, Callable[[], Awaitable[httpx.Response]]] = {
        "GET /api/v1/jobs?status=pending": lambda: client.get("/api/v1/jobs", params={"status": "pending"}),
        "GET /api/v1/jobs (deep page)": lambda: client.get("/api/v1/jobs", params={"before_id": deep}),
        "GET /queue": lambda: client.get("/queue"),
        "GET /api/v1/jobs?status=failed": lambda: client.get("/api/v1/jobs", params={"status": "failed"}),
        "GET /failed": lambda: client.get("/failed"),
        "GET /api/v1/history": lambda: client.get("/api/v1/history"),
        "GET /api/v1/history (deep page)": lambda: client.get("/api/v1/history", params={"before_id": deep}),
        "GET /api/v1/history?search=Film 4242": lambda: client.get(
            "/api/v1/history", params={"search": "Film 4242"}
        ),
        "GET /history": lambda: client.get("/history"),
    }
    return {name: await timed(request, REPEAT) for name, request in requests.items()}


async def drop_indexes(db_url: str) -> None:
    conn = await asyncpg.connect(db_url)
    try:
        for schema, names in INDEXES.items():
            for name in names:
                await conn.execute(f'DROP INDEX IF EXISTS "{schema}"."{name}"')
    finally:
        await conn.close()


async def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-ui-") as tmp:
        work = Path(tmp)
        nats_server, postgres = NatsServer(work / "nats"), PostgresServer(work / "pg")
        nats_server.start()
        postgres.start()
        db_url = postgres.uri()
        nc = await nats.connect(nats_server.url)
        await provision(nc.jetstream())  # as `librarrarian provision` does before the services start
        await nc.close()
        port = free_port()
        stopping = asyncio.Event()
        media = work / "media"
        media.mkdir()
        tasks = [
            asyncio.create_task(
                scheduler.run(SchedulerSettings(nats_url=nats_server.url, database_url=db_url), stopping)
            ),
            asyncio.create_task(
                history.run(HistorySettings(nats_url=nats_server.url, database_url=db_url), stopping)
            ),
            asyncio.create_task(
                gateway.run(
                    GatewaySettings(
                        nats_url=nats_server.url,
                        database_url=db_url,
                        host="127.0.0.1",
                        port=port,
                        api_key=API_KEY,
                        media_paths=(media,),
                    ),
                    stopping,
                )
            ),
        ]
        try:
            headers = {"X-Api-Key": API_KEY}
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=60
            ) as client:
                while True:
                    try:
                        if (await client.get("/healthz")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.1)
                print(f"ui: seeding {ROWS:,} jobs and {ROWS:,} history rows …", flush=True)
                await seed(db_url, ROWS)
                print("ui: timing the lists with their indexes …", flush=True)
                indexed = await measure(client, ROWS)
                await drop_indexes(db_url)
                print("ui: timing the same lists without them …", flush=True)
                unindexed = await measure(client, ROWS)
        finally:
            stopping.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            nats_server.stop()
            postgres.stop()

    report = {
        "when": datetime.now().isoformat(timespec="seconds"),
        "rows": ROWS,
        "repeat": REPEAT,
        "with_indexes": indexed,
        "without_indexes": unindexed,
        "worst_p95_ms_with_indexes": max(v["p95_ms"] for v in indexed.values()),
    }
    (OUT / "ui.json").write_text(json.dumps(report, indent=2) + "\n")
    width = max(map(len, indexed))
    lines = [f"\nui: {ROWS:,} jobs (1 % failed) and {ROWS:,} history rows, {REPEAT} requests each (loopback)"]
    lines.append(f"  {'request':<{width}}  {'indexed p50/p95 ms':>20}  {'no index p50/p95 ms':>20}")
    for name, values in indexed.items():
        base = unindexed[name]
        lines.append(
            f"  {name:<{width}}  {values['p50_ms']:>9.1f} / {values['p95_ms']:<8.1f}  {base['p50_ms']:>9.1f} / {base['p95_ms']:<8.1f}"
        )
    lines.append(f"  worst p95 with indexes: {report['worst_p95_ms_with_indexes']} ms (goal ≤ 150 ms)")
    lines.append(f"  written to {OUT / 'ui.json'}")
    print("\n".join(lines))
