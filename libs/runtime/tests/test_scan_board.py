"""The scans bucket as a scan's runner writes it, on a real NATS server: the entry rewritten while the scan
runs, a cancel sent before the scan's command was taken found in the stream, and a bucket that cannot be
written costing the scan nothing."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import msgspec
import pytest
from librarrarian_contracts import CancelScan, publish, topology
from librarrarian_contracts.enums import ScanTrigger
from librarrarian_contracts.scans import ScanStatus, scan_key
from librarrarian_runtime.scan_board import ScanBoard
from librarrarian_testing import eventually
from nats.aio.client import Client
from nats.js import JetStreamContext


@dataclass
class Run:
    scan_id: str
    seen: int = 0

    def status(self) -> ScanStatus:
        return ScanStatus(scan_id=self.scan_id, trigger=ScanTrigger.REQUEST, roots=(), seen=self.seen)


async def entry(js: JetStreamContext, scan_id: str) -> ScanStatus:
    kv = await js.key_value(topology.SCANS.name)
    return msgspec.json.decode((await kv.get(scan_key(scan_id))).value or b"", type=ScanStatus)


async def test_the_entry_is_written_and_kept_current_while_followed(
    bus: tuple[Client, JetStreamContext],
) -> None:
    _, js = bus
    board = ScanBoard(js, update_seconds=0.05)
    run = Run("a" * 32)
    await board.show(run)
    assert (await entry(js, run.scan_id)).seen == 0
    follower = asyncio.create_task(board.follow(run))
    try:
        run.seen = 5

        async def rewritten() -> bool:
            return (await entry(js, run.scan_id)).seen == 5

        await eventually(rewritten, timeout=10, message="the entry rewritten")
    finally:
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)


async def test_a_cancel_sent_before_the_scan_was_taken_is_found(bus: tuple[Client, JetStreamContext]) -> None:
    _, js = bus
    board = ScanBoard(js)
    cancelled, other = "b" * 32, "c" * 32
    await publish(js, CancelScan(scan_id=cancelled), topology.scan_cancel_subject(cancelled))
    assert await board.cancelled_while_queued(cancelled)
    assert not await board.cancelled_while_queued(other)


async def test_a_bucket_that_cannot_be_written_costs_the_scan_nothing(
    bus: tuple[Client, JetStreamContext], caplog: pytest.LogCaptureFixture
) -> None:
    _, js = bus
    await js.delete_key_value(topology.SCANS.name)
    board = ScanBoard(js)
    await board.show(Run("d" * 32))  # no exception: a warning
    assert "progress not written" in caplog.text
