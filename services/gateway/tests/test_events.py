"""The live feed at /api/v1/events: the fan-out on its own, then a real gateway on NATS and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

import httpx
import pytest
from librarrarian_contracts import JobCompleted, encode, publish, topology
from librarrarian_contracts.views import JobProgress, NodeStatus
from librarrarian_embedded.nats_server import free_port
from librarrarian_gateway import service as gateway
from librarrarian_gateway.broadcaster import Broadcaster, frame
from librarrarian_gateway.events import HEARTBEAT, RETRY, stream
from librarrarian_gateway.feed import Feed, LiveBucket
from librarrarian_gateway.settings import Settings
from librarrarian_testing import eventually
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

API_KEY = "events-key-0123456789abcdef"


# --- the fan-out, without servers --------------------------------------------------------------------


async def test_a_slow_listener_is_dropped_and_the_others_keep_everything() -> None:
    broadcaster = Broadcaster(queue_size=3)
    slow, fast = broadcaster.listen(), broadcaster.listen()
    for n in range(5):
        broadcaster.publish(b"%d" % n)
        assert await fast.next(1) == b"%d" % n
    assert slow.dropped and await slow.next(1) is None  # its backlog is thrown away, then it ends
    assert broadcaster.listeners == {fast}
    assert await fast.next(0.01) == b""  # nothing new: time for a heartbeat


async def test_closing_ends_every_stream_and_any_later_one() -> None:
    broadcaster = Broadcaster()
    listener = broadcaster.listen()
    broadcaster.publish(b"x")
    broadcaster.close()
    assert await listener.next(1) is None
    assert await broadcaster.listen().next(1) is None


async def test_a_stream_opens_with_retry_and_snapshot_then_beats_while_quiet() -> None:
    feed = Feed(cast(Client, None))  # listening needs no connection: the snapshot comes from memory
    chunks = stream(feed, heartbeat_seconds=0.01)
    assert await anext(chunks) == RETRY + frame("snapshot", {"nodes": [], "progress": [], "scans": []})
    assert await anext(chunks) == HEARTBEAT
    feed.broadcaster.publish(b"event: job\ndata: {}\n\n")
    assert await anext(chunks) == b"event: job\ndata: {}\n\n"
    feed.broadcaster.close()
    assert [chunk async for chunk in chunks] == []
    assert not feed.broadcaster.listeners


def entry(key: str, value: bytes | None, created: datetime, operation: str | None = None) -> KeyValue.Entry:
    return KeyValue.Entry(
        bucket="nodes",
        key=key,
        value=value,
        revision=1,
        delta=0,
        created=created,
        operation=operation,  # type: ignore[arg-type]
    )


def test_a_node_past_the_buckets_ttl_is_removed_even_though_nats_says_nothing() -> None:
    bucket = LiveBucket(topology.NODES, NodeStatus, "node")
    status = NodeStatus(node="a", hostname="h", version="1", classes=("cpu",), slots=1, state="running")
    ttl = topology.NODES.ttl_seconds
    assert ttl is not None
    now = datetime.now(UTC)
    # An entry that was already 5 s old when the watch delivered it lives ttl - 5 s more.
    assert bucket.apply(entry("a", encode(status), now - timedelta(seconds=5)), 100.0) == frame(
        "node", {"key": "a", **json.loads(encode(status))}
    )
    assert bucket.expire(100.0 + ttl - 6) == []
    assert bucket.expire(100.0 + ttl - 4) == [frame("node-removed", {"key": "a"})]
    assert bucket.values() == []
    # A deletion is a removal; a garbled value changes nothing.
    bucket.apply(entry("a", encode(status), now), 0.0)
    assert bucket.apply(entry("b", b"{not json", now), 0.0) is None
    assert bucket.apply(entry("a", None, now, "DEL"), 0.0) == frame("node-removed", {"key": "a"})


# --- a real gateway ----------------------------------------------------------------------------------


@dataclass
class Gateway:
    url: str
    stopping: asyncio.Event
    task: asyncio.Task[None]


@pytest.fixture
async def site(
    nats_url: str, database_url: str, bus: tuple[Client, JetStreamContext]
) -> AsyncIterator[Gateway]:
    settings = Settings(
        nats_url=nats_url, database_url=database_url, host="127.0.0.1", port=free_port(), api_key=API_KEY
    )
    stopping = asyncio.Event()
    task = asyncio.create_task(gateway.run(settings, stopping))
    url = f"http://127.0.0.1:{settings.port}"

    async def up() -> bool:
        assert not task.done(), task
        try:
            async with httpx.AsyncClient() as client:
                return (await client.get(f"{url}/healthz")).status_code == 200
        except httpx.TransportError:
            return False

    await eventually(up, message="gateway up")
    yield Gateway(url, stopping, task)
    stopping.set()
    await asyncio.wait_for(task, 30)


async def events(response: httpx.Response) -> AsyncIterator[tuple[str, dict[str, object]]]:
    """Server-sent events as (name, data); ``retry`` comes as its own pair, comments are skipped."""
    name, data = "message", ""
    async for line in response.aiter_lines():
        if line.startswith("retry:"):
            yield "retry", {"ms": int(line[6:])}
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data += line[5:].strip()
        elif not line and data:
            yield name, json.loads(data)
            name, data = "message", ""


async def next_event(stream: AsyncIterator[tuple[str, dict[str, object]]], name: str) -> dict[str, object]:
    async with asyncio.timeout(10):
        async for event, data in stream:
            if event == name:
                return data
    raise AssertionError(f"the stream ended before a {name} event")


def progress(percent: float) -> bytes:
    return encode(
        JobProgress(job_id=7, node="node-a", path="/m/Heat.mkv", percent=percent, fps=30, speed=1.2)
    )


async def test_the_stream_needs_a_login_or_a_key(site: Gateway) -> None:
    async with httpx.AsyncClient(base_url=site.url) as anonymous:
        response = await anonymous.get("/api/v1/events")
        assert response.status_code == 401 and "X-Api-Key" in response.json()["detail"]
        response = await anonymous.get("/api/v1/events", headers={"X-Api-Key": "wrong"})
        assert response.status_code == 401


async def test_a_snapshot_then_every_change_as_it_happens(
    site: Gateway, bus: tuple[Client, JetStreamContext]
) -> None:
    _, js = bus
    nodes, running = (await js.key_value(topology.NODES.name), await js.key_value(topology.PROGRESS.name))
    status = NodeStatus(
        node="node-a", hostname="box", version="0.1.0", classes=("cpu",), slots=1, state="running", jobs=(7,)
    )
    await nodes.put("node-a", encode(status))
    await running.put("7", progress(10.0))
    async with httpx.AsyncClient(base_url=site.url, headers={"X-Api-Key": API_KEY}, timeout=10) as api:

        async def snapshot_has_both() -> bool:
            async with api.stream("GET", "/api/v1/events") as response:
                assert response.headers["content-type"].startswith("text/event-stream")
                stream = events(response)
                assert await anext(stream) == ("retry", {"ms": 3000})
                snapshot = await next_event(stream, "snapshot")
                return bool(snapshot["nodes"] and snapshot["progress"])

        await eventually(snapshot_has_both, message="the feed has read the buckets")
        async with api.stream("GET", "/api/v1/events") as response:
            stream = events(response)
            snapshot = await next_event(stream, "snapshot")
            assert snapshot["nodes"] == [{"key": "node-a", **json.loads(encode(status))}]
            assert [(p["key"], p["percent"]) for p in snapshot["progress"]] == [("7", 10.0)]  # type: ignore[attr-defined, index]

            await running.put("7", progress(55.5))
            update = await next_event(stream, "progress")
            assert update["key"] == "7" and update["percent"] == 55.5 and update["fps"] == 30

            await publish(
                js,
                JobCompleted(
                    job_id=7,
                    attempt=1,
                    node="node-a",
                    path="/m/Heat.mkv",
                    output_path="/m/Heat.mkv",
                    encoder="libx265",
                    codec_before="h264",
                    codec_after="hevc",
                    size_before=10,
                    size_after=5,
                    duration=1.0,
                    elapsed_seconds=1.0,
                ),
            )
            job = await next_event(stream, "job")
            assert job["type"] == "job.completed" and job["job_id"] == 7
            await running.delete("7")
            assert await next_event(stream, "progress-removed") == {"key": "7"}
            await nodes.delete("node-a")
            assert await next_event(stream, "node-removed") == {"key": "node-a"}


async def test_an_open_stream_does_not_hold_up_the_gateways_shutdown(site: Gateway) -> None:
    async with (
        httpx.AsyncClient(base_url=site.url, headers={"X-Api-Key": API_KEY}, timeout=10) as api,
        api.stream("GET", "/api/v1/events") as response,
    ):
        stream = events(response)
        await next_event(stream, "snapshot")
        site.stopping.set()
        await asyncio.wait_for(asyncio.shield(site.task), 10)
        async with asyncio.timeout(5):
            assert [name async for name, _ in stream] == []  # the stream simply ended
