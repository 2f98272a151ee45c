"""One ``librarrarian up`` on a temporary library, as a user runs it, and what the harness needs of it: the
processes of its tree by role, its database (as the admin, to read the records), its dashboard API, and
the servers restarted the way an administrator would restart them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import msgspec
from librarrarian_embedded.nats_server import binary as nats_binary
from librarrarian_embedded.nats_server import free_port
from librarrarian_testing.transcode import fastest

NODE = "chaos-node"
SERVICES = ("encoder", "scanner", "cleanup", "arr", "gateway", "scheduler", "history")
# The watchdog's shortest stall (the contract's minimum): a hung ffmpeg is stopped within seconds, not 5 min.
STALL_SECONDS = 10.0
# Retries after a fault wait 2 s, not 30: a run takes seconds (the doubling is kept).
RETRY_DELAY_SECONDS = 2


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    argv: tuple[str, ...]
    marked: bool  # carries the cluster's marker in its environment
    state: str


def processes(marker: str) -> dict[int, Proc]:
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            argv = tuple(
                a.decode(errors="replace") for a in (entry / "cmdline").read_bytes().split(b"\0") if a
            )
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        found[int(entry.name)] = Proc(
            int(entry.name), int(stat[1]), argv, marker.encode() in environ, stat[0]
        )
    return found


def alive(pid: int) -> bool:
    """Running (a zombie is not: its parent has not reaped it yet)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def descendants(procs: dict[int, Proc], root: int) -> list[Proc]:
    out, frontier = [], [root]
    while frontier:
        parent = frontier.pop()
        for proc in procs.values():
            if proc.ppid == parent:
                out.append(proc)
                frontier.append(proc.pid)
    return out


