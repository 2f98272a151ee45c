"""What the stack's gateway says, through its REST API with the admin API key of the ``.env``: the nodes, the
jobs, and starting the work with quick settings (like the end-to-end test, so the clips encode fast)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

FINAL = {"done", "failed", "skipped"}
QUICK = {"x265": {tier: {"level": 28, "preset": "ultrafast"} for tier in ("sd", "720p", "1080p", "4k")}}
T = TypeVar("T")


def eventually(probe: Callable[[], T | None], timeout: float, what: str, interval: float = 1.0) -> T:
    """Poll ``probe`` until it returns something other than None (or False), up to ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = probe()
        except httpx.TransportError:
            value = None  # the gateway is not listening (yet)
        except httpx.HTTPStatusError as error:
            if error.response.status_code != 503:
                raise
            value = None  # a service behind the gateway does not answer (yet)
        if value is not None and value is not False:
            return value
        time.sleep(interval)
    raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")


class Api:
    def __init__(self, port: int, api_key: str) -> None:
        self.client = httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers={"X-Api-Key": api_key}, timeout=10
        )

    def close(self) -> None:
        self.client.close()

    def get(self, path: str, **params: Any) -> Any:
        response = self.client.get(path, params=params)
        response.raise_for_status()
        return response.json()

    def nodes(self) -> list[dict[str, Any]]:
        nodes: list[dict[str, Any]] = self.get("/api/v1/nodes")
        return nodes

    def jobs(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.get("/api/v1/jobs", limit=100)["items"]
        return items

    def start_quick(self, node: str) -> None:
        """The fastest x265 preset, then start the node (AUTOSTART is off in the test's .env)."""
        self.client.patch("/api/v1/settings/transcode", json={"quality": QUICK}).raise_for_status()
        self.client.post(f"/api/v1/nodes/{node}/start").raise_for_status()

    def settled(self, expected: int) -> list[dict[str, Any]] | None:
        """The jobs once there are ``expected`` of them, all in a final state."""
        items = self.jobs()
        return items if len(items) >= expected and all(j["status"] in FINAL for j in items) else None
