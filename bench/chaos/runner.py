"""The runs: one ``up`` on a temporary library (bad inputs in it from the start), then per run a new batch of
videos, the trigger, the seeded delay, the fault, the wait until the cluster is whole and every job final,
and the invariants on everything in the library so far. At the end one SIGTERM, and nothing may be left."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import signal
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from . import invariants, media
from .cluster import Cluster, processes
from .faults import FAULTS, Context, moved_on, query, running_jobs
from .invariants import Expected, Job, Seen, Violation
from .report import RunResult
from .schedule import Injection

RECOVERY_TIMEOUT = 180.0
SETTLE_TIMEOUT = 90.0
STABLE_FOR = (
    3.0  # all final for this long: a file changed under a job is queued again within the watch's settle
)


async def wait_for(probe: Callable[[], object], timeout: float, interval: float = 0.25) -> float | None:
    """Seconds until ``probe`` (sync or async) is true; None at the deadline."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        result = probe()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return time.monotonic() - started
        await asyncio.sleep(interval)
    return None


async def all_jobs(cluster: Cluster) -> list[Job]:
    rows = await query(cluster, "SELECT id, path, status, output_path FROM scheduler.jobs ORDER BY id")
    return [Job(int(str(r["id"])), str(r["path"]), str(r["status"]), r["output_path"]) for r in rows]  # type: ignore[arg-type]


async def settled(cluster: Cluster, expected: dict[Path, Expected], reported: set[tuple[str, str]]) -> bool:
    """Every job final and every file with its final job, but for what an earlier run reported already (a
    job stuck for good is waited for once, not by every run after it)."""
    jobs = await all_jobs(cluster)
    new = [v for v in invariants.check_jobs(expected.values(), jobs) if (v.kind, v.detail) not in reported]
    return bool(jobs) and not new


async def wait_settled(
    cluster: Cluster, expected: dict[Path, Expected], reported: set[tuple[str, str]]
) -> None:
    deadline = time.monotonic() + SETTLE_TIMEOUT
    stable_since = None
    while time.monotonic() < deadline:
        if await settled(cluster, expected, reported):
            stable_since = stable_since or time.monotonic()
            if time.monotonic() - stable_since >= STABLE_FOR:
                return
        else:
            stable_since = None
        await asyncio.sleep(0.5)


def continue_stopped_ffmpeg(cluster: Cluster) -> int:
    """A hung ffmpeg the watchdog did not end is resumed, so the next run starts clean (and is counted)."""
    stopped = [p.pid for p in processes(cluster.marker).values() if p.state == "T" and p.marked]
    for pid in stopped:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
    return len(stopped)


async def history_done(cluster: Cluster, jobs: list[Job]) -> list[int]:
    """History's done records (job ids), once it caught up with the scheduler (or after 20 s)."""
    want = {j.id for j in jobs if j.status == "done"}
    rows: list[dict[str, object]] = []

    async def caught_up() -> bool:
        nonlocal rows
        rows = await query(cluster, "SELECT job_id FROM history.transcodes WHERE status = 'done'")
        return {int(str(r["job_id"])) for r in rows} >= want

    await wait_for(caught_up, 20.0, 0.5)
    return [int(str(r["job_id"])) for r in rows]


def seen(expected: dict[Path, Expected]) -> dict[Path, Seen]:
    out = {}
    for path, want in expected.items():
        if not path.exists():
            out[path] = Seen(exists=False)
            continue
        digest = media.sha256(path)
        out[path] = Seen(True, digest, None if digest == want.sha256 else media.facts(path))
    return out


async def check(cluster: Cluster, expected: dict[Path, Expected]) -> list[Violation]:
    jobs = await all_jobs(cluster)
    found = list(cluster.media.rglob(".tmp_librarrarian-*"))
    return [
        *invariants.check_files(expected.values(), seen(expected)),
        *invariants.check_temp_files(found),
        *invariants.check_jobs(expected.values(), jobs),
        *invariants.check_history(await history_done(cluster, jobs), jobs),
    ]


async def make_whole(cluster: Cluster, notes: list[str], when: str) -> None:
    if await cluster.healthy():
        return
    if cluster.process is None or cluster.process.poll() is not None:
        notes.append(f"up not running {when}: started again")
        cluster.kill_leftovers()
        await cluster.close_api()
        cluster.start()
    else:
        notes.append(f"cluster not whole {when}: waited")
    await cluster.ready()


