"""A dashboard left open, as a browser holds it: the live updates stream (``/api/v1/events``, which every
page opens through ``live.js``) read to the end of each event, and the reads the dashboard and the jobs page
make (the page itself, the first page of waiting jobs with the counts, the statistics, the nodes), timed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx

READS = ("/", "/api/v1/jobs?limit=50&status=pending", "/api/v1/stats", "/api/v1/nodes")
POLL_SECONDS = 0.2  # between rounds of reads: a page far busier than a person's


@dataclass
class Dashboard:
    base_url: str
    api_key: str
    events: Counter[str] = field(default_factory=Counter)  # event name -> how many
    changes: Counter[str] = field(default_factory=Counter)  # job-state change -> how many
    connects: int = 0  # the stream opened (a reconnect after a drop counts again)
    latencies_ms: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    recording: str = "idle"  # the label the reads are recorded under

    def client(self, read_timeout: float) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.base_url,
            headers={"X-Api-Key": self.api_key},
            timeout=httpx.Timeout(30.0, read=read_timeout),
        )

    async def follow(self) -> None:
        """Read the live stream for as long as the task runs; reconnect as ``EventSource`` does."""
        async with self.client(read_timeout=60.0) as client:
            while True:
                try:
                    async with client.stream("GET", "/api/v1/events") as response:
                        response.raise_for_status()
                        self.connects += 1
                        await self._read(response)
                except httpx.HTTPError as error:
                    self.errors.append(f"events: {type(error).__name__}: {error}")
                await asyncio.sleep(1.0)  # the stream's retry hint is 3 s; sooner here, to miss less

    async def _read(self, response: httpx.Response) -> None:
        name, data = "message", ""
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data += line[5:].strip()
            elif not line:
                if data:
                    self.events[name] += 1
                    if name == "job-state":
                        with contextlib.suppress(ValueError, AttributeError):
                            self.changes[str(json.loads(data).get("change"))] += 1
                name, data = "message", ""

    async def poll(self) -> None:
        """The reads, round after round, each timed under the current label."""
        async with self.client(read_timeout=60.0) as client:
            while True:
                for path in READS:
                    started = time.perf_counter()
                    try:
                        response = await client.get(path)
                        ok = response.status_code == 200
                    except httpx.HTTPError as error:
                        ok, response = False, None
                        self.errors.append(f"{path}: {type(error).__name__}")
                    took = (time.perf_counter() - started) * 1000
                    if ok:
                        self.latencies_ms.setdefault(self.recording, []).append(took)
                    elif response is not None:
                        self.errors.append(f"{path}: HTTP {response.status_code}")
                await asyncio.sleep(POLL_SECONDS)


@contextlib.asynccontextmanager
async def opened(base_url: str, api_key: str) -> AsyncIterator[Dashboard]:
    """The dashboard open for the block's length."""
    dashboard = Dashboard(base_url, api_key)
    tasks = [asyncio.create_task(dashboard.follow()), asyncio.create_task(dashboard.poll())]
    try:
        yield dashboard
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
