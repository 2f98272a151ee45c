"""What the load adds to the chaos harness's cluster: more encoder nodes, each its own process logged in as
the ``encoder`` role (as a node on another machine joins: the NATS URL and its credentials), and the
harness's own logins to the bus, as the service whose messages it sends or reads."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator

import nats
from librarrarian_contracts.permissions import inbox_prefix
from nats.aio.client import Client

from bench.chaos.cluster import NODE, RETRY_DELAY_SECONDS, Cluster

GRACE_SECONDS = 20


def nats_url(cluster: Cluster, user: str) -> str:
    conf = (cluster.data_dir / "nats" / "nats.conf").read_text()
    found = re.search(r"listen: 127\.0\.0\.1:(\d+)", conf)
    if found is None:
        raise RuntimeError("no listen port in the cluster's nats.conf")
    password = cluster.credentials[f"nats_{user}_password"]
    return f"nats://{user}:{password}@127.0.0.1:{found.group(1)}"


@contextlib.asynccontextmanager
async def bus(cluster: Cluster, user: str) -> AsyncIterator[Client]:
    """A connection as ``user`` (its own reply inbox, as its permissions want)."""
    nc = await nats.connect(
        nats_url(cluster, user), inbox_prefix=inbox_prefix(user), max_reconnect_attempts=-1
    )
    try:
        yield nc
    finally:
        await nc.drain()


class Encoders:
    """The nodes the harness started beside the one ``up`` runs (named ``<NODE>-2``, ``-3``, …)."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    @property
    def names(self) -> list[str]:
        return [NODE, *self.processes]

    def start(self, count: int) -> None:
        """``count`` more nodes, one slot each, bound to the CPU class without the test encode."""
        for number in range(2, count + 2):
            name = f"{NODE}-{number}"
            env = {k: v for k, v in os.environ.items() if k not in {"NATS_URL", "DATABASE_URL"}}
            env.update(
                {
                    "LIBRARRARIAN_CHAOS_MARKER": self.cluster.marker,  # so the harness's sweeps find it
                    "NATS_URL": nats_url(self.cluster, "encoder"),
                    "MEDIA_PATHS": str(self.cluster.media),
                    "NODE_NAME": name,
                    "SLOTS": "1",
                    "HW_CLASSES": "cpu",
                    "AUTOSTART": "false",
                    "GRACE_SECONDS": str(GRACE_SECONDS),
                    "RETRY_DELAY_SECONDS": str(RETRY_DELAY_SECONDS),
                    "LOG_LEVEL": "INFO",
                    "PYTHONUNBUFFERED": "1",
                }
            )
            with open(self.cluster.root / f"{name}.log", "ab") as log:
                self.processes[name] = subprocess.Popen(
                    [sys.executable, "-m", "librarrarian_encoder"],
                    env=env,
                    stdout=log,
                    stderr=log,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )

    def pids(self) -> dict[str, int | None]:
        return {name: p.pid if p.poll() is None else None for name, p in self.processes.items()}

    async def control(self, action: str, timeout: float = 60.0) -> None:
        """``start``, ``stop``, ``pause`` or ``resume`` every node through the API, as a user would (a node
        just started answers once it has registered)."""
        api = self.cluster.api()
        deadline = asyncio.get_running_loop().time() + timeout
        for name in self.names:
            while (await api.post(f"/api/v1/nodes/{name}/{action}")).status_code != 200:
                if asyncio.get_running_loop().time() > deadline:
                    raise RuntimeError(f"node {name} did not take {action!r} within {timeout} s")
                await asyncio.sleep(0.25)

    async def stop(self) -> None:
        """SIGTERM, as a service manager stops a node; SIGKILL after the grace."""
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                await asyncio.to_thread(process.wait, GRACE_SECONDS + 10)
            except subprocess.TimeoutExpired:
                process.kill()
                await asyncio.to_thread(process.wait)