async def one_run(
    cluster: Cluster,
    injection: Injection,
    seed: int,
    expected: dict[Path, Expected],
    shared: Path,
    reported: set[tuple[str, str]],
) -> RunResult:
    """One run; a violation is the run's that first saw it (a file left behind is not counted again by
    every run after it)."""
    rng = random.Random(f"{seed}:{injection.run}")
    notes: list[str] = []
    await make_whole(cluster, notes, "at the start of the run")
    tag = f"Run {injection.run:03d}"
    files = await asyncio.to_thread(media.batch, shared, cluster.root / "staging", cluster.media, tag)
    for path in files:
        expected[path] = Expected(path, media.sha256(path), media.facts(path), needs_job=True)
    ctx = Context(cluster, rng, expected, list(files), notes=notes)

    if injection.trigger == "encoding" and await wait_for(lambda: cluster.ffmpeg_pids(), 90.0, 0.05) is None:
        notes.append("no encode seen within 90 s")
    await asyncio.sleep(injection.delay)
    before = await running_jobs(cluster)
    started = time.monotonic()
    try:
        await FAULTS[injection.fault](ctx)
    except Exception as error:  # noqa: BLE001 - the harness reports it and goes on
        ctx.violations.append(Violation("fault failed", f"{type(error).__name__}: {error}"))

    async def whole() -> bool:
        return await cluster.healthy() and await moved_on(cluster, before)

    # From the fault's start: a fault that restarts `up` counts the restart.
    recovery = None if await wait_for(whole, RECOVERY_TIMEOUT) is None else time.monotonic() - started
    await wait_settled(cluster, expected, reported)
    if resumed := continue_stopped_ffmpeg(cluster):
        notes.append(f"{resumed} stopped process(es) still there after the run: resumed")
        await wait_settled(cluster, expected, reported)
    await make_whole(cluster, notes, "after the run")  # the records are read from its database
    violations = new_only(ctx.violations + await check(cluster, expected), reported)
    return RunResult(
        injection.run, injection.fault, injection.delay, len(expected), recovery, violations, ctx.notes
    )


def new_only(violations: list[Violation], reported: set[tuple[str, str]]) -> list[Violation]:
    new = [v for v in violations if (v.kind, v.detail) not in reported]
    reported.update((v.kind, v.detail) for v in new)
    return new


async def final_stop(
    cluster: Cluster, expected: dict[Path, Expected], reported: set[tuple[str, str]]
) -> RunResult:
    """One SIGTERM, as systemd or a single Ctrl-C sends: a graceful stop, and nothing of it left."""
    violations: list[Violation] = []
    started = time.monotonic()
    cluster.signal_up(signal.SIGTERM)
    code = await cluster.wait_exit(90)
    took = time.monotonic() - started if code is not None else None
    cluster.stop_own_nats()
    await cluster.close_api()
    violations += invariants.check_processes(await cluster.leftovers(10.0), "after one SIGTERM")
    if code != 0:
        violations.append(Violation("unclean exit", f"up exited with {code} after one SIGTERM"))
    cluster.kill_leftovers()
    found = list(cluster.media.rglob(".tmp_librarrarian-*"))
    violations += invariants.check_files(expected.values(), seen(expected))
    violations += invariants.check_temp_files(found)
    violations = new_only(violations, reported)
    notes = [f"exit {code}"]
    replaced = [
        p.name
        for p in expected
        if "Bad inputs" in p.parts and p.exists() and media.sha256(p) != expected[p].sha256
    ]
    if replaced:
        notes.append(f"bad inputs transcoded and replaced: {', '.join(replaced)}")
    return RunResult(0, "final stop (one SIGTERM)", 0.0, len(expected), took, violations, notes)


async def run_all(
    injections: list[Injection],
    seed: int,
    shared: Path,
    keep: bool,
    progress: Callable[[RunResult], None],
    log_copy: Path | None = None,
) -> list[RunResult]:
    root = Path(tempfile.mkdtemp(prefix=f"chaos-{seed}-"))
    cluster = Cluster(root)
    expected: dict[Path, Expected] = {}
    results: list[RunResult] = []
    reported: set[tuple[str, str]] = set()
    try:
        for path in media.bad_inputs(shared, cluster.media / "Bad inputs"):
            # One that still probes may be replaced by a verified output, as any original may.
            expected[path] = Expected(path, media.sha256(path), media.facts(path), needs_job=False)
        cluster.start()
        await cluster.ready()
        for injection in injections:
            try:
                result = await one_run(cluster, injection, seed, expected, shared, reported)
            except RuntimeError as error:  # the cluster did not come back: that run says so, the rest waits
                result = RunResult(injection.run, injection.fault, injection.delay, len(expected), None)
                result.violations.append(Violation("cluster gone", str(error).splitlines()[0]))
                results.append(result)
                progress(result)
                break
            results.append(result)
            progress(result)
        result = await final_stop(cluster, expected, reported)
        results.append(result)
        progress(result)
    finally:
        if cluster.process is not None and cluster.process.poll() is None:
            os.killpg(cluster.process.pid, signal.SIGKILL)
            cluster.process.wait()
        cluster.stop_own_nats()
        cluster.kill_leftovers()
        await cluster.close_api()
        if log_copy is not None and cluster.log_path.exists():
            shutil.copyfile(cluster.log_path, log_copy)
        if keep:
            print(f"kept {root} (log: {cluster.log_path})")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return results
