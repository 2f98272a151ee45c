"""The real nats-server run with ``deploy/nats.conf`` (or ``deploy/nats-tls.conf``), on ports and a store of
its own, every user's password known: how the tests and the bench check the role permissions."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from librarrarian_contracts import nats_config
from librarrarian_contracts.permissions import users
from librarrarian_embedded.nats_server import binary, free_port

DEPLOY = nats_config.DEPLOY_CONFIG.parent


@dataclass(frozen=True)
class RoleServer:
    """user -> URL with its credentials, and the server's log (which names every refusal)."""

    urls: dict[str, str]
    log: Path
    port: int
    remote_nodes: tuple[str, ...] = ()  # the nodes without the library it has a user for

    def violations(self) -> list[str]:
        return [line for line in self.log.read_text().splitlines() if "Violation" in line]


def password(user: str) -> str:
    return f"secret-{user}"


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@contextlib.contextmanager
def deploy_server(
    folder: Path, *, tls_certs: Path | None = None, remote_nodes: Sequence[str] = ()
) -> Iterator[RoleServer]:
    """``deploy/nats.conf`` as the cluster runs it, but on loopback ports of its own; with ``tls_certs``
    (a folder with server.pem and server-key.pem), through ``deploy/nats-tls.conf``; with ``remote_nodes``,
    as ``librarrarian nats-config`` makes it for those nodes without the library."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = nats_config.deploy(remote_nodes).replace("listen: 0.0.0.0:4222", f"listen: 127.0.0.1:{port}")
    conf = conf.replace("http: 127.0.0.1:8222", f"http: 127.0.0.1:{free_port()}")
    conf = conf.replace("store_dir: /data", f"store_dir: {json.dumps(str(folder / 'jetstream'))}")
    (folder / "nats.conf").write_text(conf)
    config = folder / "nats.conf"
    if tls_certs is not None:
        config = folder / "nats-tls.conf"
        config.write_text((DEPLOY / "nats-tls.conf").read_text().replace("/etc/nats/certs", str(tls_certs)))
    env = {nats_config.env_password(user)[1:]: password(user) for user in users(remote_nodes)}
    log = folder / "nats.log"
    with log.open("wb") as out:
        server = subprocess.Popen([binary(), "-c", str(config)], env=env, stderr=out)
    try:
        deadline = time.monotonic() + 10
        while not _listening(port):
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError(f"nats-server did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.02)
        scheme = "tls" if tls_certs is not None else "nats"
        host = "localhost" if tls_certs is not None else "127.0.0.1"
        urls = {user: f"{scheme}://{user}:{password(user)}@{host}:{port}" for user in users(remote_nodes)}
        yield RoleServer(urls, log, port, tuple(remote_nodes))
    finally:
        server.terminate()
        server.wait(timeout=10)
