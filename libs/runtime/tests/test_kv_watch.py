"""Following a KV bucket on a real NATS server: entries in order, a resync that forgets what vanished, and a
watch that survives the server restarting (logged once, not once per try)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import nats
import nats.errors
import pytest
from librarrarian_contracts import provision, topology
from librarrarian_embedded import NatsServer
from librarrarian_runtime.kv_watch import BucketWatch
from librarrarian_runtime.watched import Watched
from librarrarian_testing import eventually
from librarrarian_testing.late_deliveries import LateDeliveries
from nats.js import JetStreamContext
from nats.js.kv import KeyValue


@pytest.fixture
def server(tmp_path: Path) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path / "nats")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextlib.asynccontextmanager
async def nodes_bucket(url: str, **options: Any) -> AsyncIterator[tuple[JetStreamContext, KeyValue]]:
    """A connection to ``url``, the buckets provisioned, and ``a`` put in ``nodes``."""
    nc = await nats.connect(url, **options)
    try:
        js = nc.jetstream()
        await provision(js)
        kv = await js.key_value(topology.NODES.name)
        await kv.put("a", b"1")
        yield js, kv
    finally:
        await nc.close()


async def test_a_watch_follows_puts_and_deletes_and_survives_a_server_restart(
    server: NatsServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with nodes_bucket(server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.2) as (js, kv):
        seen: dict[str, bytes] = {}
        synced: list[set[str]] = []

        def on_entry(entry: KeyValue.Entry) -> None:
            if entry.operation in ("DEL", "PURGE"):
                seen.pop(entry.key, None)
            else:
                seen[entry.key] = entry.value or b""

        watch = await BucketWatch(
            js, topology.NODES.name, on_entry, on_synced=synced.append, retry_seconds=0.2
        ).start()
        try:
            assert seen == {"a": b"1"} and synced == [{"a"}]  # start() returns once it is current
            await kv.put("b", b"2")
            await kv.delete("a")
            await eventually(lambda: seen == {"b": b"2"}, message="the put and the delete")

            with caplog.at_level(logging.INFO):
                server.stop()
                server.start()  # same port, same store
                await eventually(lambda: put_once(kv, "c", b"3"), timeout=30, message="the server back")
                await eventually(lambda: seen.get("c") == b"3", timeout=30, message="a put after the restart")
            watch_lines = [r for r in caplog.records if "watching the 'nodes' bucket failed" in r.message]
            assert len(watch_lines) <= 1
        finally:
            await watch.stop()


async def test_start_returns_after_entries_that_arrive_behind_the_servers_word_that_none_are_left(
    server: NatsServer,
) -> None:
    async with LateDeliveries(server.url, delay=0.5) as late, nodes_bucket(late.url) as (js, _):
        seen: dict[str, bytes] = {}
        synced: list[set[str]] = []
        watch = await BucketWatch(
            js,
            topology.NODES.name,
            lambda entry: seen.__setitem__(entry.key, entry.value or b""),
            on_synced=synced.append,
        ).start()
        await watch.stop()
        assert seen == {"a": b"1"} and synced == [{"a"}]


async def put_once(kv: KeyValue, key: str, value: bytes) -> bool:
    try:
        await kv.put(key, value)
    except (TimeoutError, nats.errors.Error):
        return False  # the client is still reconnecting
    return True


async def test_a_setting_is_read_at_start_and_a_bad_value_is_ignored(bus) -> None:  # type: ignore[no-untyped-def]
    import msgspec
    from librarrarian_contracts.settings import QUEUE_KEY, QueueControl

    _, js = bus
    kv = await js.key_value(topology.SETTINGS.name)
    await kv.put(QUEUE_KEY, msgspec.json.encode(QueueControl(paused=True)))
    queue = await Watched(js, QUEUE_KEY, QueueControl, QueueControl()).start()
    changes: list[QueueControl] = []
    queue.on_change(changes.append)
    try:
        assert queue.value.paused
        await kv.put(QUEUE_KEY, b'{"paused": "not a flag"}')
        await kv.put(QUEUE_KEY, msgspec.json.encode(QueueControl(paused=False)))
        await eventually(lambda: changes and not changes[-1].paused, message="the good value after the bad")
        assert len(changes) == 1  # the bad one changed nothing
        await kv.delete(QUEUE_KEY)
        await eventually(lambda: len(changes) == 2, message="deleted: the default again")
        assert queue.value == QueueControl() or not queue.value.paused
    finally:
        await queue.stop()


async def test_a_seed_is_written_only_where_the_key_has_no_value(tmp_path: Path) -> None:
    server = NatsServer(tmp_path / "nats")
    server.start()
    nc = await nats.connect(server.url)
    try:
        js = nc.jetstream()
        await provision(js)
        kv = await js.key_value(topology.SETTINGS.name)
        first = await Watched(js, "seeded", int, 0, seed=5).start()
        assert first.value == 5 and (await kv.get("seeded")).value == b"5"  # absent: the seed
        await first.stop()
        await kv.put("seeded", b"7")
        again = await Watched(js, "seeded", int, 0, seed=5).start()
        assert again.value == 7  # set: kept
        await again.stop()
        await kv.delete("seeded")
        after_delete = await Watched(js, "seeded", int, 0, seed=9).start()
        assert after_delete.value == 9  # deleted is absent
        await after_delete.stop()
    finally:
        await nc.close()
        server.stop()
