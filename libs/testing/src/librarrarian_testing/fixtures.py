"""pytest fixtures: a real NATS server per test, a real PostgreSQL database per test, the shared clips."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import nats
import pytest
from librarrarian_embedded import NatsServer, PostgresServer
from nats.aio.client import Client
from nats.js import JetStreamContext

from .consumers import WORK_ACK_WAIT_SECONDS

REPO_ROOT = Path(__file__).resolve().parents[4]


def with_database(dsn: str, database: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{database}"))


def provisioned(url: str) -> None:
    """Apply the topology, as ``librarrarian provision`` does before the services start (they only check
    it), the encoders' durables with the tests' short AckWait. From a thread of its own: a sync fixture may
    run while the test's event loop does."""
    from librarrarian_contracts import provision

    async def apply() -> None:
        nc = await nats.connect(url)
        try:
            await provision(nc.jetstream(), work_ack_wait=WORK_ACK_WAIT_SECONDS)
        finally:
            await nc.close()

    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, apply()).result()


@pytest.fixture
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh NATS server with JetStream for each test (it starts in ~20 ms), provisioned; its one user
    may do anything (the role users are tested in ``tests/test_deploy.py``)."""
    server = NatsServer(tmp_path_factory.mktemp("nats"))
    server.start()
    try:
        provisioned(server.url)
        yield server.url
    finally:
        # The server and its store are the test's alone and thrown away: killed, not stopped gracefully
        # (a graceful stop spends about 0.3 s putting JetStream away, for nothing).
        server.kill()


@pytest.fixture
async def bus(nats_url: str) -> AsyncIterator[tuple[Client, JetStreamContext]]:
    """A connection to ``nats_url`` (the whole topology provisioned)."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    try:
        yield nc, js
    finally:
        await nc.drain()


@pytest.fixture(scope="session")
def postgres_admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``DATABASE_URL`` when set, otherwise a PostgreSQL server of the session's own."""
    existing = os.environ.get("DATABASE_URL")
    if existing:
        yield existing
        return
    server = PostgresServer(tmp_path_factory.mktemp("pg"))
    server.start()
    try:
        yield server.uri()
    finally:
        server.stop()


@pytest.fixture
async def database_url(postgres_admin_url: str) -> AsyncIterator[str]:
    """An empty database of the test's own, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(postgres_admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield with_database(postgres_admin_url, name)
    admin = await asyncpg.connect(postgres_admin_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="session")
def shared_media() -> Path:
    """The real clips in ``../shared/media`` (override with ``LIBRARRARIAN_SHARED_MEDIA``)."""
    path = Path(os.environ.get("LIBRARRARIAN_SHARED_MEDIA", REPO_ROOT.parent / "shared" / "media"))
    if not (path / "bigbuckbunny.mp4").exists():
        pytest.fail(f"shared media not found at {path}")
    return path
