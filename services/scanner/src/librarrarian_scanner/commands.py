"""``scan.start`` commands from the durable control consumer, one at a time, and ``scan.cancel``
commands, heard by every scanner (a plain subscription: whichever runs the scan stops it; one not taken
yet is dropped when it is, since the cancel stays in the stream).

A refused or undecodable command is terminated (retrying cannot help); a scan that fails is retried later;
a long scan keeps its message with ``in_progress``; a stop abandons the scan and hands the command back.
A scan cancelled on request is done with: its command is acknowledged.
"""

from __future__ import annotations

import asyncio
import logging

import msgspec
from librarrarian_contracts import CancelScan, StartScan, topology
from librarrarian_contracts.codec import scan_decoder
from librarrarian_contracts.enums import ScanTrigger
from librarrarian_runtime.consumer import Puller
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext

from .scan import RefusedRoot, Scanner

log = logging.getLogger(__name__)

SPEC = topology.SCANNER_CONTROL
RETRY_DELAY_SECONDS = 30.0


async def consume(js: JetStreamContext, scanner: Scanner, stopping: asyncio.Event) -> None:
    sub = await js.pull_subscribe_bind(durable=SPEC.durable, stream=SPEC.stream)
    puller = Puller(sub, SPEC.durable, stopping)
    try:
        while not stopping.is_set():
            for msg in await puller.pull(1):
                await handle(msg, scanner, stopping)
    finally:
        await sub.unsubscribe()


async def handle(msg: Msg, scanner: Scanner, stopping: asyncio.Event) -> None:
    try:
        command = scan_decoder.decode(msg.data)
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        log.error("%s: dropping an undecodable message on %s: %s", SPEC.durable, msg.subject, error)
        await msg.term()
        return
    if not isinstance(command, StartScan):
        await msg.term()  # the durable asks for scan.start only; anything else is not ours
        return
    try:
        scanner.check_roots(command.roots)
    except RefusedRoot as error:
        log.error("scan request %s refused: %s", command.event_id[:8], error)
        await msg.term()
        return
    await _scan_while_holding(msg, scanner, command, stopping)


async def follow_cancels(nc: Client, scanner: Scanner) -> Subscription:
    """Every ``scan.cancel.<id>``: stop the scan if it runs (or waits) here. A scan whose command was not
    taken yet finds its cancel in the stream when it is (``ScanBoard.cancelled_while_queued``)."""

    async def on_cancel(msg: Msg) -> None:
        try:
            command = scan_decoder.decode(msg.data)
        except (msgspec.DecodeError, msgspec.ValidationError) as error:
            log.error("dropping an undecodable message on %s: %s", msg.subject, error)
            return
        if isinstance(command, CancelScan):
            scanner.cancel(command.scan_id)

    return await nc.subscribe(topology.scan_cancel_subject("*"), cb=on_cancel)


async def _scan_while_holding(
    msg: Msg, scanner: Scanner, command: StartScan, stopping: asyncio.Event
) -> None:
    scan = asyncio.create_task(
        scanner.scan(command.roots, command.force, scan_id=command.event_id, trigger=ScanTrigger.REQUEST)
    )
    stop = asyncio.create_task(stopping.wait())
    try:
        while True:
            done, _ = await asyncio.wait(
                {scan, stop}, timeout=SPEC.ack_wait_seconds / 3, return_when=asyncio.FIRST_COMPLETED
            )
            if scan in done or stop in done:
                break
            await msg.in_progress()  # a big library takes longer than AckWait
    finally:
        stop.cancel()
        if not scan.done():
            scan.cancel()
            await asyncio.wait({scan})  # let it unwind; its CancelledError is ours to expect, not hide
    if scan.cancelled():
        log.info("requested scan abandoned on stop; the command goes back for the next scanner up")
        await msg.nak()
        return
    error = scan.exception()
    if error is not None:
        log.error("requested scan failed, retrying in %.0f s: %s", RETRY_DELAY_SECONDS, error, exc_info=error)
        await msg.nak(delay=RETRY_DELAY_SECONDS)
        return
    await msg.ack()
