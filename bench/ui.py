"""The dashboard at library scale: 1,000,000 jobs and 1,000,000 history rows (``BENCH_UI_ROWS``).

Times every page and API list the browser uses (dashboard, queue and its filters, failed, history and its
search, statistics, totals, nodes) through the real gateway, scheduler and history services on loopback,
p50 and p95 of repeated requests. Then puts the previous queries back in the services' place (counts and
sums over the rows of record on each request, one list query with every filter optional) and drops the
indexes added since, and times the same requests again: the baseline, in the same run (goal: every p95 ≤
50 ms). Both passes must answer the same: the bench checks it.
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
from typing import Any

import asyncpg
import httpx
import nats
from librarrarian_contracts import provision
from librarrarian_contracts.views import JOB_KINDS, JOB_STATUSES
from librarrarian_embedded import NatsServer, PostgresServer
from librarrarian_embedded.nats_server import free_port
from librarrarian_gateway import service as gateway
from librarrarian_gateway.settings import Settings as GatewaySettings
from librarrarian_history import charts as history_charts
from librarrarian_history import records as history_records
from librarrarian_history import service as history
from librarrarian_history.settings import Settings as HistorySettings
from librarrarian_scheduler import endpoints as scheduler_endpoints
from librarrarian_scheduler import service as scheduler
from librarrarian_scheduler.settings import Settings as SchedulerSettings

from . import ui_previous
from .ui_seed import seed

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
ROWS = int(os.environ.get("BENCH_UI_ROWS", "1000000"))
REPEAT = int(os.environ.get("BENCH_UI_REPEAT", "40"))
BASELINE_REPEAT = int(os.environ.get("BENCH_UI_BASELINE_REPEAT", "20"))
GOAL_MS = 50.0
API_KEY = "bench-ui-key-0123456789abcdef"

# The indexes added for the lists since the previous queries (the baseline runs without them).
NEW_INDEXES = {"scheduler": ["jobs_by_kind", "jobs_by_kind_status"]}
# Where the services look their queries up at each request: the baseline swaps these for the previous ones.
SWAPPED: list[tuple[Any, str, Any]] = [
    (scheduler_endpoints, "jobs", ui_previous.jobs),
    (history_records, "stats", ui_previous.stats),
    (history_charts, "charts", ui_previous.charts),
    (history_records, "words_query", ui_previous.words_query),
]
SEARCHES = ("Film 4242", "Film", "Film 1 (2001)", "Film 1 (20", "zebra")
# Answers compared between the passes (same data, same answers).
# (The windows of the charts that end inside the seeded history move on with the clock between two answers,
# so only the one that holds all of it is compared; the tests compare the others with the history itself.)
COMPARED = ("GET /api/v1/stats", "GET /api/v1/stats/charts?days=3650")


async def timed(request: Callable[[], Awaitable[httpx.Response]], repeat: int) -> dict[str, float]:
    """p50 and p95 of ``repeat`` requests; a request the gateway gave up on (503: the service did not answer
    in time, as the previous queries may not on a loaded machine) counts with the time it took, and is
    counted in ``failed``."""
    await request()  # warm: connection, plans
    samples = []
    failed = 0
    for _ in range(repeat):
        started = time.perf_counter()
        response = await request()
        samples.append((time.perf_counter() - started) * 1000)
        if response.status_code == 503:
            failed += 1
        else:
            response.raise_for_status()
    samples.sort()
    return {
        "p50_ms": round(statistics.median(samples), 1),
        "p95_ms": round(samples[int(0.95 * (len(samples) - 1))], 1),
        "failed": failed,
    }


Request = Callable[[], Awaitable[httpx.Response]]


def requests(client: httpx.AsyncClient, rows: int) -> dict[str, Request]:
    """Every page and list the browser asks for, each filter of the queue once (states and types as the
    contracts list them, so a new state is measured too)."""
    deep = rows // 2

    def get(path: str, **params: object) -> Request:
        return lambda: client.get(path, params=params)

    found: dict[str, Request] = {
        "GET /": get("/"),
        "GET /api/v1/stats": get("/api/v1/stats"),
        "GET /api/v1/nodes": get("/api/v1/nodes"),
        "GET /queue": get("/queue"),
        "GET /queue (deep page)": get("/queue", before_id=deep),
    }
    for status in JOB_STATUSES:
        found[f"GET /queue?status={status}"] = get("/queue", status=status.value)
    for kind in JOB_KINDS:
        found[f"GET /queue?kind={kind}"] = get("/queue", kind=kind.value)
    found["GET /api/v1/jobs"] = get("/api/v1/jobs")
    found["GET /api/v1/jobs (deep page)"] = get("/api/v1/jobs", before_id=deep)
    for status in JOB_STATUSES:
        found[f"GET /api/v1/jobs?status={status}"] = get("/api/v1/jobs", status=status.value)
        found[f"GET /api/v1/jobs?status={status} (deep page)"] = get(
            "/api/v1/jobs", status=status.value, before_id=deep
        )
    for kind in JOB_KINDS:
        found[f"GET /api/v1/jobs?kind={kind}"] = get("/api/v1/jobs", kind=kind.value)
    found["GET /api/v1/jobs?status=pending&status=running"] = get(
        "/api/v1/jobs", status=["pending", "running"]
    )
    found["GET /api/v1/jobs?kind=cleanup&status=awaiting_approval"] = get(
        "/api/v1/jobs", kind="cleanup", status="awaiting_approval"
    )
    found["GET /failed"] = get("/failed")
    found["GET /failed (deep page)"] = get("/failed", before_id=deep)
    found["GET /history"] = get("/history")
    found["GET /history (deep page)"] = get("/history", before_id=deep)
    found["GET /history?search=Film 4242"] = get("/history", search="Film 4242")
    found["GET /api/v1/history"] = get("/api/v1/history")
    found["GET /api/v1/history (deep page)"] = get("/api/v1/history", before_id=deep)
    for search in SEARCHES:
        found[f"GET /api/v1/history?search={search}"] = get("/api/v1/history", search=search)
    found["GET /statistics"] = get("/statistics")
    for days in (7, 90, 365, 3650):
        found[f"GET /statistics?days={days}"] = get("/statistics", days=days)
    for days in (7, 30, 90, 365, 3650):
        found[f"GET /api/v1/stats/charts?days={days}"] = get("/api/v1/stats/charts", days=days)
    return found


async def measure(client: httpx.AsyncClient, rows: int, repeat: int) -> dict[str, dict[str, float]]:
    return {name: await timed(request, repeat) for name, request in requests(client, rows).items()}


async def answers(client: httpx.AsyncClient, rows: int) -> dict[str, object]:
    """What the compared requests answer, floats rounded (sums of seconds may differ in their last bits)."""

    def rounded(value: object) -> object:
        if isinstance(value, float):
            return round(value, 3)
        if isinstance(value, list):
            return [rounded(v) for v in value]
        if isinstance(value, dict):
            return {k: rounded(v) for k, v in value.items()}
        return value

    listed = requests(client, rows)
    compared = [*COMPARED, *(n for n in listed if n.startswith(("GET /api/v1/jobs", "GET /api/v1/history")))]
    return {name: rounded((await listed[name]()).json()) for name in compared}


async def previous_queries(db_url: str) -> None:
    """The baseline: the previous queries in the services' place, without the indexes added since."""
    for module, name, previous in SWAPPED:
        setattr(module, name, previous)
    conn = await asyncpg.connect(db_url)
    try:
        for schema, names in NEW_INDEXES.items():
            for index in names:
                await conn.execute(f'DROP INDEX IF EXISTS "{schema}"."{index}"')
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
                # The scheduler and history answer once their migrations are applied: seeding before that
                # would race them (and write through the triggers the migrations replace).
                for path in ("/healthz", "/api/v1/jobs", "/api/v1/stats"):
                    while True:
                        try:
                            if (await client.get(path)).status_code == 200:
                                break
                        except httpx.TransportError:
                            pass
                        await asyncio.sleep(0.1)
                print(f"ui: seeding {ROWS:,} jobs and {ROWS:,} history rows …", flush=True)
                started = time.perf_counter()
                await seed(db_url, ROWS)
                seed_seconds = round(time.perf_counter() - started, 1)
                print(f"ui: seeded in {seed_seconds} s; timing every page and list …", flush=True)
                current = await measure(client, ROWS, REPEAT)
                (OUT / "ui.current.json").write_text(
                    json.dumps(current, indent=2) + "\n"
                )  # kept if the rest fails
                current_answers = await answers(client, ROWS)
                await previous_queries(db_url)
                previous_answers = await answers(client, ROWS)
                differing = [
                    name for name in current_answers if current_answers[name] != previous_answers[name]
                ]
                same = not differing
                print("ui: timing the same requests with the previous queries (baseline) …", flush=True)
                previous = await measure(client, ROWS, BASELINE_REPEAT)
        finally:
            stopping.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            nats_server.stop()
            postgres.stop()

    worst = max(current, key=lambda name: current[name]["p95_ms"])
    report = {
        "when": datetime.now().isoformat(timespec="seconds"),
        "command": "python -m bench ui",
        "rows": ROWS,
        "repeat": REPEAT,
        "baseline_repeat": BASELINE_REPEAT,
        "seed_seconds": seed_seconds,
        "same_answers": same,
        "differing_answers": differing,
        "goal_p95_ms": GOAL_MS,
        "current": current,
        "baseline_previous_queries": previous,
        "p95_ratio_baseline_over_current": {
            name: round(previous[name]["p95_ms"] / max(values["p95_ms"], 0.1), 1)
            for name, values in current.items()
        },
        "worst_p95_ms": current[worst]["p95_ms"],
        "worst_request": worst,
        "over_goal": [name for name, values in current.items() if values["p95_ms"] > GOAL_MS],
    }
    (OUT / "ui.json").write_text(json.dumps(report, indent=2) + "\n")
    width = max(map(len, current))
    lines = [
        f"\nui: {ROWS:,} jobs and {ROWS:,} history rows (seeded in {seed_seconds} s), {REPEAT} requests each"
        f" ({BASELINE_REPEAT} for the baseline), loopback"
    ]
    lines.append(
        f"  {'request':<{width}}  {'now p50/p95 ms':>18}  {'previous p50/p95 ms':>20}  {'p95 ratio':>9}"
    )
    for name, values in current.items():
        base = previous[name]
        ratio = report["p95_ratio_baseline_over_current"][name]  # type: ignore[index]
        lines.append(
            f"  {name:<{width}}  {values['p50_ms']:>8.1f} / {values['p95_ms']:<7.1f}"
            f"  {base['p50_ms']:>9.1f} / {base['p95_ms']:<8.1f}  {ratio:>8.1f}×"
        )
    lines.append(f"  worst p95: {report['worst_p95_ms']} ms ({worst}; goal ≤ {GOAL_MS:g} ms)")
    lines.append(f"  over the goal: {', '.join(report['over_goal']) or 'none'}")  # type: ignore[arg-type]
    lines.append(f"  both passes answer the same: {same}")
    lines.append(f"  written to {OUT / 'ui.json'}")
    print("\n".join(lines))
