"""The containers' health check: a service beats while its NATS connection is up and stops when it ends; a
missing or stale heartbeat is unhealthy; the gateway is asked its /healthz too."""

from __future__ import annotations

import http.server
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from librarrarian_embedded.nats_server import free_port
from librarrarian_runtime import bus, health
from librarrarian_testing import eventually


async def test_a_service_beats_while_connected_and_not_after_it_ends(
    nats_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alive = tmp_path / "alive"
    monkeypatch.setenv(health.HEALTH_FILE, str(alive))
    monkeypatch.setattr(health, "BEAT_SECONDS", 0.05)
    environ = {health.HEALTH_FILE: str(alive)}
    async with bus.connection(nats_url, "health test"):
        await eventually(alive.exists, message="a heartbeat")
        first = alive.stat().st_mtime_ns
        await eventually(lambda: alive.stat().st_mtime_ns > first, message="a later heartbeat")
        assert health.problems(environ, time.time()) == []
    assert not alive.exists()
    assert health.problems(environ, time.time()) == [f"no heartbeat yet ({alive})"]


def test_a_stale_heartbeat_is_unhealthy(tmp_path: Path) -> None:
    alive = tmp_path / "alive"
    alive.touch()
    then = time.time() - health.MAX_AGE_SECONDS - 5
    os.utime(alive, (then, then))
    [problem] = health.problems({health.HEALTH_FILE: str(alive)}, time.time())
    assert "last heartbeat" in problem


def test_without_a_heartbeat_file_nothing_is_called_healthy() -> None:
    assert health.problems({}, time.time()) == [f"{health.HEALTH_FILE} is not set: nothing to check"]


@pytest.fixture
def healthz() -> Iterator[tuple[int, list[int]]]:
    """A loopback HTTP server whose /healthz answers the status last put in the list."""
    statuses = [200]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(statuses[-1] if self.path == "/healthz" else 404)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], statuses
    finally:
        server.shutdown()
        server.server_close()


def test_the_gateway_is_asked_its_healthz_too(tmp_path: Path, healthz: tuple[int, list[int]]) -> None:
    port, statuses = healthz
    alive = tmp_path / "alive"
    alive.touch()
    gateway = {health.HEALTH_FILE: str(alive), "LIBRARRARIAN_SERVICE": "gateway", "PORT": str(port)}
    assert health.problems(gateway, time.time()) == []
    statuses.append(503)  # degraded: NATS or PostgreSQL out of reach
    [problem] = health.problems(gateway, time.time())
    assert f"127.0.0.1:{port}/healthz" in problem and "503" in problem
    # Another service is not asked: it serves no HTTP.
    assert health.problems({**gateway, "LIBRARRARIAN_SERVICE": "scanner"}, time.time()) == []
