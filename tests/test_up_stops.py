"""How `librarrarian up` ends, as users end it: one stop is always graceful even when it arrives twice (from
`uv run` or `make`, which pass on the signal the whole process group got), a later second Ctrl-C forces
a quick exit that still stops the servers, and after `up` is killed outright the next `up` on the same data
directory stops or takes over what was left and finds every setting and record again. Each time, no process
of the ones `up` started (found by pid, in its process tree and the servers' pid files) outlives it."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from librarrarian_embedded import PostgresServer
from librarrarian_embedded.nats_server import PID_FILE, free_port
from librarrarian_runtime import lifecycle
from librarrarian_testing import eventually

REPO = Path(__file__).resolve().parents[1]
QUICK = {"x265": {tier: {"level": 31, "preset": "veryfast"} for tier in ("sd", "720p", "1080p", "4k")}}

pytestmark = pytest.mark.e2e


def start_time(pid: int) -> int | None:
    """The process's start time (clock ticks after boot), None when it is gone or a zombie: a pid with
    another start time is another process."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] in {"Z", "X"} else int(fields[19])


def children_of(pids: set[int]) -> set[int]:
    """Every live descendant of ``pids``, by their parent pids."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found: set[int] = set()
    frontier = set(pids)
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


@dataclass
class Up:
    """One `up` process (or the command that runs it), and every process it was seen to start."""

    argv: list[str]
    media: Path
    data: Path
    log: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    seen: dict[int, int] = field(default_factory=dict)  # pid -> start time

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if k not in {"NATS_URL", "DATABASE_URL"}}
        env["AUTOSTART"] = "false"
        with self.log.open("ab") as log:
            # Its own session and process group, as a terminal gives a command: a signal to the group
            # reaches every process in it, as Ctrl-C does.
            self.process = subprocess.Popen(
                self.argv, env=env, stdout=log, stderr=log, start_new_session=True, cwd=REPO
            )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    async def running(self) -> None:
        await eventually(lambda: "Librarrarian is running" in self.text(), timeout=120, message="up ready")
        # The gateway answers once every service it needs is there.
        await eventually(self.answering, timeout=60, message="gateway answering")
        self.look()

    async def answering(self) -> bool:
        try:
            async with self.client() as client:
                return (await client.get("/api/v1/settings/transcode")).status_code == 200
        except httpx.TransportError:
            return False

    def client(self) -> httpx.AsyncClient:
        import json

        key = json.loads((self.data / "credentials.json").read_text())["api_key"]
        return httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{self.port}", headers={"X-Api-Key": key}, timeout=10
        )

    def look(self) -> None:
        """Note every process up started: its tree, and the servers by the pids they wrote (PostgreSQL's
        postmaster is not up's child: pg_ctl starts it detached)."""
        assert self.process is not None
        roots = {self.process.pid}
        for pid_file in (self.data / "postgres" / "postmaster.pid", self.data / "nats" / PID_FILE):
            first = pid_file.read_text().split("\n", 1)[0].strip()
            roots.add(int(first))
        for pid in roots | children_of(roots):
            started = start_time(pid)
            if started is not None:
                self.seen[pid] = started

    def left(self) -> list[str]:
        """The processes seen that still run."""
        alive = [pid for pid, started in self.seen.items() if start_time(pid) == started]
        return [
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:160] for pid in alive
        ]

    def service_pid(self, module: str) -> int:
        assert self.process is not None
        for pid in children_of({self.process.pid}):
            try:
                if module.encode() in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0"):
                    return pid
            except OSError:
                continue
        raise AssertionError(f"no {module} running")

    def wait(self, timeout: float = 90) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


@pytest.fixture
def ups(tmp_path: Path) -> Iterator[list[Up]]:
    made: list[Up] = []
    yield made
    for up in made:
        up.kill()
    for up in made:  # whatever a failed test left: killed, so that it does not hold the machine
        for pid, started in up.seen.items():
            if start_time(pid) == started:
                os.kill(pid, signal.SIGKILL)


def new_up(tmp_path: Path, ups: list[Up], command: list[str] | None = None, log: str = "up.log") -> Up:
    media, data = tmp_path / "media", tmp_path / "data"
    media.mkdir(exist_ok=True)
    port = free_port()
    options = ["--media", str(media), "--data-dir", str(data), "--port", str(port)]
    argv = command or [sys.executable, "-m", "librarrarian", "up", *options]
    up = Up(argv, media, data, tmp_path / log, port)
    ups.append(up)
    return up


