"""``scan.requested`` commands from the durable control consumer, one at a time.

A refused or undecodable command is terminated (retrying cannot help); a scan that fails is retried later;
a long scan keeps its message with ``in_progress``; a stop abandons the scan and hands the command back.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import msgspec
from librarrarian_contracts import ScanRequested, topology
from librarrarian_contracts.codec import control_decoder
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext

from .scan import RefusedRoot, Scanner

log = logging.getLogger(__name__)

SPEC = topology.SCANNER_CONTROL
RETRY_DELAY_SECONDS = 30.0


async def consume(js: JetStreamContext, scanner: Scanner, stopping: asyncio.Event) -> None:
    sub = await js.pull_subscribe_bind(durable=SPEC.durable, stream=SPEC.stream)
    try:
        while not stopping.is_set():
            try:
                messages = await sub.fetch(1, timeout=1.0)
            except (TimeoutError, NatsTimeoutError):
                continue
            for msg in messages:
                await handle(msg, scanner, stopping)
    finally:
        await sub.unsubscribe()


async def handle(msg: Msg, scanner: Scanner, stopping: asyncio.Event) -> None:
    try:
        command = control_decoder.decode(msg.data)
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        log.error("%s: dropping an undecodable message on %s: %s", SPEC.durable, msg.subject, error)
        await msg.term()
        return
    assert isinstance(command, ScanRequested)
    try:
        roots = scanner.check_roots(command.roots)
    except RefusedRoot as error:
        log.error("scan request %s refused: %s", command.event_id[:8], error)
        await msg.term()
        return
    await _scan_while_holding(msg, scanner, roots, command.force, stopping)


async def _scan_while_holding(
    msg: Msg, scanner: Scanner, roots: tuple[Path, ...], force: bool, stopping: asyncio.Event
) -> None:
    scan = asyncio.create_task(scanner.scan(roots, force))
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
