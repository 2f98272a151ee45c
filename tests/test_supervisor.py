"""The supervisor: restarts a crashing service with backoff, stops every child, leaves nothing behind."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
from pathlib import Path

from librarrarian_testing import eventually

from librarrarian.supervisor import Child, Supervisor

PY = sys.executable


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")


async def test_a_crashing_child_is_restarted_with_growing_backoff(tmp_path: Path) -> None:
    marker = tmp_path / "starts"
    script = f"open({str(marker)!r}, 'a').write('x'); raise SystemExit(3)"
    child = Child("crasher", [PY, "-c", script], dict(os.environ))
    supervisor = Supervisor([child], min_backoff=0.05, max_backoff=0.4)
    stopping = asyncio.Event()
    task = asyncio.create_task(supervisor.run(stopping))
    await eventually(lambda: marker.exists() and len(marker.read_text()) >= 4, timeout=20)
    stopping.set()
    await asyncio.wait_for(task, 10)
    assert child.restarts >= 3
    # Each start crashed with its own code; only the last may have been caught by the stop on its way out
    # (its marker written, the interpreter still exiting).
    assert set(child.exits[:-1]) == {3} and child.exits[-1] in {3, -signal.SIGTERM}


async def test_stop_terminates_and_kills_a_child_that_ignores_sigterm(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    stubborn = textwrap.dedent(f"""
        import signal, time, pathlib
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        pathlib.Path({str(ready)!r}).write_text("1")
        time.sleep(600)
    """)
    polite = Child("polite", [PY, "-c", "import time; time.sleep(600)"], dict(os.environ))
    rude = Child("rude", [PY, "-c", stubborn], dict(os.environ), stop_timeout=0.5)
    supervisor = Supervisor([polite, rude])
    stopping = asyncio.Event()
    task = asyncio.create_task(supervisor.run(stopping))
    await eventually(ready.exists, timeout=20)
    pids = [c.process.pid for c in (polite, rude) if c.process]
    stopping.set()
    await asyncio.wait_for(task, 10)
    assert polite.exits == [-signal.SIGTERM]
    assert rude.exits == [-signal.SIGKILL]
    assert not any(alive(pid) for pid in pids)


async def test_children_die_with_a_killed_supervisor(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    program = textwrap.dedent(f"""
        import asyncio, os, sys
        from librarrarian.supervisor import Child, Supervisor
        script = ("import os, time, pathlib; "
                  "pathlib.Path({str(pid_file)!r}).write_text(str(os.getpid())); time.sleep(600)")
        child = Child("sleeper", [sys.executable, "-c", script], dict(os.environ))
        asyncio.run(Supervisor([child]).run(asyncio.Event()))
    """)
    supervisor = await asyncio.create_subprocess_exec(PY, "-c", program)
    try:
        await eventually(lambda: pid_file.exists() and pid_file.read_text(), timeout=20)
        child_pid = int(pid_file.read_text())
        assert alive(child_pid)
        supervisor.kill()
        await supervisor.wait()
        await eventually(lambda: not alive(child_pid), timeout=10, message="child gone")
    finally:
        if supervisor.returncode is None:
            supervisor.kill()
            await supervisor.wait()
