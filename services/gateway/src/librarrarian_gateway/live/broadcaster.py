"""Fan-out of live updates inside one gateway process: one NATS feed, many browsers.

Every browser gets a bounded queue of ready-made server-sent-event frames. A browser that falls that far
behind is dropped (its stream ends; its EventSource reconnects and starts again from a fresh snapshot), so
one slow client can neither hold the others back nor make the gateway buffer without limit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import msgspec

from ..credentials import Principal

QUEUE_SIZE = 256
_json = msgspec.json.Encoder()


def frame(event: str, data: object) -> bytes:
    """One server-sent event. msgspec's JSON has no newlines, so the payload fits on one ``data:`` line."""
    return b"event: " + event.encode() + b"\ndata: " + _json.encode(data) + b"\n\n"


class Listener:
    """One connected browser, and who it is (so that logging out, a revoked key or a deleted user ends its
    stream). ``None`` in its queue means its stream must end (dropped, ended, or shutting down)."""

    def __init__(self, size: int, principal: Principal | None = None) -> None:
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(size)
        self.principal = principal
        self.dropped = False

    def end(self) -> None:
        """Throw away what it has not read yet and tell it to stop: the reader sees ``None`` next."""
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(None)

    async def next(self, timeout: float) -> bytes | None:
        """The next frame, ``b""`` when nothing came within ``timeout`` (time for a heartbeat), or ``None``."""
        try:
            async with asyncio.timeout(timeout):
                return await self.queue.get()
        except TimeoutError:
            return b""


class Broadcaster:
    def __init__(self, queue_size: int = QUEUE_SIZE) -> None:
        self.queue_size = queue_size
        self.listeners: set[Listener] = set()
        self.closed = False

    def listen(self, principal: Principal | None = None) -> Listener:
        listener = Listener(self.queue_size, principal)
        if self.closed:
            listener.end()  # the gateway is stopping: the stream ends at once rather than hold shutdown up
        else:
            self.listeners.add(listener)
        return listener

    def forget(self, listener: Listener) -> None:
        self.listeners.discard(listener)

    def publish(self, chunk: bytes) -> None:
        for listener in list(self.listeners):
            try:
                listener.queue.put_nowait(chunk)
            except asyncio.QueueFull:
                listener.dropped = True
                listener.end()
                self.listeners.discard(listener)

    def end_where(self, whose: Callable[[Principal], bool]) -> int:
        """End the streams of the principals ``whose`` picks; how many ended."""
        ending = [li for li in self.listeners if li.principal is not None and whose(li.principal)]
        for listener in ending:
            listener.end()
            self.listeners.discard(listener)
        return len(ending)

    def close(self) -> None:
        """End every stream: open responses would otherwise keep uvicorn waiting at shutdown."""
        self.closed = True
        for listener in self.listeners:
            listener.end()
        self.listeners.clear()