async def gone(up: Up) -> None:
    try:
        await eventually(lambda: not up.left(), timeout=60, message="every process up started gone")
    except AssertionError:
        raise AssertionError(f"still running: {up.left()}") from None


async def test_a_sigterm_that_arrives_twice_is_one_graceful_stop(tmp_path: Path, ups: list[Up]) -> None:
    up = new_up(tmp_path, ups)
    up.start()
    await up.running()
    assert up.process is not None
    up.process.send_signal(signal.SIGTERM)
    # The copy a forwarder sends: once the first was taken, a fraction of a second later.
    await eventually(lambda: "SIGTERM received: stopping gracefully" in up.text(), message="first taken")
    up.process.send_signal(signal.SIGTERM)
    assert up.wait() == 0
    log = up.text()
    assert "the same stop, passed on" in log
    assert "exiting now" not in log
    assert "stopped NATS" in log and "stopped PostgreSQL" in log
    await gone(up)


def uv() -> list[str]:
    """uv as the Makefile finds it: on PATH, else the module `make setup` installs."""
    found = shutil.which("uv")
    if found:
        return [found]
    python = shutil.which("python3")
    if python and subprocess.run([python, "-m", "uv", "--version"], capture_output=True).returncode == 0:
        return [python, "-m", "uv"]
    pytest.skip("uv is not installed")


