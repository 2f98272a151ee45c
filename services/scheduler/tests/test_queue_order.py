"""The queue's order, as the scheduler releases work: only ``window`` waiting messages per hardware class sit in
the WORK stream, the rest is released in the order chosen (here: the library folders' priority, changed while
jobs wait); work held for a class that has no live node moves with the rest of the class's work."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import msgspec
import pytest
from librarrarian_contracts import Transcode, encode, publish, topology
from librarrarian_contracts.codec import work_decoder
from librarrarian_contracts.settings import (
    FOLDERS_KEY,
    ORDER_KEY,
    LibraryFolder,
    QueueOrder,
    ScannerFolders,
)
from librarrarian_contracts.views import NodeStatus
from librarrarian_scheduler import service
from librarrarian_scheduler.settings import Settings
from librarrarian_testing import eventually
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from .scheduler_client import answers, jobs_when, probed, pull_work, running_scheduler, work_messages

FOLDERS = ScannerFolders(folders=(LibraryFolder(path="/m/low"), LibraryFolder(path="/m/high", priority=5)))


async def put(js: JetStreamContext, key: str, value: msgspec.Struct) -> None:
    kv = await js.key_value(topology.SETTINGS.name)
    await kv.put(key, msgspec.json.encode(value))


@pytest.fixture
async def scheduler(
    bus: tuple[Client, JetStreamContext], nats_url: str, database_url: str
) -> AsyncIterator[None]:
    await put(bus[1], FOLDERS_KEY, FOLDERS)
    await put(bus[1], ORDER_KEY, QueueOrder(order="age", window=1))
    settings = Settings(nats_url=nats_url, database_url=database_url)
    async with running_scheduler(bus[0], settings):
        yield


async def test_work_is_released_a_window_at_a_time_in_the_folders_order(
    bus: tuple[Client, JetStreamContext], scheduler: None
) -> None:
    nc, js = bus
    names = ["low/1.mp4", "low/2.mp4", "high/1.mp4", "low/3.mp4", "high/2.mp4"]
    for name in names:
        event = probed(f"/m/{name}")
        await publish(js, msgspec.structs.replace(event, library=f"/m/{name.split('/')[0]}"))
    await eventually(lambda: jobs_when(nc, len(names)))
    assert await work_messages(js) == 1  # the window: the rest waits in the scheduler's hands
    await put(js, ORDER_KEY, QueueOrder(order="folder", window=1))
    # The scheduler follows the setting through a watch of its own, which nothing here can see: on a busy
    # machine the next release (when the first message is taken) could come before the watch delivers it.
    await asyncio.sleep(1.0)
    taken = []
    for _ in names:  # one encoder slot: each message taken frees the window for the next
        (work,) = await pull_work(js, 1)
        taken.append(work.path.removeprefix("/m/"))
    # The first was released as soon as it was queued (age order then); the others by folder priority, then age.
    assert taken == ["low/1.mp4", "high/1.mp4", "high/2.mp4", "low/2.mp4", "low/3.mp4"]


async def test_held_work_moves_off_a_class_without_live_nodes(
    bus: tuple[Client, JetStreamContext], nats_url: str, database_url: str
) -> None:
    nc, js = bus
    await put(js, ORDER_KEY, QueueOrder(window=1))
    nodes = await js.key_value(topology.NODES.name)

    async def node_up(name: str, hw: str) -> None:
        status = NodeStatus(
            node=name,
            hostname=name,
            version="1",
            classes=(hw,),
            slots=1,
            state="running",
            codecs={hw: ("hevc",)},
        )
        await nodes.put(name, encode(status))

    await node_up("gpu", "nvenc")
    dispatched: list[tuple[str, Transcode]] = []

    async def on_work(msg: Msg) -> None:
        dispatched.append((msg.subject, work_decoder.decode(msg.data)))  # type: ignore[arg-type]

    await nc.subscribe("work.transcode.>", cb=on_work)
    settings = Settings(nats_url=nats_url, database_url=database_url, orphan_seconds=2)
    stopping = asyncio.Event()
    task = asyncio.create_task(service.run(settings, stopping))
    try:
        await eventually(lambda: answers(nc), timeout=20)
        for name in ("a", "b", "c"):
            await publish(js, probed(f"/m/{name}.mp4"))
        await eventually(lambda: jobs_when(nc, 3))
        # Sent from the outbox a moment after its job is recorded: waited for, not read at once.
        await eventually(lambda: dispatched, message="the first job's work sent")
        assert [s for s, _ in dispatched] == [topology.transcode_subject("nvenc")]  # one in the window
        await nodes.delete("gpu")
        await node_up("cpu-box", "cpu")
        # All three end up on the CPU: the one in the NVENC stream and the two the scheduler held.
        taken = sorted(w.path for w in await pull_work(js, 3))
        assert taken == ["/m/a.mp4", "/m/b.mp4", "/m/c.mp4"]
        assert all(w.hw_class == "cpu" for _, w in dispatched[1:])
        # The held two went straight to the CPU, never through the NVENC stream.
        assert [s for s, _ in dispatched].count(topology.transcode_subject("nvenc")) == 1
    finally:
        stopping.set()
        await asyncio.wait_for(task, 20)
