"""Trying a Plex server ("Test connection"): its name and version, or the reason in our words — refused
token, nothing listening, TLS that fails, no answer in time — never the text the server sent."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import pytest
from librarrarian_runtime.outbound import PrivateServers
from librarrarian_scanner.plex import PlexMediaServer
from librarrarian_scanner.source_store import SourceError
from librarrarian_testing.media_servers import FakePlexServer, plex_server_spec, serving

ALL = PrivateServers.ALL  # the fake servers listen on loopback


@contextlib.asynccontextmanager
async def silent_server() -> AsyncIterator[str]:
    """Takes connections and never answers."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_a_server_that_answers_gives_its_name_and_version() -> None:
    pms = FakePlexServer(name="Living room", version="1.41.3.9314")
    async with serving(pms.build()) as url:
        assert await PlexMediaServer(url, pms.token, ALL).info() == ("Living room", "1.41.3.9314")
    assert all(not plex_server_spec().problems(seen) for seen in pms.seen)


async def test_each_failure_has_its_reason_and_none_carries_the_servers_text() -> None:
    pms = FakePlexServer()
    async with serving(pms.build()) as url, silent_server() as silent:
        port = url.rsplit(":", 1)[1]
        cases = {
            "refused the token": PlexMediaServer(url, "wrong", ALL),
            "cannot be reached": PlexMediaServer(f"http://127.0.0.1:{free_port()}", pms.token, ALL),
            "TLS failed": PlexMediaServer(f"https://127.0.0.1:{port}", pms.token, ALL),
            "did not answer in time": PlexMediaServer(silent, pms.token, ALL, timeout=0.5),
        }
        for reason, server in cases.items():
            with pytest.raises(SourceError) as raised:
                await server.info()
            message = str(raised.value)
            assert reason in message, message
            assert "Unauthorized" not in message and "<html" not in message
            assert pms.token not in message
