"""Following a KV bucket (every key, or one) for a service's whole life: how settings apply without restarts
and how the scheduler and the dashboard know the live nodes.

``on_entry`` gets every put and delete in order. Each time the watch (re)starts, once it has delivered every
current entry, ``on_synced`` gets the keys it delivered, so the caller can forget the ones that vanished
meanwhile (KV expiry tells watchers nothing). A watch that breaks after the start (the server restarted,
its consumer was lost) is set up again after ``retry_seconds``, logged once per streak of failures.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from .streaks import FailureStreak

log = logging.getLogger(__name__)

ALL_KEYS = ">"


class WatchEnded(ConnectionError):
    """The watch stopped delivering (its consumer is gone)."""


class BucketWatch:
    def __init__(
        self,
        js: JetStreamContext,
        bucket: str,
        on_entry: Callable[[KeyValue.Entry], None],
        *,
        key: str = ALL_KEYS,
        on_synced: Callable[[set[str]], None] | None = None,
        retry_seconds: float = 2.0,
        first_sync_seconds: float = 10.0,
    ) -> None:
        self.js, self.bucket, self.key = js, bucket, key
        self.on_entry, self.on_synced = on_entry, on_synced
        self.retry_seconds, self.first_sync_seconds = retry_seconds, first_sync_seconds
        self._task: asyncio.Task[None] | None = None
        self._streak = FailureStreak(log, f"watching the {bucket!r} bucket")

    async def start(self) -> BucketWatch:
        """Returns once every current entry was delivered; a first watch that fails raises."""
        watcher = await self._open()
        self._task = asyncio.create_task(self._follow(watcher), name=f"watch {self.bucket}/{self.key}")
        return self

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _open(self) -> KeyValue.KeyWatcher:
        """A new watch, read up to the end of the current entries."""
        kv = await self.js.key_value(self.bucket)
        watcher = await (kv.watchall() if self.key == ALL_KEYS else kv.watch(self.key))
        delivered: list[str] = []
        sent: int | None = None
        try:
            async with asyncio.timeout(self.first_sync_seconds):
                while sent is None or len(delivered) < sent:
                    entry = await watcher.updates(timeout=self.first_sync_seconds)  # type: ignore[no-untyped-call]
                    if entry is None:
                        # The client says "current" once the server has nothing left to send and its subscription
                        # has counted nothing yet, which is also true while the current entries are still on their
                        # way: read on until as many came as the server says it sent (the client offers the
                        # watch's consumer only through its private subscription).
                        sent = (await watcher._sub.consumer_info()).delivered.consumer_seq  # type: ignore[union-attr]
                    else:
                        delivered.append(entry.key)
                        self.on_entry(entry)
        except BaseException:
            await _quietly_stop(watcher)
            raise
        if self.on_synced is not None:
            self.on_synced(set(delivered))
        return watcher

    async def _follow(self, watcher: KeyValue.KeyWatcher) -> None:
        while True:
            try:
                async for entry in watcher:
                    if entry is not None:
                        self.on_entry(entry)
                raise WatchEnded("the watch stopped delivering")
            except asyncio.CancelledError:
                await _quietly_stop(watcher)
                raise
            except Exception as error:  # noqa: BLE001 - the task's outermost edge: log, wait, watch again
                self._streak.failed(error)
                await _quietly_stop(watcher)
            while True:
                await asyncio.sleep(self.retry_seconds)
                try:
                    watcher = await self._open()
                except Exception as error:  # noqa: BLE001 - the server may still be away: try again
                    self._streak.failed(error)
                    continue
                self._streak.succeeded()
                break


async def _quietly_stop(watcher: KeyValue.KeyWatcher) -> None:
    with contextlib.suppress(Exception):  # the connection may be gone already
        await watcher.stop()  # type: ignore[no-untyped-call]
