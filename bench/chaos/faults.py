"""The faults, each a function of the run's context: what a home server meets (a crash, a power cut of
one process, a server restarted or paused, a hung or crashing ffmpeg, a full disk, a share unmounted, files
changed under us). A fault that changes the library on purpose updates what the invariants expect."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import resource
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from librarrarian_contracts.topology import WORK_ACK_WAIT_SECONDS

from . import invariants
from .cluster import Cluster
from .invariants import Expected, Violation

RERUN_LIMIT = WORK_ACK_WAIT_SECONDS + 10


@dataclass
class Context:
    cluster: Cluster
    rng: random.Random
    expected: dict[Path, Expected]
    run_files: list[Path]
    violations: list[Violation] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


async def query(cluster: Cluster, sql: str, *args: object) -> list[dict[str, object]]:
    """One query as the admin, on a fresh connection (a fault may have restarted the server); [] while
    the server cannot be reached."""
    try:
        conn = await cluster.db()
    except (OSError, AssertionError, Exception):  # noqa: BLE001 - down, restarting, starting
        return []
    try:
        return [dict(r) for r in await conn.fetch(sql, *args)]
    except Exception:  # noqa: BLE001 - the server went away mid-query
        return []
    finally:
        with contextlib.suppress(Exception):
            await conn.close()


async def running_jobs(cluster: Cluster) -> dict[int, object]:
    rows = await query(cluster, "SELECT id, started_at FROM scheduler.jobs WHERE status = 'running'")
    return {int(str(r["id"])): r["started_at"] for r in rows}


async def moved_on(cluster: Cluster, before: dict[int, object]) -> bool:
    """Every job running at the fault has started again or ended."""
    if not before:
        return True
    rows = await query(
        cluster,
        "SELECT id, status, started_at FROM scheduler.jobs WHERE id = ANY($1::bigint[])",
        list(before),
    )
    if len(rows) != len(before):
        return False
    return all(r["status"] != "running" or r["started_at"] != before[int(str(r["id"]))] for r in rows)


def kill(pid: int | None, sig: signal.Signals, ctx: Context, what: str) -> None:
    if pid is None:
        ctx.notes.append(f"no {what} process to signal")
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def kill_service(name: str) -> Callable[[Context], Awaitable[None]]:
    async def fault(ctx: Context) -> None:
        before = await running_jobs(ctx.cluster) if name == "encoder" else {}
        started = time.monotonic()
        kill(ctx.cluster.service_pid(name), signal.SIGKILL, ctx, name)
        if name != "encoder" or not before:
            return
        # After a node dies its job runs again (here: on the restarted node) within AckWait + 10 s.
        took = None
        while time.monotonic() - started < RERUN_LIMIT + 30:
            if await moved_on(ctx.cluster, before):
                took = time.monotonic() - started
                break
            await asyncio.sleep(0.25)
        ctx.violations += invariants.check_rerun(took, RERUN_LIMIT)
        ctx.notes.append(f"job ran again after {took:.1f} s" if took is not None else "job never ran again")

    return fault


async def restart_up(ctx: Context, when: str, settle: float, take_over: bool = False) -> None:
    """After ``up`` exited: no process of it may be left (the invariant), then a start as a user would
    (after clearing what was left, so one finding does not cascade into the next runs).

    ``take_over``: ``up`` was killed outright and could stop nothing; its servers may outlive it, and the
    next start must take them over (use or stop them): one server of each kind afterwards, not two."""
    cluster = ctx.cluster
    code = await cluster.wait_exit(90)
    ctx.notes.append(f"up exited with {code}")
    cluster.stop_own_nats()
    left = await cluster.leftovers(settle, but_servers=take_over)
    ctx.violations += invariants.check_processes(left, when)
    if take_over:
        servers = cluster.servers()
        if servers:
            ctx.notes.append(f"{len(servers)} server(s) left for the next start to take over")
    else:
        cluster.kill_leftovers()
    await cluster.close_api()
    cluster.start()
    try:
        await cluster.ready()
    except RuntimeError as error:
        # A user would start it again; that the first start failed is a finding of its own.
        last = [line for line in str(error).splitlines() if line.strip()][-1]
        ctx.violations.append(Violation("restart failed", f"{when}: the next start of up failed: {last}"))
        cluster.kill_leftovers()
        cluster.start()
        await cluster.ready()
    if take_over and len(servers := cluster.servers()) != 2:
        ctx.violations.append(Violation(invariants.OUTLIVED, f"{when}, after the next start: {servers}"))


async def kill_up(ctx: Context) -> None:
    ctx.cluster.signal_up(signal.SIGKILL)
    # Its services get SIGTERM from their parent's death and the encoder its grace period: 30 s in all.
    await restart_up(ctx, "after kill -9 of up", settle=35.0, take_over=True)


async def sigterm_twice(ctx: Context) -> None:
    """What ``uv run`` does to ``make run``: the process group's SIGTERM, then the one it forwards."""
    ctx.cluster.signal_up(signal.SIGTERM)
    await asyncio.sleep(0.05)
    ctx.cluster.signal_up(signal.SIGTERM)
    await restart_up(ctx, "after SIGTERM twice", settle=10.0)


async def nats_restart(ctx: Context) -> None:
    await ctx.cluster.restart_nats(down_for=round(ctx.rng.uniform(0.0, 3.0), 2))


