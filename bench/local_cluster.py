"""One ``librarrarian up`` for a bench, as a user runs it (fresh data directory, its own NATS and PostgreSQL,
every service and one local encoder), reached on its NATS as the gateway, and stopped with Ctrl-C."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import nats
from librarrarian_contracts.permissions import inbox_prefix
from librarrarian_embedded.nats_server import free_port
from nats.aio.client import Client

from . import processes

SERVICES = ("gateway", "scheduler", "history", "scanner", "encoder", "cleanup", "arr")
# After start-up, a service still hashes its generated passwords, runs its first periodic pass, compiles its
# first queries: the cluster is settled once the whole tree used less than this share of one core for a
# whole second...
QUIET_SHARE = 0.05
# ... or after this long at most.
SETTLE_SECONDS = 60.0


@dataclass
class Up:
    process: subprocess.Popen[bytes]
    nc: Client
    port: int  # the dashboard's
    log: Path

    def check(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(f"librarrarian up exited with {self.process.returncode}: see {self.log}")

    async def healthy(self, timeout: float = 180.0) -> float:
        """Wait until every service runs and the gateway answers; seconds it took."""
        started = time.monotonic()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}", timeout=5) as http:
            while True:
                self.check()
                roles = {processes.role(pid) for pid in processes.tree(self.process.pid)}
                if set(SERVICES) <= roles:
                    try:
                        if (await http.get("/healthz")).status_code == 200:
                            return time.monotonic() - started
                    except httpx.HTTPError:
                        pass
                if time.monotonic() - started > timeout:
                    raise RuntimeError(f"the cluster was not healthy within {timeout} s: see {self.log}")
                await asyncio.sleep(0.2)

    async def settled(self) -> float:
        """Seconds waited until the cluster is quiet (see ``QUIET_SHARE``)."""
        started = time.monotonic()
        while time.monotonic() - started < SETTLE_SECONDS:
            before = sum(processes.cpu_by_role(self.process.pid).values())
            await asyncio.sleep(1.0)
            if sum(processes.cpu_by_role(self.process.pid).values()) - before < QUIET_SHARE:
                break
        return time.monotonic() - started


async def _quiet(_: Exception) -> None:
    """The server is not listening yet: the connect is tried again."""


@asynccontextmanager
async def up(
    media: Path, data: Path, log: Path, env: dict[str, str], *, core: int | None = None
) -> AsyncIterator[Up]:
    """``librarrarian up`` on ``media`` with ``env`` added to this process's environment; on ``core`` alone
    when given (``taskset``: its servers, services and encodes inherit it)."""
    environment = {k: v for k, v in os.environ.items() if k not in {"NATS_URL", "DATABASE_URL"}}
    environment.update(env)
    port = free_port()
    argv = [sys.executable, "-m", "librarrarian", "up", "--media", str(media), "--data-dir", str(data)]
    argv += ["--port", str(port)]
    if core is not None:
        argv = ["taskset", "-c", str(core), *argv]
    with open(log, "wb") as errors:
        process = subprocess.Popen(argv, env=environment, stdout=subprocess.DEVNULL, stderr=errors)
    try:
        while not (data / "nats" / "nats.conf").exists() or not (data / "credentials.json").exists():
            if process.poll() is not None:
                raise RuntimeError(f"librarrarian up exited with {process.returncode}: see {log}")
            await asyncio.sleep(0.05)
        found = re.search(r"listen: 127.0.0.1:(\d+)", (data / "nats" / "nats.conf").read_text())
        password = json.loads((data / "credentials.json").read_text())["nats_gateway_password"]
        assert found
        url = f"nats://gateway:{password}@127.0.0.1:{found.group(1)}"
        for _ in range(400):  # the config is written before the server listens
            try:
                nc = await nats.connect(
                    url, max_reconnect_attempts=0, inbox_prefix=inbox_prefix("gateway"), error_cb=_quiet
                )
                break
            except (OSError, nats.errors.NoServersError):
                await asyncio.sleep(0.05)
        else:
            raise RuntimeError("the cluster's NATS server never started listening")
        try:
            yield Up(process, nc, port, log)
        finally:
            await nc.close()
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=120)
