"""Three real nats-server processes (the pinned wheel's) in one JetStream cluster, each run with
``deploy/nats-cluster.conf`` and ``deploy/nats.conf`` as a deployment runs them, on loopback ports and stores
of their own; every role's password known, and one more user, ``observer``, who may read everything: the
test's own eyes (the roles may not read whole streams). A server can be killed and started again."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import nats
from librarrarian_contracts import nats_config
from librarrarian_contracts.permissions import users
from librarrarian_embedded.nats_server import binary, free_port
from nats.aio.client import Client
from nats.js.errors import Error as JetStreamError

from .polling import eventually
from .role_servers import password

DEPLOY = nats_config.DEPLOY_CONFIG.parent
OBSERVER = "observer"
ROUTE_PASSWORD = "secret-route"


@dataclass
class Server:
    name: str
    folder: Path
    port: int
    route_port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.folder / "nats.log"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


@dataclass
class NatsCluster:
    folder: Path
    servers: list[Server] = field(default_factory=list)

    @classmethod
    def make(cls, folder: Path, size: int = 3) -> NatsCluster:
        servers = [
            Server(f"nats-{n}", folder / f"nats-{n}", free_port(), free_port()) for n in range(1, size + 1)
        ]
        cluster = cls(folder, servers)
        for server in servers:
            cluster._write_config(server)
        return cluster

    def url(self, user: str, *, every_server: bool = False) -> str:
        """``NATS_URL`` listing every server, the user's credentials in the first only (as the README
        shows it) or in each."""
        secret = OBSERVER if user == OBSERVER else password(user)
        return ",".join(
            f"nats://{user}:{secret}@127.0.0.1:{s.port}"
            if every_server or i == 0
            else f"nats://127.0.0.1:{s.port}"
            for i, s in enumerate(self.servers)
        )

    def server(self, name: str) -> Server:
        return next(s for s in self.servers if s.name == name)

    def _write_config(self, server: Server) -> None:
        """deploy/nats.conf and deploy/nats-cluster.conf, with this server's ports and store (and the
        observer among the users); the cluster file includes the other, as in the deploy folder."""
        server.folder.mkdir(parents=True, exist_ok=True)
        conf = nats_config.deploy()
        for old, new in (
            ("listen: 0.0.0.0:4222", f"listen: 127.0.0.1:{server.port}"),
            ("http: 127.0.0.1:8222", f"http: 127.0.0.1:{free_port()}"),
            ("store_dir: /data", f"store_dir: {nats_config.literal(str(server.folder / 'jetstream'))}"),
            ("  users: [\n", f'  users: [\n    {{ user: {OBSERVER}, password: "{OBSERVER}" }},\n'),
        ):
            assert old in conf, old
            conf = conf.replace(old, new, 1)
        (server.folder / "nats.conf").write_text(conf)
        cluster = (DEPLOY / "nats-cluster.conf").read_text()
        assert "listen: 0.0.0.0:6222" in cluster
        cluster = cluster.replace("listen: 0.0.0.0:6222", f"listen: 127.0.0.1:{server.route_port}")
        (server.folder / "nats-cluster.conf").write_text(cluster)

    def environment(self, server: Server) -> dict[str, str]:
        routes = ", ".join(f"nats://route:{ROUTE_PASSWORD}@127.0.0.1:{s.route_port}" for s in self.servers)
        env = {nats_config.env_password(user)[1:]: password(user) for user in users()}
        return {
            **env,
            "NATS_SERVER_NAME": server.name,
            "NATS_ROUTE_PASSWORD": ROUTE_PASSWORD,
            "NATS_ROUTES": f"[{routes}]",
        }

    def start(self, server: Server, timeout: float = 10.0) -> None:
        with server.log.open("ab") as log:
            server.process = subprocess.Popen(
                [binary(), "-c", str(server.folder / "nats-cluster.conf")],
                env=self.environment(server),
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while not _listening(server.port):
            if server.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{server.name} did not start:\n{server.log.read_text()[-2000:]}")
            time.sleep(0.02)

    def kill(self, server: Server) -> None:
        """SIGKILL: no goodbye to its peers or clients, nothing flushed."""
        assert server.process is not None
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait()

    def stop(self) -> None:
        for server in self.servers:
            if server.running:
                assert server.process is not None
                server.process.terminate()
                try:
                    server.process.wait(10)
                except subprocess.TimeoutExpired:
                    server.process.kill()
                    server.process.wait()

    def violations(self) -> list[str]:
        """What any server refused a user: the roles' allow-lists must hold in a cluster as on one server."""
        return [
            f"{s.name}: {line}"
            for s in self.servers
            for line in s.log.read_text(errors="replace").splitlines()
            if "Violation" in line
        ]

    async def wait_for_leader(self, nc: Client, timeout: float = 30.0) -> None:
        """Until JetStream answers: the servers have found each other and elected a meta leader."""

        async def answers() -> bool:
            try:
                await nc.jetstream(timeout=0.5).account_info()
            except (JetStreamError, nats.errors.Error, TimeoutError):
                return False
            return True

        await eventually(answers, timeout=timeout, interval=0.1, message="a JetStream meta leader")


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@contextlib.contextmanager
def running_cluster(folder: Path) -> Iterator[NatsCluster]:
    """Three servers started, stopped (each) afterwards; the caller waits for the leader."""
    cluster = NatsCluster.make(folder)
    try:
        for server in cluster.servers:
            cluster.start(server)
        yield cluster
    finally:
        cluster.stop()
