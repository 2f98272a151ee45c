"""A node's slots are its ``slots.<name>`` setting: ``SLOTS`` seeds it at the node's first start only, and a
change applies to the running node (a real encoder with real ffmpeg on real NATS)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import msgspec
from librarrarian_contracts import JobCompleted, publish, topology
from librarrarian_contracts.settings import NodeSlots, slots_key
from librarrarian_contracts.topology import HwClass
from librarrarian_encoder.settings import Settings
from librarrarian_testing import eventually, library, transcode
from nats.aio.client import Client
from nats.js import JetStreamContext

from .encoder_client import (
    NODE,
    Scheduler,
    encoding_ffmpeg,
    node_settings,
    node_status,
    outcome,
    running_encoder,
    work,
)
from .test_control import control

CPU = HwClass.CPU


async def stored(js: JetStreamContext) -> NodeSlots:
    entry = await (await js.key_value(topology.SETTINGS.name)).get(slots_key(NODE))
    return msgspec.json.decode(entry.value or b"", type=NodeSlots)


async def cpu_slots(js: JetStreamContext, count: int) -> bool:
    return (await node_status(js, NODE)).slots_per_class.get(CPU) == count


async def test_a_slot_added_takes_work_at_once_and_the_setting_outlives_slots_in_the_environment(
    bus: tuple[Client, JetStreamContext],
    scheduler: Scheduler,
    node_starter: Callable[..., Awaitable[Settings]],
    media: library.Library,
) -> None:
    _, js = bus
    await transcode.put(js, transcode.fastest(x265_preset="medium", max_output_percent=1000))
    await node_starter(hw_classes=(CPU,))  # SLOTS unset: one per class
    assert (await stored(js)).of(CPU) == 1
    assert await cpu_slots(js, 1)

    await control(js, slots_key(NODE), NodeSlots(slots={CPU: 2}))
    await eventually(lambda: cpu_slots(js, 2), timeout=10, message="two cpu slots")
    first, second = media.transcode["mp4"], media.transcode["avi"]
    await publish(js, work(first, job_id=1), topology.transcode_subject("cpu"))
    await publish(js, work(second, job_id=2), topology.transcode_subject("cpu"))
    await eventually(
        lambda: encoding_ffmpeg(first, 1) and encoding_ffmpeg(second, 2),
        timeout=60,
        message="both jobs encoding at once",
    )
    for job_id in (1, 2):
        done = await outcome(scheduler, job_id)
        assert isinstance(done, JobCompleted), getattr(done, "reason", done)

    await control(js, slots_key(NODE), NodeSlots(slots={CPU: 1}))
    await eventually(lambda: cpu_slots(js, 1), timeout=10, message="back to one cpu slot")


async def test_slots_seed_the_setting_at_the_first_start_only(
    bus: tuple[Client, JetStreamContext], nats_url: str, media: library.Library
) -> None:
    _, js = bus
    first = node_settings(nats_url, media.root, NODE, hw_classes=(CPU,), slots={CPU: 3})
    async with running_encoder(first):
        await eventually(lambda: cpu_slots(js, 3), timeout=30, message="SLOTS at the first start")
        assert (await stored(js)).of(CPU) == 3
    await control(js, slots_key(NODE), NodeSlots(slots={CPU: 2}))  # chosen on the Options page
    again = node_settings(nats_url, media.root, NODE, hw_classes=(CPU,), slots={CPU: 5})
    async with running_encoder(again):
        await eventually(lambda: cpu_slots(js, 2), timeout=30, message="the stored slots after a restart")
        assert (await stored(js)).of(CPU) == 2
