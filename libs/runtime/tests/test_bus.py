"""Connecting with a ``NATS_URL`` that lists a cluster's servers: the credentials, written once or in each,
are given to every server, including one the URL lists without them."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from librarrarian_embedded import NatsServer
from librarrarian_embedded.nats_server import free_port
from librarrarian_runtime import bus, env


def test_the_credentials_of_the_first_server_are_for_every_server() -> None:
    login = bus.login_of("nats://encoder:s3cr%40t@nats-1:4222, nats://nats-2:4222,nats-3:4222")
    assert login.servers == ["nats://nats-1:4222", "nats://nats-2:4222", "nats://nats-3:4222"]
    assert (login.user, login.password) == ("encoder", "s3cr@t")
    assert bus.user_of("nats://encoder:x@nats-1:4222,nats://nats-2:4222") == "encoder"


def test_each_server_may_carry_the_same_credentials_but_not_others() -> None:
    same = bus.login_of("tls://gateway:pw@a:4222,tls://gateway:pw@b:4222")
    assert same.servers == ["tls://a:4222", "tls://b:4222"]
    assert (same.user, same.password) == ("gateway", "pw")
    with pytest.raises(env.SettingsError, match="same user and password"):
        bus.login_of("nats://gateway:pw@a:4222,nats://encoder:pw@b:4222")
    with pytest.raises(env.SettingsError, match="names no server"):
        bus.login_of(" , ")


def test_a_url_without_credentials_logs_in_as_nobody() -> None:
    login = bus.login_of("nats://127.0.0.1:4222")
    assert (login.servers, login.user, login.password) == (["nats://127.0.0.1:4222"], None, None)


async def test_a_server_listed_without_credentials_is_logged_in_to_with_the_first_ones(
    tmp_path: Path,
) -> None:
    """The first server listed is down; the client logs in to the second, which the URL names bare."""
    server = NatsServer(tmp_path)
    server.start()
    try:
        url = f"nats://{server.user}:{server.password}@127.0.0.1:{free_port()},nats://127.0.0.1:{server.port}"
        nc = await bus.connect(url, "test")
        try:
            assert nc.is_connected
            assert nc.connected_url is not None and nc.connected_url.port == server.port
            await nc.flush()
        finally:
            await nc.close()
    finally:
        server.stop()


async def test_a_stop_before_the_server_answers_ends_the_wait() -> None:
    """NATS is not there (yet): the connection waits for it, until a stop is asked for."""
    stopping = asyncio.Event()
    url = f"nats://127.0.0.1:{free_port()}"  # nobody listens
    waiting = asyncio.create_task(bus.connect_unless_stopped(url, "test", stopping))
    done, _ = await asyncio.wait({waiting}, timeout=1.5)
    assert not done  # still trying: a server may start later
    stopping.set()
    with pytest.raises(bus.Stopped, match="stopped before NATS answered"):
        await asyncio.wait_for(waiting, 10)


def test_a_service_stopped_before_nats_answers_exits_cleanly(tmp_path: Path) -> None:
    """The process as `up` runs it: SIGTERM while it waits for NATS is a stop, exit 0."""
    env_vars = {
        **os.environ,
        "NATS_URL": f"nats://127.0.0.1:{free_port()}",
        "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
    }
    with subprocess.Popen(
        [sys.executable, "-m", "librarrarian_history"], env=env_vars, stderr=subprocess.PIPE, text=True
    ) as process:
        try:
            assert process.stderr is not None
            for line in process.stderr:  # it logs each failed try to reach NATS
                if "NATS error" in line:
                    break
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=20) == 0
        finally:
            process.kill()
