"""The lease on a work or segment message: while it is handled, the server hears that it is in progress three
times per AckWait of the durable that delivered it, so a live node keeps its work and a stopped node's comes
back to another after one AckWait."""

from __future__ import annotations

import asyncio
import contextlib

from librarrarian_contracts import topology
from nats.aio.msg import Msg
from nats.js import JetStreamContext


async def beat_seconds(sub: JetStreamContext.PullSubscription) -> float:
    """A third of the AckWait of the durable ``sub`` is bound to, as provisioned rather than as the topology
    declares it (the tests provision a shorter one)."""
    info = await sub.consumer_info()
    # The server always states it; absent only in the client's types.
    ack_wait = info.config.ack_wait or topology.WORK_ACK_WAIT_SECONDS
    return ack_wait / 3


async def keep(msg: Msg, every: float) -> None:
    """Say ``msg`` is in progress every ``every`` seconds, until cancelled."""
    while True:
        await asyncio.sleep(every)
        with contextlib.suppress(Exception):  # a missed beat is retried at the next one
            await msg.in_progress()
