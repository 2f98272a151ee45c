"""A PostgreSQL server from the ``pgserver`` wheel, in a data directory, on a Unix socket only.

pgserver shares one server between the processes that use a data directory: each adds its pid to the
directory's list of handles, and the last to leave stops the server. A process killed outright never leaves,
so its pid stays in the list and nobody would stop the server again: a start first drops the pids of
processes that are gone. A server left running by such a process is found by its ``postmaster.pid`` and used
again, as it is, with all its data."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import leftovers

log = logging.getLogger(__name__)

HANDLES = ".handle_pids.json"  # pgserver's list of the pids that use the server
STOP_SECONDS = 20  # a fast stop ends every session and checkpoints; immediate, after that, just exits


class PostgresServer:
    """Start with ``start()``: a second start on the same directory finds the data (and a running
    server) again. ``stop()`` stops it when this process holds the last handle; ``stop(now=True)``
    stops it whoever else uses it."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self._server: Any = None

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("XDG_RUNTIME_DIR", str(self.data_dir.parent))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
            from pgserver import get_server  # type: ignore[attr-defined]
            from pgserver.postgres_server import PostgresServer as Shared

            with Shared._lock:  # pgserver's own, held while it reads and writes the list
                forget_the_dead(self.data_dir.resolve() / HANDLES)
                clear_stale_lock(self.data_dir.resolve())
            self._server = get_server(self.data_dir, cleanup_mode="stop")

    def uri(self, database: str = "postgres") -> str:
        assert self._server is not None, "start() first"
        return str(self._server.get_uri(database))

    def stop(self, *, now: bool = False) -> None:
        if now:
            stop_running_in(self.data_dir)
        if self._server is None:
            return
        server, self._server = self._server, None
        server.cleanup()  # pgserver's part: this process leaves the list (and stops a server still up)
        # pgserver stops the postmaster it saw at start; one restarted since (by an administrator, after a
        # crash) has another pid and would outlive us. Once nobody uses the server, stop whatever runs there.
        if not users_left(self.data_dir.resolve() / HANDLES):
            stop_running_in(self.data_dir)


def _listed(handles: Path) -> list[object] | None:
    """pgserver's list of the pids that use the server, None when there is none to read."""
    try:
        pids = json.loads(handles.read_text())
    except (OSError, ValueError):
        return None
    return pids if isinstance(pids, list) else None


def forget_the_dead(handles: Path) -> None:
    """Drop from pgserver's list the pids of processes that are gone."""
    pids = _listed(handles)
    if pids is None:
        return
    alive = [pid for pid in pids if isinstance(pid, int) and leftovers.command_line(pid) is not None]
    if alive != pids:
        log.info("PostgreSQL: %d process(es) that used the server are gone", len(pids) - len(alive))
        handles.write_text(json.dumps(alive))


def users_left(handles: Path) -> list[int]:
    """The live processes, other than this one, in pgserver's list of those that use the server."""
    return [
        pid
        for pid in _listed(handles) or []
        if isinstance(pid, int) and pid != os.getpid() and leftovers.command_line(pid) is not None
    ]


def clear_stale_lock(pgdata: Path) -> None:
    """Remove a ``postmaster.pid`` that names a live process which is not this directory's server: the
    server died with the machine and another process got its pid since. pgserver would take that process
    for the server, and PostgreSQL would refuse to start beside it. (PostgreSQL itself replaces the file
    when the pid is free.)"""
    lock = pgdata / "postmaster.pid"
    pid = leftovers.read_pid(lock)
    if pid is None or leftovers.command_line(pid) is None or leftovers.running(pid, postmaster_of(pgdata)):
        return
    log.warning("PostgreSQL: %s names pid %d, which is another program now; removing it", lock, pid)
    lock.unlink(missing_ok=True)


def stop_running_in(data_dir: Path) -> None:
    """``pg_ctl stop`` on ``data_dir`` whoever uses the server (even while another thread starts it): fast
    (sessions end, a checkpoint is written), else immediate (a crash the next start recovers from, losing
    nothing committed). Run as pgserver runs it: as its own user when we are root (PostgreSQL refuses root)."""
    from pgserver._commands import pg_ctl  # type: ignore[attr-defined]

    pgdata = Path(data_dir).resolve()
    pid = leftovers.read_pid(pgdata / "postmaster.pid")
    # pg_ctl signals the pid in the file: only when it is this data directory's postmaster, not a process
    # that got the number after the server died with the machine.
    if pid is None or not leftovers.running(pid, postmaster_of(pgdata)):
        return
    user = "pgserver" if os.geteuid() == 0 else None  # pgserver's choice, made the same way
    for mode in ("fast", "immediate"):
        try:
            pg_ctl(["-w", "-t", str(STOP_SECONDS), "-m", mode, "stop"], pgdata=pgdata, user=user)
            return
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            if not leftovers.running(pid, postmaster_of(pgdata)):
                return
            log.warning("PostgreSQL did not stop (%s); trying harder", mode)


def postmaster_of(pgdata: Path) -> Callable[[list[str]], bool]:
    """Whether a command line is a postgres server's on ``pgdata`` (pgserver starts it with ``-D pgdata``)."""

    def runs_here(argv: list[str]) -> bool:
        return Path(argv[0]).name == "postgres" and str(pgdata) in argv

    return runs_here
