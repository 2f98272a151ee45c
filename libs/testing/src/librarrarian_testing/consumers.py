"""Waiting for a service to have handled what was published: the condition a test waits on to show that
something did *not* happen (instead of sleeping and hoping the service was quick enough)."""

from __future__ import annotations

from librarrarian_contracts.topology import ConsumerSpec
from nats.js import JetStreamContext

from .polling import eventually

# The AckWait of the encoders' durables as the tests provision them (production's is the topology's 30 s):
# a node killed or stopped mid-job hands its work on after this long, so a test of that waits this, not 30 s.
# The encoders heartbeat at a third of it, as at a third of production's.
WORK_ACK_WAIT_SECONDS = 6.0


async def handled(js: JetStreamContext, spec: ConsumerSpec, timeout: float = 30.0) -> None:
    """Wait until the durable ``spec`` has taken and acknowledged every message its stream holds for it:
    whatever its service does about them is done (it acknowledges after handling)."""

    async def caught_up() -> bool:
        info = await js.consumer_info(spec.stream, spec.durable)
        return bool(info.num_pending == 0 and info.num_ack_pending == 0)

    await eventually(caught_up, timeout=timeout, message=f"{spec.durable} handled every message")
