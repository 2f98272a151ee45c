"""The latest value of one KV key, kept current by a KV watch: how services apply settings without restarts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Generic, TypeVar

import msgspec
from nats.js.kv import KeyValue

log = logging.getLogger(__name__)

T = TypeVar("T")


class Watched(Generic[T]):
    """``value`` is the key's current value decoded as ``type_``, or ``default`` while the key is missing
    (or deleted). A value that does not decode is logged and ignored: the last good one stays."""

    def __init__(self, kv: KeyValue, key: str, type_: type[T], default: T) -> None:
        self.kv, self.key, self.type, self.default = kv, key, type_, default
        self.value: T = default
        self._listeners: list[Callable[[T], None]] = []
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self._watcher: KeyValue.KeyWatcher | None = None

    def on_change(self, listener: Callable[[T], None]) -> None:
        self._listeners.append(listener)

    async def start(self) -> Watched[T]:
        """Returns once the current value is known."""
        self._watcher = await self.kv.watch(self.key)
        while (entry := await self._watcher.updates(timeout=10.0)) is not None:  # type: ignore[no-untyped-call]
            self._apply(entry)
        self._task = asyncio.create_task(self._follow(), name=f"watch {self.key}")
        return self

    async def wait_change(self, timeout: float | None = None) -> bool:
        """Wait for the next change; False on timeout."""
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait(), timeout)
            except TimeoutError:
                return False
        return True

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._watcher is not None:
            with contextlib.suppress(Exception):
                await self._watcher.stop()  # type: ignore[no-untyped-call]

    async def _follow(self) -> None:
        assert self._watcher is not None
        async for entry in self._watcher:
            if entry is None:
                continue
            self._apply(entry)
            async with self._changed:
                self._changed.notify_all()

    def _apply(self, entry: KeyValue.Entry) -> None:
        if entry.operation in ("DEL", "PURGE") or not entry.value:
            value = self.default
        else:
            try:
                value = msgspec.json.decode(entry.value, type=self.type)
            except (msgspec.DecodeError, msgspec.ValidationError) as error:
                log.error(
                    "ignoring a bad value for setting %r (keeping the last good one): %s", self.key, error
                )
                return
        self.value = value
        for listener in self._listeners:
            listener(value)
