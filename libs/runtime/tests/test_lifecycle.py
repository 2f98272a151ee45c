"""A service's life: periodic work that survives a failed run and ends at a stop, and a NATS connection
drained whether the service ends well or its start fails."""

from __future__ import annotations

import asyncio
import logging

import pytest
from librarrarian_runtime import bus, lifecycle
from librarrarian_testing import eventually


async def test_periodic_work_goes_on_after_a_failure_and_ends_at_a_stop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stopping = asyncio.Event()
    runs: list[int] = []

    async def work() -> None:
        runs.append(len(runs))
        if len(runs) == 2:
            raise OSError("the share is gone")

    with caplog.at_level(logging.ERROR):
        loop = asyncio.create_task(
            lifecycle.periodically(stopping, 0.01, work, what="tidying", at_start=True)
        )
        await eventually(lambda: len(runs) >= 4, message="runs after the failed one")
        stopping.set()
        await asyncio.wait_for(loop, 5)
    assert "tidying failed" in caplog.text and "OSError: the share is gone" in caplog.text


async def test_no_interval_means_once_at_start_or_never() -> None:
    stopping = asyncio.Event()
    runs: list[str] = []

    async def work() -> None:
        runs.append("ran")

    await asyncio.wait_for(lifecycle.periodically(stopping, 0, work, what="x", at_start=True), 5)
    await asyncio.wait_for(lifecycle.periodically(stopping, 0, work, what="x"), 5)
    assert runs == ["ran"]


async def test_a_failed_start_still_drains_the_connection(nats_url: str) -> None:
    with pytest.raises(RuntimeError, match="database is away"):
        async with bus.connection(nats_url, "test") as nc:
            await nc.publish("anything", b"queued before the failure")
            raise RuntimeError("database is away")
    assert nc.is_closed
