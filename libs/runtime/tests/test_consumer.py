"""The pull-consumer loop on a real NATS server: a batch that fails is handled again one by one, the message
that fails alone redelivered and the others handled for good once; an undecodable message terminated, never
handed to a handler."""

from __future__ import annotations

import asyncio
import contextlib

import msgspec
from librarrarian_contracts import topology
from librarrarian_runtime import consumer
from librarrarian_testing import eventually
from nats.aio.client import Client
from nats.js import JetStreamContext

SPEC = topology.SCHEDULER_MEDIA  # provisioned with the topology; "media.>" of the MEDIA stream


class Item(msgspec.Struct):
    n: int
    bad: bool = False


async def test_a_failing_batch_is_handled_one_by_one_and_only_the_bad_message_comes_back(
    bus: tuple[Client, JetStreamContext],
) -> None:
    _, js = bus
    batches: list[list[int]] = []
    alone: list[int] = []
    done: list[int] = []  # handled for good, in a batch or alone

    async def handle_batch(items: list[Item]) -> None:
        batches.append([i.n for i in items])
        if any(i.bad for i in items):
            raise RuntimeError("a bad item in the batch")
        done.extend(i.n for i in items)

    async def handle(item: Item) -> None:
        alone.append(item.n)
        if item.bad:
            raise RuntimeError("bad item")
        done.append(item.n)

    for data in (b"not json", b'{"n": 1}', b'{"n": 2, "bad": true}', b'{"n": 3}'):
        await js.publish("media.test", data)
    stopping = asyncio.Event()
    task = asyncio.create_task(
        consumer.consume_batches(js, SPEC, msgspec.json.Decoder(Item), handle_batch, handle, stopping)
    )
    try:
        await eventually(lambda: alone.count(2) >= 2 or None, timeout=20, message="the bad item again")
        await js.publish("media.test", b'{"n": 4}')
        await js.publish("media.test", b'{"n": 5}')
        # (They may come with the bad one's redelivery: then that batch too is taken one by one.)
        await eventually(lambda: {4, 5} <= set(done) or None, timeout=20, message="4 and 5 handled")
    finally:
        stopping.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)

    assert batches[0] == [1, 2, 3]  # all one fetch brought, the undecodable one left out
    assert alone[:3] == [1, 2, 3] and alone.count(2) >= 2  # 2 back after its delay
    assert sorted(done) == [1, 3, 4, 5]  # each good item handled for good once
    info = await js.consumer_info(SPEC.stream, SPEC.durable)
    assert info.num_pending == 0 and info.num_ack_pending == 1  # only the bad item is still owed


async def test_a_stop_cuts_a_fetch_short_and_what_comes_next_goes_to_the_next_consumer(
    bus: tuple[Client, JetStreamContext],
) -> None:
    """A stop ends a fetch under way (here one that would wait an hour); the pull request it leaves on the
    server takes nothing once the subscription is gone, so the next message goes to the next consumer at
    once, not after AckWait."""
    _, js = bus
    stopping = asyncio.Event()
    sub = await js.pull_subscribe_bind(durable=SPEC.durable, stream=SPEC.stream)
    try:
        pulling = asyncio.create_task(consumer.Puller(sub, SPEC.durable, stopping).pull(1, timeout=3600))

        async def request_waits() -> bool:
            return bool((await js.consumer_info(SPEC.stream, SPEC.durable)).num_waiting)

        await eventually(request_waits, timeout=10, message="the pull request on the server")
        stopping.set()
        assert await pulling == []
    finally:
        await sub.unsubscribe()

    await js.publish("media.test", b'{"n": 1}')
    sub = await js.pull_subscribe_bind(durable=SPEC.durable, stream=SPEC.stream)
    try:
        taken = await consumer.Puller(sub, SPEC.durable).pull(1, timeout=5)
        assert [m.data for m in taken] == [b'{"n": 1}']
        assert taken[0].metadata.num_delivered == 1
    finally:
        await sub.unsubscribe()