@pytest.mark.parametrize("runner", ["make run", "uv run"])
async def test_ctrl_c_to_the_process_group_under_make_or_uv_is_one_graceful_stop(
    tmp_path: Path, ups: list[Up], runner: str
) -> None:
    media, data, port = tmp_path / "media", tmp_path / "data", free_port()
    if runner == "make run":
        # The Makefile's own target, its setup step taken as done (the environment runs this test).
        make = shutil.which("make") or pytest.skip("make is not installed")
        command = [make, "-s", "-o", "setup", "run", f"MEDIA={media}", f"DATA_DIR={data}", f"PORT={port}"]
        command.append(f"VENV={sys.prefix}")
    else:
        command = [*uv(), "run", "--no-sync", "librarrarian", "up", "--media", str(media)]
        command += ["--data-dir", str(data), "--port", str(port)]
    up = new_up(tmp_path, ups, command)
    up.port = port
    up.start()
    await up.running()
    assert up.process is not None
    os.killpg(up.process.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
    up.wait()
    await gone(up)
    log = up.text()
    assert "exiting now" not in log
    assert "stopped NATS" in log and "stopped PostgreSQL" in log


async def test_a_second_ctrl_c_later_forces_an_exit_that_still_stops_the_servers(
    tmp_path: Path, ups: list[Up]
) -> None:
    up = new_up(tmp_path, ups)
    up.start()
    await up.running()
    assert up.process is not None
    # A service that will not stop (paused): the graceful stop would wait for it up to its timeout.
    os.kill(up.service_pid("librarrarian_gateway"), signal.SIGSTOP)
    up.process.send_signal(signal.SIGINT)
    await eventually(lambda: "SIGINT received: stopping gracefully" in up.text(), message="first taken")
    first = time.monotonic()  # no earlier than up took it
    await eventually(lambda: "stopping gateway" in up.text(), message="graceful stop under way")
    # The person presses Ctrl-C again, later than any forwarded copy would come.
    await eventually(lambda: time.monotonic() - first > lifecycle.REPEAT_SECONDS, message="a moment later")
    up.process.send_signal(signal.SIGINT)
    assert up.wait() == lifecycle.FORCED_EXIT
    assert "second SIGINT: exiting now" in up.text()
    await gone(up)


async def test_after_up_is_killed_the_next_up_finds_everything_and_leaves_nothing(
    tmp_path: Path, ups: list[Up]
) -> None:
    first = new_up(tmp_path, ups)
    first.start()
    await first.running()
    async with first.client() as client:
        patched = await client.patch("/api/v1/settings/transcode", json={"quality": QUICK})
        assert patched.status_code == 200, patched.text  # kept in NATS (JetStream)
        user = {"name": "viewer", "password": "watching films", "scope": "read"}
        added = await client.post("/api/v1/users", json=user)
        assert added.status_code == 201, added.text  # kept in PostgreSQL
    assert first.process is not None
    first.process.kill()  # up alone, outright: its servers and services are left to themselves
    first.wait()
    first.look()

    old_nats = int((first.data / "nats" / PID_FILE).read_text())
    second = new_up(tmp_path, ups, log="up-again.log")
    second.start()
    await second.running()
    # The services died with their parent; the NATS server left running was stopped (two servers must
    # not share a store); the PostgreSQL server was taken over, and is stopped with the second up.
    assert start_time(old_nats) != first.seen[old_nats]
    async with second.client() as client:
        settings = (await client.get("/api/v1/settings/transcode")).json()
        assert QUICK["x265"]["sd"].items() <= settings["quality"]["x265"]["sd"].items()
        names = [u["name"] for u in (await client.get("/api/v1/users")).json()]
        assert "viewer" in names
    assert second.process is not None
    second.process.send_signal(signal.SIGTERM)
    assert second.wait() == 0
    await gone(second)
    await gone(first)


def test_a_second_up_on_the_same_data_directory_is_refused(tmp_path: Path) -> None:
    from librarrarian import started

    data = tmp_path / "data"
    data.mkdir()
    held = started.hold(data)
    try:
        media = tmp_path / "media"
        media.mkdir()
        argv = [sys.executable, "-m", "librarrarian", "up", "--media", str(media), "--data-dir", str(data)]
        done = subprocess.run([*argv, "--port", str(free_port())], capture_output=True, text=True, timeout=60)
    finally:
        os.close(held)
    assert done.returncode == 2
    assert "another librarrarian process uses" in done.stderr
    assert not (data / "nats").exists() and not (data / "postgres").exists()


def test_a_postmaster_pid_naming_another_program_does_not_stop_a_start(tmp_path: Path) -> None:
    """The machine lost power; at the next boot another program got the postmaster's old pid."""
    server = PostgresServer(tmp_path / "pg")
    server.start()
    server.stop()
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        lines = ["0", str((tmp_path / "pg").resolve()), "0", "5432", "", "", "0 0", "ready"]
        lines[0] = str(stranger.pid)
        (tmp_path / "pg" / "postmaster.pid").write_text("\n".join(lines) + "\n")
        server = PostgresServer(tmp_path / "pg")
        server.start()
        try:
            assert "host=" in server.uri()
            pid = int((tmp_path / "pg" / "postmaster.pid").read_text().split("\n", 1)[0])
            assert pid != stranger.pid
        finally:
            server.stop()
        assert stranger.poll() is None  # never signalled
    finally:
        stranger.kill()
        stranger.wait()


async def test_a_postgresql_restarted_while_up_runs_is_stopped_with_it(tmp_path: Path, ups: list[Up]) -> None:
    """An administrator (or a crash and its recovery) restarted the server: it has another pid than the one
    `up` started, and is stopped all the same."""
    import importlib.util

    up = new_up(tmp_path, ups)
    up.start()
    await up.running()
    pgdata = up.data / "postgres"
    spec = importlib.util.find_spec("pgserver")  # found, not imported: the import warns without a runtime dir
    assert spec is not None and spec.origin is not None
    pg_ctl = Path(spec.origin).parent / "pginstall" / "bin" / "pg_ctl"
    before = (pgdata / "postmaster.pid").read_text().split("\n", 1)[0]
    restart = [str(pg_ctl), "-D", str(pgdata), "-w", "-m", "fast", "-l", str(pgdata / "log"), "restart"]
    # Detached as pg_ctl starts it: its own session, so the new postmaster is nobody's child here.
    await asyncio.to_thread(
        subprocess.run,
        restart,
        user="pgserver" if os.geteuid() == 0 else None,
        capture_output=True,
        check=True,
        timeout=60,
        start_new_session=True,
    )
    assert (pgdata / "postmaster.pid").read_text().split("\n", 1)[0] != before
    await eventually(up.answering, timeout=60, message="gateway answering after the restart")
    up.look()  # the new postmaster among what up must stop
    assert up.process is not None
    up.process.send_signal(signal.SIGTERM)
    assert up.wait() == 0
    await gone(up)