class Cluster:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.media = root / "library"
        self.data_dir = root / "data"
        self.log_path = root / "up.log"
        self.port = free_port()
        self.marker = uuid.uuid4().hex
        self.process: subprocess.Popen[bytes] | None = None
        self.own_nats: subprocess.Popen[bytes] | None = None  # a NATS the harness restarted itself
        self._api: httpx.AsyncClient | None = None

    # -- starting and stopping ---------------------------------------------------------------------------

    def start(self) -> None:
        self.media.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if k not in {"NATS_URL", "DATABASE_URL"}}
        env.update(
            {
                "LIBRARRARIAN_CHAOS_MARKER": self.marker,
                "LOG_LEVEL": "INFO",
                "NODE_NAME": NODE,
                "AUTOSTART": "false",
                "HW_CLASSES": "cpu",  # no test encode at every start
                "RETRY_DELAY_SECONDS": str(RETRY_DELAY_SECONDS),
            }
        )
        argv = [sys.executable, "-m", "librarrarian", "up", "--media", str(self.media)]
        argv += ["--data-dir", str(self.data_dir), "--port", str(self.port)]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(argv, env=env, stdout=log, stderr=log, start_new_session=True)

    @property
    def credentials(self) -> dict[str, str]:
        return json.loads((self.data_dir / "credentials.json").read_text())  # type: ignore[no-any-return]

    def api(self) -> httpx.AsyncClient:
        if self._api is None:
            headers = {"X-Api-Key": self.credentials["api_key"]}
            self._api = httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{self.port}", headers=headers, timeout=10
            )
        return self._api

    async def healthy(self) -> bool:
        """``up`` runs, every service process is there, and the gateway answers."""
        if self.process is None or self.process.poll() is not None:
            return False
        if not (self.data_dir / "credentials.json").exists():
            return False
        if any(self.service_pid(name) is None for name in SERVICES):
            return False
        try:
            return (await self.api().get("/healthz")).status_code == 200
        except httpx.HTTPError:
            return False

    async def ready(self, timeout: float = 120.0) -> float:
        """Wait until healthy, then set the fastest encoder settings and start the node (as a user would
        through the API); seconds it took."""
        started = time.monotonic()
        while not await self.healthy():
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"up exited with {self.process.returncode}:\n{self.log_tail()}")
            if time.monotonic() - started > timeout:
                raise RuntimeError(f"cluster not healthy within {timeout} s:\n{self.log_tail()}")
            await asyncio.sleep(0.25)
        settings = msgspec.to_builtins(fastest(stall_seconds=STALL_SECONDS))
        for path, body in (("/api/v1/settings/transcode", settings),):
            while (await self.api().patch(path, json=body)).status_code != 200:
                await asyncio.sleep(0.5)
        while (await self.api().post(f"/api/v1/nodes/{NODE}/start")).status_code != 200:
            if time.monotonic() - started > timeout:
                raise RuntimeError(f"node not started within {timeout} s:\n{self.log_tail()}")
            await asyncio.sleep(0.5)
        return time.monotonic() - started

    def signal_up(self, sig: signal.Signals) -> None:
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.process.pid, sig)

    async def wait_exit(self, timeout: float = 90.0) -> int | None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        return self.process.poll()

    async def close_api(self) -> None:
        if self._api is not None:
            await self._api.aclose()
            self._api = None

    def stop_own_nats(self) -> None:
        """The NATS the harness restarted is the harness's to stop (``up`` holds only the first one)."""
        if self.own_nats is not None and self.own_nats.poll() is None:
            self.own_nats.terminate()
            self.own_nats.wait(10)
        self.own_nats = None

    async def leftovers(self, settle: float = 10.0, but_servers: bool = False) -> list[str]:
        """Processes of this cluster still alive ``settle`` seconds after ``up`` exited (none is the
        invariant), each as ``pid: argv``; ``but_servers``: leaving NATS and PostgreSQL out."""
        conf = str(self.data_dir / "nats" / "nats.conf")

        def server(p: Proc) -> bool:
            return (
                but_servers
                and bool(p.argv)
                and (conf in p.argv or Path(p.argv[0]).name.startswith("postgres"))
            )

        deadline = time.monotonic() + settle
        while True:
            left = [
                f"{p.pid}: {' '.join(p.argv)[:160]}"
                for p in processes(self.marker).values()
                if p.state != "Z"
                and p.pid != os.getpid()
                and (p.marked or any(str(self.data_dir) in a for a in p.argv))
                and not server(p)
            ]
            if not left or time.monotonic() > deadline:
                return left
            await asyncio.sleep(0.25)

    def kill_leftovers(self) -> None:
        """So the next start finds the machine clean (after they were reported); returns once they are
        gone, so that the next start does not race their end."""
        doomed = [
            p.pid
            for p in processes(self.marker).values()
            if p.pid != os.getpid() and (p.marked or any(str(self.data_dir) in a for a in p.argv))
        ]
        for pid in doomed:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in doomed) and time.monotonic() < deadline:
            time.sleep(0.05)

    def servers(self) -> list[str]:
        """The NATS and PostgreSQL servers running on this data directory (one of each is right)."""
        conf, pgdata = str(self.data_dir / "nats" / "nats.conf"), str(self.data_dir / "postgres")
        return [
            f"{p.pid}: {' '.join(p.argv)[:160]}"
            for p in processes(self.marker).values()
            if p.state != "Z"
            and p.argv
            and (conf in p.argv or (Path(p.argv[0]).name == "postgres" and pgdata in p.argv))
        ]

    # -- its processes -----------------------------------------------------------------------------------

    def service_pid(self, name: str) -> int | None:
        if self.process is None:
            return None
        procs = processes(self.marker)
        for proc in procs.values():
            if proc.ppid == self.process.pid and f"librarrarian_{name}" in proc.argv:
                return proc.pid
        return None

    def ffmpeg_pids(self) -> list[int]:
        encoder = self.service_pid("encoder")
        if encoder is None:
            return []
        procs = processes(self.marker)
        return [
            p.pid
            for p in descendants(procs, encoder)
            if p.argv and "ffmpeg" in Path(p.argv[0]).name and p.state != "Z"
        ]

    def nats_pid(self) -> int | None:
        conf = str(self.data_dir / "nats" / "nats.conf")
        for proc in processes(self.marker).values():
            if conf in proc.argv and proc.state != "Z":
                return proc.pid
        return None

    def postmaster(self) -> tuple[int, str, int] | None:
        """(pid, socket folder, port) of the PostgreSQL server, from its ``postmaster.pid``."""
        try:
            lines = (self.data_dir / "postgres" / "postmaster.pid").read_text().splitlines()
        except OSError:
            return None
        return int(lines[0]), lines[4], int(lines[3])

    # -- servers restarted as an administrator would -------------------------------------------------------

    async def restart_nats(self, down_for: float = 0.0) -> None:
        pid = self.nats_pid()
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            while alive(pid):
                await asyncio.sleep(0.05)
        await asyncio.sleep(down_for)
        self.stop_own_nats()
        conf = self.data_dir / "nats" / "nats.conf"
        env = {**os.environ, "LIBRARRARIAN_CHAOS_MARKER": self.marker}
        with open(self.data_dir / "nats" / "nats.log", "ab") as log:
            self.own_nats = subprocess.Popen(
                [nats_binary(), "-c", str(conf)],
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env=env,
            )
        port = int(conf.read_text().split("listen: 127.0.0.1:", 1)[1].split()[0])
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
            await asyncio.sleep(0.05)
        raise RuntimeError("the restarted NATS did not listen within 20 s")

    async def restart_postgres(self) -> None:
        import pgserver

        pg_ctl = Path(pgserver.__file__).parent / "pginstall" / "bin" / "pg_ctl"
        pgdata = self.data_dir / "postgres"
        argv = [str(pg_ctl), "-D", str(pgdata), "-w", "-m", "fast", "-l", str(pgdata / "log"), "restart"]
        env = {**os.environ, "LIBRARRARIAN_CHAOS_MARKER": self.marker}
        # pgserver runs the server as its own user when we are root (PostgreSQL refuses root).
        user = "pgserver" if os.geteuid() == 0 else None
        await asyncio.to_thread(
            subprocess.run, argv, env=env, user=user, capture_output=True, check=True, timeout=60
        )

    # -- its records -------------------------------------------------------------------------------------

    async def db(self) -> asyncpg.Connection:
        info = self.postmaster()
        assert info is not None, "PostgreSQL is not running"
        _, socket_dir, port = info
        return await asyncpg.connect(
            host=socket_dir,
            port=port,
            user="postgres",
            password=self.credentials["postgres_admin_password"],
            database="librarrarian",
        )

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""
