"""Periodic work on a period that may change while it waits: a change applies to the wait under way, 0
means never, and a failing run is logged and followed by the next."""

from __future__ import annotations

import asyncio
import logging

import pytest
from librarrarian_runtime.cadence import Cadence, every
from librarrarian_testing import eventually


async def test_a_change_applies_to_the_wait_under_way_and_a_failure_does_not_end_the_loop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runs: list[int] = []
    stopping = asyncio.Event()
    cadence = Cadence(0)  # never, until set

    async def action() -> None:
        runs.append(len(runs))
        if len(runs) == 2:
            raise RuntimeError("one bad pass")

    loop = asyncio.create_task(every(stopping, cadence, action, what="the work"))
    try:
        await asyncio.sleep(0)
        assert runs == []
        cadence.set(3600.0)  # an hour: nothing runs while the test lasts
        await asyncio.sleep(0)
        assert runs == []
        with caplog.at_level(logging.ERROR):
            cadence.set(0.01)  # shorter than what is left of the hour: due at once
            await eventually(lambda: len(runs) >= 4, message="runs on the new period, past a failure")
        assert any("the work failed" in r.message for r in caplog.records)
    finally:
        stopping.set()
        await asyncio.wait_for(loop, 5)
