"""The load run's report: the text tables, the failures (what must be zero), and the files in ``bench/out``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import figures, runner

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "bench" / "out"
JOBS, WAITING, NODES = 1000, 10_000, 2


def failures(document: Mapping[str, Any]) -> list[str]:
    """What the run must not show: a violated invariant, a lost message, a scheduler that did not take the
    flood in, a process that outlived the stop."""
    out: list[str] = []
    encodes, waiting, stop = document.get("encodes"), document.get("waiting"), document.get("stop")
    if encodes is None or waiting is None or stop is None:
        return ["the run did not finish"]
    out += encodes["violations"]
    if waiting["lost"]:
        out.append(f"lost: {waiting['lost']} of {waiting['published']} published events have no job")
    if waiting["intake_seconds"] is None:
        out.append("the scheduler did not take every waiting job in")
    out += stop["violations"]
    if stop["exit"] != 0:
        out.append(f"up exited with {stop['exit']} after one SIGTERM")
    return out


def text(document: Mapping[str, Any]) -> str:
    encodes, waiting = document["encodes"], document["waiting"]
    gap = encodes["gap_ms"]
    idle, flood = waiting["dashboard_reads_ms_idle"], waiting["dashboard_reads_ms_flood"]
    lines = [
        f"load, {document['when']}",
        "",
        f"{encodes['jobs']} small jobs through {encodes['nodes']} nodes (one slot each): {encodes['statuses']}",
        f"  cluster: {encodes['wall_seconds']} s from the files' arrival to the last job final "
        f"({encodes['jobs_per_second']} jobs/s); first start to last end {encodes['encode_seconds']} s",
        f"  baseline, the same encodes as a bare ffmpeg loop ({encodes['nodes']} at a time): "
        f"{encodes['baseline_bare_ffmpeg_seconds']} s ({encodes['baseline_jobs_per_second']} jobs/s)",
        f"  ratio cluster/baseline: {encodes['ratio_wall_to_baseline']} (arrival to final), "
        f"{encodes['ratio_encode_to_baseline']} (first start to last end)",
        f"  gap between jobs on a node: p50 {gap['p50']} ms, p95 {gap['p95']} ms, max {gap['max']} ms "
        f"({gap['n']} gaps)",
        f"  invariants: {len(encodes['violations'])} violation(s)",
        "",
        figures.table(encodes["memory"]),
        "",
        f"{waiting['published']} waiting jobs with the dashboard open (no node taking work)",
        f"  published in {waiting['publish_seconds']} s; all queued of record after {waiting['intake_seconds']} s "
        f"({waiting['jobs_per_second_taken_in']} jobs/s: {waiting['jobs_per_second_first_fifth']} over the first "
        f"fifth, {waiting['jobs_per_second_last_fifth']} over the last); recorded {waiting['recorded']}, "
        f"queued {waiting['queued_of_record']}, lost {waiting['lost']}",
        f"  dashboard reads idle: p50 {idle['p50']} ms, p95 {idle['p95']} ms ({idle['n']}); during the flood: "
        f"p50 {flood['p50']} ms, p95 {flood['p95']} ms ({flood['n']}); ratio p95 {waiting['ratio_p95_flood_to_idle']}",
        f"  live stream: {waiting['live_queued_events']} 'queued' job-state events, "
        f"{waiting['live_connects']} connect(s), {len(waiting['dashboard_errors'])} error(s)",
        "",
        figures.table(waiting["memory"]),
        "",
        f"stop: up exited with {document['stop']['exit']} after one SIGTERM",
    ]  # fmt: skip
    return "\n".join(lines)


async def run_and_report(
    jobs: int = JOBS, waiting: int = WAITING, nodes: int = NODES, keep: bool = False, name: str = "load"
) -> list[str]:
    """Run, print, save; the failures."""
    document = await runner.run_all(jobs, waiting, nodes, keep)
    found = failures(document)
    document["failures"] = found
    report = text(document) if "stop" in document else json.dumps(document, indent=2, default=str)
    print("\n" + report)
    if found:
        print("\nfailures:\n  " + "\n  ".join(found))
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{name}.json").write_text(json.dumps(document, indent=2, default=str) + "\n")
    (OUT / f"{name}.txt").write_text(report + ("\n\nfailures:\n" + "\n".join(found) if found else "") + "\n")
    print(f"\nsaved {OUT / name}.json and .txt")
    return found
