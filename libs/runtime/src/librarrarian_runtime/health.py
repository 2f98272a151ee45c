"""Whether a service in a container is alive, for the image's health check.

While a service's NATS connection is up, it touches a heartbeat file (``HEALTH_FILE``, set by the images)
every few seconds, from its own event loop. ``python -m librarrarian_runtime.health`` exits 0 when that file
is fresh, and for a service that serves HTTP (the gateway) when its ``/healthz`` answers 200 too; 1 otherwise,
with the reason on stdout (the container engine shows it). A stale file means the loop is stuck or NATS has
been out of reach for longer than ``MAX_AGE_SECONDS``: a service that cannot do its work, which a process
check alone would call healthy. Nothing here is imported by a service's start but the heartbeat, so the check
costs one interpreter start and a ``stat``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

HEALTH_FILE = "HEALTH_FILE"
BEAT_SECONDS = 5.0
# Three missed beats and a NATS reconnect (up to a few seconds) fit well inside this.
MAX_AGE_SECONDS = 30.0
# The services that answer HTTP, and where: the check asks them too (their PORT, else the default).
HTTP_CHECKS = {"gateway": ("/healthz", 5000)}
HTTP_TIMEOUT_SECONDS = 5.0


class Connection(Protocol):
    @property
    def is_connected(self) -> bool: ...


def touch(path: Path) -> None:
    path.touch()
    os.utime(path)  # touch() leaves an existing file's time alone on some file systems


async def beat(nc: Connection, path: Path, seconds: float = BEAT_SECONDS) -> None:
    """Touch ``path`` every ``seconds`` while ``nc`` is connected; forever (cancel it)."""
    while True:
        if nc.is_connected:
            # A read-only or full /tmp makes the check fail, which says what matters.
            with contextlib.suppress(OSError):
                await asyncio.to_thread(touch, path)
        await asyncio.sleep(seconds)


@contextlib.asynccontextmanager
async def heartbeat(nc: Connection) -> AsyncIterator[None]:
    """Beat while the block runs when ``HEALTH_FILE`` is set (in the images); remove the file after, so a
    stopping service is no longer called healthy."""
    configured = os.environ.get(HEALTH_FILE)
    if not configured:
        yield
        return
    path = Path(configured)
    task = asyncio.create_task(beat(nc, path, BEAT_SECONDS), name="heartbeat")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await asyncio.to_thread(path.unlink, missing_ok=True)


def heartbeat_problem(path: Path, now: float, max_age: float = MAX_AGE_SECONDS) -> str | None:
    try:
        age = now - path.stat().st_mtime
    except FileNotFoundError:
        return f"no heartbeat yet ({path})"
    if age > max_age:
        return f"last heartbeat {age:.0f} s ago (NATS unreachable or the service stuck)"
    return None


def http_problem(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT_SECONDS) as response:
            status = int(response.status)
    except OSError as error:  # URLError and HTTPError (a 503 says "degraded") are OSErrors
        return f"{url}: {error}"
    return None if status == 200 else f"{url}: HTTP {status}"


def problems(environ: dict[str, str], now: float) -> list[str]:
    found = []
    configured = environ.get(HEALTH_FILE)
    if not configured:
        return [f"{HEALTH_FILE} is not set: nothing to check"]
    if problem := heartbeat_problem(Path(configured), now):
        found.append(problem)
    http = HTTP_CHECKS.get(environ.get("LIBRARRARIAN_SERVICE", ""))
    if http:
        route, default_port = http
        port = environ.get("PORT") or str(default_port)
        if problem := http_problem(f"http://127.0.0.1:{port}{route}"):
            found.append(problem)
    return found


def main() -> int:
    found = problems(dict(os.environ), time.time())
    print("; ".join(found) if found else "healthy")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