async def nats_pause(ctx: Context) -> None:
    pid = ctx.cluster.nats_pid()
    kill(pid, signal.SIGSTOP, ctx, "NATS")
    try:
        await asyncio.sleep(ctx.rng.uniform(2.0, 5.0))
    finally:
        kill(pid, signal.SIGCONT, ctx, "NATS")


async def postgres_restart(ctx: Context) -> None:
    await ctx.cluster.restart_postgres()


async def both_restart(ctx: Context) -> None:
    await asyncio.gather(nats_restart(ctx), postgres_restart(ctx))


async def ffmpeg_signal(ctx: Context, sig: signal.Signals) -> None:
    pids = ctx.cluster.ffmpeg_pids()
    if not pids:
        ctx.notes.append("no ffmpeg running at the moment")
    for pid in pids:
        kill(pid, sig, ctx, "ffmpeg")


async def ffmpeg_hung(ctx: Context) -> None:
    # Left stopped: a hung driver does not come back. The encoder's stall watchdog must end it.
    await ffmpeg_signal(ctx, signal.SIGSTOP)


async def ffmpeg_crash(ctx: Context) -> None:
    await ffmpeg_signal(ctx, signal.SIGKILL)


async def size_limit(ctx: Context) -> None:
    """The output's disk fills: a 64 KiB file-size limit on the running ffmpeg (EFBIG, SIGXFSZ)."""
    pids = ctx.cluster.ffmpeg_pids()
    if not pids:
        ctx.notes.append("no ffmpeg running at the moment")
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            resource.prlimit(pid, resource.RLIMIT_FSIZE, (65536, 65536))


async def library_vanishes(ctx: Context) -> None:
    """The share is unmounted (the folder renamed away), a scan runs meanwhile, then it comes back."""
    cluster = ctx.cluster
    count = "SELECT count(*) AS n FROM scanner.files"
    before = int(str((await query(cluster, count))[0]["n"]))
    away = cluster.media.with_name(cluster.media.name + ".away")
    os.rename(cluster.media, away)
    lowest = before
    try:
        with contextlib.suppress(Exception):
            await cluster.api().post("/api/v1/scans", json={})
        deadline = time.monotonic() + ctx.rng.uniform(3.0, 6.0)
        while time.monotonic() < deadline:
            rows = await query(cluster, count)
            if rows:
                lowest = min(lowest, int(str(rows[0]["n"])))
            await asyncio.sleep(0.25)
    finally:
        os.rename(away, cluster.media)
    with contextlib.suppress(Exception):
        await cluster.api().post("/api/v1/scans", json={})
    ctx.violations += invariants.check_catalogue(before, lowest)
    ctx.notes.append(f"catalogue {before} before, lowest {lowest} while away")


async def target(ctx: Context) -> Path:
    """The run's file being encoded now, else one of the run's files at random."""
    rows = await query(ctx.cluster, "SELECT path FROM scheduler.jobs WHERE status = 'running'")
    running = [Path(str(r["path"])) for r in rows if Path(str(r["path"])) in ctx.run_files]
    present = [p for p in ctx.run_files if p.exists()]
    choice = ctx.rng.choice(running or present)
    ctx.notes.append(f"{choice.name} ({'being encoded' if running else 'not encoding'})")
    return choice


async def file_changed(ctx: Context) -> None:
    from .media import sha256

    path = await target(ctx)
    with open(path, "ab") as handle:
        handle.write(ctx.rng.randbytes(4096))
    old = ctx.expected[path]
    ctx.expected[path] = Expected(path, sha256(path), old.facts, needs_job=True)


async def file_renamed(ctx: Context) -> None:
    path = await target(ctx)
    new = path.with_name(f"{path.stem} (renamed){path.suffix}")
    os.rename(path, new)
    old = ctx.expected[path]
    ctx.expected[path] = Expected(path, None, None, needs_job=False)
    ctx.expected[new] = Expected(new, old.sha256, old.facts, needs_job=True)
    ctx.run_files.append(new)


async def file_deleted(ctx: Context) -> None:
    path = await target(ctx)
    os.unlink(path)
    ctx.expected[path] = Expected(path, None, None, needs_job=False)


FAULTS: dict[str, Callable[[Context], Awaitable[None]]] = {
    "kill -9 encoder": kill_service("encoder"),
    "kill -9 scheduler": kill_service("scheduler"),
    "kill -9 scanner": kill_service("scanner"),
    "kill -9 history": kill_service("history"),
    "kill -9 cleanup": kill_service("cleanup"),
    "kill -9 gateway": kill_service("gateway"),
    "kill -9 up": kill_up,
    "SIGTERM up twice": sigterm_twice,
    "NATS restart": nats_restart,
    "NATS pause": nats_pause,
    "PostgreSQL restart": postgres_restart,
    "NATS + PostgreSQL restart": both_restart,
    "ffmpeg hung (SIGSTOP)": ffmpeg_hung,
    "ffmpeg crash (SIGKILL)": ffmpeg_crash,
    "output file-size limit": size_limit,
    "library folder vanishes": library_vanishes,
    "file changed while probed": file_changed,
    "file changed while encoded": file_changed,
    "file renamed while encoded": file_renamed,
    "file deleted while encoded": file_deleted,
}
