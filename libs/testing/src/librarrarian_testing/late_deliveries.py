"""A NATS connection on which JetStream's deliveries arrive late.

A busy server queues a consumer's deliveries apart from its API replies, so a reply sent after a delivery can
reach the client first. :class:`LateDeliveries` stands between clients and a real server and makes that
happen every time: it passes every byte at once except messages a JetStream consumer delivers (those with a
``$JS.ACK.`` reply subject), which it holds back ``delay`` seconds, in their order, and a client's requests
for a consumer's state, which it holds back half as long (with everything the client sends after them), so
the server has sent and counted the deliveries before it answers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from urllib.parse import urlparse

ACK_PREFIX = b"$JS.ACK."
CONSUMER_INFO_PREFIX = b"$JS.API.CONSUMER.INFO."
PAYLOAD_OPS = (b"MSG", b"HMSG", b"PUB", b"HPUB")


class LateDeliveries:
    def __init__(self, upstream_url: str, *, delay: float = 0.5) -> None:
        parsed = urlparse(upstream_url)
        self.upstream = (parsed.hostname or "127.0.0.1", parsed.port or 4222)
        self._credentials = parsed.netloc.rpartition("@")[0]
        self.delay = delay
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        """The upstream's URL, credentials kept, with this proxy's address."""
        assert self._server is not None, "enter the context first"
        host, port = self._server.sockets[0].getsockname()[:2]
        at = f"{self._credentials}@" if self._credentials else ""
        return f"nats://{at}{host}:{port}"

    async def __aenter__(self) -> LateDeliveries:
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _connection(self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter) -> None:
        server_in, server_out = await asyncio.open_connection(*self.upstream)
        late: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        loop = asyncio.get_running_loop()

        async def upward(frame: bytes) -> None:
            if _asks_for_a_consumers_state(frame):
                await server_out.drain()
                await asyncio.sleep(self.delay / 2)  # everything after it waits too, in order
            server_out.write(frame)

        async def downward(frame: bytes) -> None:
            if _delivered_by_a_consumer(frame):
                late.put_nowait((loop.time() + self.delay, frame))
            else:
                client_out.write(frame)

        async def held_back() -> None:
            while True:
                due, frame = await late.get()
                await asyncio.sleep(max(0.0, due - loop.time()))
                client_out.write(frame)
                await client_out.drain()

        tasks = [
            asyncio.create_task(_relay(client_in, server_out, upward)),
            asyncio.create_task(_relay(server_in, client_out, downward)),
            asyncio.create_task(held_back()),
        ]
        self._tasks.update(tasks)
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
                self._tasks.discard(task)
            for writer in (client_out, server_out):
                with contextlib.suppress(Exception):
                    writer.close()


async def _relay(
    source: asyncio.StreamReader, sink: asyncio.StreamWriter, on_frame: Callable[[bytes], Awaitable[None]]
) -> None:
    """Read whole protocol frames from ``source`` and hand each to ``on_frame``, which writes it to ``sink``."""
    buffer = b""
    while data := await source.read(65536):
        buffer += data
        while (frame := _frame(buffer)) is not None:
            buffer = buffer[len(frame) :]
            await on_frame(frame)
        await sink.drain()


def _frame(buffer: bytes) -> bytes | None:
    """The first whole protocol frame in ``buffer`` (a line, with its payload for the ops that carry one), or
    None."""
    end = buffer.find(b"\r\n")
    if end < 0:
        return None
    fields = buffer[:end].split()
    if not fields or fields[0].upper() not in PAYLOAD_OPS:
        return buffer[: end + 2]
    whole = end + 2 + int(fields[-1]) + 2  # the last field is the payload's size, headers included
    return buffer[:whole] if len(buffer) >= whole else None


def _fields(frame: bytes) -> tuple[bytes, list[bytes]]:
    fields = frame[: frame.find(b"\r\n")].split()
    return (fields[0].upper(), fields[1:]) if fields else (b"", [])


def _delivered_by_a_consumer(frame: bytes) -> bool:
    """MSG subject sid reply size, or HMSG subject sid reply header-size size, with a JetStream ack reply."""
    op, args = _fields(frame)
    with_reply = {b"MSG": 4, b"HMSG": 5}.get(op)
    return len(args) == with_reply and args[2].startswith(ACK_PREFIX)


def _asks_for_a_consumers_state(frame: bytes) -> bool:
    op, args = _fields(frame)
    return op in (b"PUB", b"HPUB") and bool(args) and args[0].startswith(CONSUMER_INFO_PREFIX)
