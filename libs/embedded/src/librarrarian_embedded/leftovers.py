"""Servers an earlier process started in a data directory and could not stop, because it was killed outright
(SIGKILL, a crash, an out-of-memory kill). They hold the data directory: the next start finds them by the
pid their server wrote there, and only a process that really is that server (its command line names the
data directory's file) is taken for one. A pid the kernel has given to another process since is left alone."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

POLL_SECONDS = 0.05


def read_pid(path: Path) -> int | None:
    """The pid on the first line of ``path``; None when there is no such file or no pid in it."""
    try:
        first = path.read_text().split("\n", 1)[0].strip()
    except OSError:
        return None
    return int(first) if first.isdigit() and int(first) > 0 else None


def command_line(pid: int) -> list[str] | None:
    """The arguments the live process ``pid`` was started with; None when it is gone (or a zombie)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, IndexError):
        return None
    if state in {"Z", "X"} or not raw:
        return None
    return [os.fsdecode(part) for part in raw.rstrip(b"\0").split(b"\0")]


def running(pid: int, is_ours: Callable[[list[str]], bool]) -> bool:
    """Whether ``pid`` is alive and, by its command line, the server we look for."""
    argv = command_line(pid)
    return argv is not None and is_ours(argv)


def stop(pid: int, is_ours: Callable[[list[str]], bool], timeout: float) -> None:
    """SIGTERM, then after ``timeout`` SIGKILL, the process ``pid`` while it is still the one we look for
    (checked before every signal: a pid is reused once its process is gone)."""
    deadline = time.monotonic() + timeout
    sig = signal.SIGTERM
    while running(pid, is_ours):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        while running(pid, is_ours):
            if time.monotonic() > deadline:
                if sig == signal.SIGKILL:
                    return  # not even SIGKILL: nothing more to do from here (a process in the D state)
                sig = signal.SIGKILL
                deadline = time.monotonic() + timeout
                break
            time.sleep(POLL_SECONDS)
