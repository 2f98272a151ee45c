"""Nodes without the library under their own NATS users, on the real server with the cluster's
configuration as ``librarrarian nats-config --remote`` makes it: each reaches its own transfer store and
nothing of another node's, takes no whole job and passes for no other node; and a file is encoded in
segments across a node with the library and one without, by the real scanner, scheduler and encoders each
logged in as its own user, with not one refusal."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import msgspec
import nats
import pytest
from librarrarian_contracts import JobCompleted, nats_config, provision, topology
from librarrarian_contracts.codec import job_decoder
from librarrarian_contracts.permissions import PROVISIONER, users
from librarrarian_contracts.views import JobProgress
from librarrarian_embedded.nats_server import binary
from librarrarian_encoder import service as encoder
from librarrarian_encoder import transfers
from librarrarian_encoder.settings import Settings as EncoderSettings
from librarrarian_provision.settings import Settings as ProvisionSettings
from librarrarian_runtime import bus, env
from librarrarian_scanner import service as scanner
from librarrarian_scanner.settings import Settings as ScannerSettings
from librarrarian_scheduler import service as scheduler
from librarrarian_scheduler.settings import Settings as SchedulerSettings
from librarrarian_testing import clips, eventually, forbidden, role_servers, transcode
from librarrarian_testing.role_servers import RoleServer
from nats.aio.msg import Msg

from librarrarian import local_servers, secrets_file

REMOTE = ("laptop", "friend")


@pytest.fixture
def remote_server(tmp_path: Path) -> Iterator[RoleServer]:
    with role_servers.deploy_server(tmp_path / "nats", remote_nodes=REMOTE) as server:
        yield server


async def provisioned(urls: Mapping[str, str], remote_nodes: tuple[str, ...]) -> None:
    """As ``librarrarian provision`` with ``REMOTE_NODES``: a store for each node."""
    nc = await bus.connect(urls[PROVISIONER], "provision")
    try:
        await provision(nc.jetstream(), remote_nodes=remote_nodes)
    finally:
        await nc.close()


async def in_laptops_store(urls: Mapping[str, str]) -> list[str]:
    """What laptop's own transfer store holds, read as laptop."""
    nc = await bus.connect(urls["remote-laptop"], "laptop")
    try:
        return await transfers.names(nc.jetstream(), store=topology.remote_store("laptop").name)
    finally:
        await nc.close()


def test_nats_config_writes_a_user_per_node_without_the_library_and_the_server_accepts_it(
    tmp_path: Path,
) -> None:
    made = subprocess.run(
        [sys.executable, "-m", "librarrarian", "nats-config", "--remote", "laptop", "--remote", "friend"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert made == nats_config.deploy(REMOTE)
    assert "user: remote-laptop, password: $NATS_REMOTE_LAPTOP_PASSWORD" in made
    config = tmp_path / "nats.conf"
    config.write_text(made.replace("store_dir: /data", f"store_dir: {json.dumps(str(tmp_path))}"))
    passwords = {nats_config.env_password(user)[1:]: f"secret-{user}" for user in users(REMOTE)}
    checked = subprocess.run(
        [binary(), "-c", str(config), "-t"], env=passwords, capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stderr + checked.stdout


def test_a_name_that_cannot_name_a_node_without_the_library_is_refused_where_it_is_given(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """It becomes part of a user's and a store's name: upper case, dots or spaces are refused with the rule,
    by the command that writes the configuration, by ``up``, by the provisioning step and by the encoder at
    start."""
    refused = subprocess.run(
        [sys.executable, "-m", "librarrarian", "nats-config", "--remote", "Laptop.lan"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode == 2 and "lower-case letters" in refused.stderr and not refused.stdout
    data = tmp_path / "data"
    up = subprocess.run(  # stopped before anything starts
        [sys.executable, "-m", "librarrarian", "up", "--media", str(tmp_path), "--data-dir", str(data)],
        env={**os.environ, "REMOTE_NODES": "Laptop.lan"},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert up.returncode == 2 and "REMOTE_NODES" in up.stderr
    assert not data.exists()
    monkeypatch.setenv("NATS_URL", "nats://127.0.0.1:4222")
    monkeypatch.setenv("REMOTE_NODES", "laptop, Friend's PC")
    with pytest.raises(env.SettingsError, match="REMOTE_NODES"):
        ProvisionSettings.from_env()
    monkeypatch.setenv("REMOTE_NODES", "laptop friend,laptop")
    assert ProvisionSettings.from_env().remote_nodes == ("laptop", "friend")
    monkeypatch.delenv("MEDIA_PATHS", raising=False)
    monkeypatch.setenv("NODE_NAME", "Laptop.lan")
    with pytest.raises(env.SettingsError, match="NODE_NAME"):
        EncoderSettings.from_env()
    monkeypatch.setenv("NODE_NAME", "laptop")
    assert EncoderSettings.from_env().media_paths == ()


async def test_what_a_node_without_the_library_must_not_do_is_refused(remote_server: RoleServer) -> None:
    """Each node against the other's store and the shared one, every whole-job and report subject, the
    other node's entries, and the whole catalog: every attempt refused, and logged by the server."""
    await provisioned(remote_server.urls, remote_server.remote_nodes)
    laptop, friend = REMOTE
    attempts = [
        *forbidden.remote_named(laptop, friend),
        *forbidden.remote_named(friend, laptop),
        *forbidden.remote_swept(laptop),
    ]
    outcomes = await forbidden.try_all(remote_server.urls, attempts)
    assert [o.attempt for o in outcomes if not o.refused] == []
    assert len(remote_server.violations()) == len(attempts)


async def test_a_node_without_the_library_encodes_segments_under_its_own_user(
    remote_server: RoleServer, database_url: str, tmp_path: Path, shared_media: Path
) -> None:
    """The film scanned and queued by the real scanner and scheduler, cut by node-a (the library, the
    encoder user), helped by "laptop" (no library, ``remote-laptop``), replaced and reported: the server
    refuses nothing, laptop encoded a segment, and both stores end empty."""
    urls = remote_server.urls
    await provisioned(remote_server.urls, remote_server.remote_nodes)
    media = (tmp_path / "media").resolve()
    (media / "Films").mkdir(parents=True)
    film = clips.film(media / "Films" / "Film.mp4", shared_media)
    gateway = await bus.connect(urls["gateway"], "gateway")
    gateway_js = gateway.jetstream()
    await transcode.put(gateway_js, transcode.fastest(segment_min_minutes=0.1, segment_seconds=10))
    done: list[JobCompleted] = []
    nodes: set[str] = set()

    async def on_job(msg: Msg) -> None:
        if isinstance(event := job_decoder.decode(msg.data), JobCompleted):
            done.append(event)

    await gateway.subscribe("job.>", cb=on_job)
    progress = await (await gateway_js.key_value(topology.PROGRESS.name)).watchall()
    stopping = asyncio.Event()
    cpu = (topology.HwClass.CPU,)
    runs = [
        scheduler.run(SchedulerSettings(nats_url=urls["scheduler"], database_url=database_url), stopping),
        scanner.run(
            ScannerSettings(
                nats_url=urls["scanner"], database_url=database_url, media_paths=(media,), watch=False
            ),
            stopping,
        ),
        encoder.run(
            EncoderSettings(nats_url=urls["encoder"], media_paths=(media,), node="node-a", hw_classes=cpu),
            stopping,
        ),
        encoder.run(
            EncoderSettings(nats_url=urls["remote-laptop"], media_paths=(), node="laptop", hw_classes=cpu),
            stopping,
        ),
    ]
    tasks = [asyncio.create_task(run) for run in runs]
    try:

        async def finished() -> list[JobCompleted]:
            with contextlib.suppress(nats.errors.TimeoutError):
                while True:  # every progress value so far (None: the watch caught up)
                    entry = await progress.updates(timeout=0.05)  # type: ignore[no-untyped-call]
                    if entry is not None and entry.value:
                        nodes.update(msgspec.json.decode(entry.value, type=JobProgress).nodes)
            return done

        await eventually(finished, timeout=180, message="the film encoded in segments through role users")
        assert done[0].node == "node-a" and done[0].path == str(film)
        assert "laptop" in nodes
        assert await in_laptops_store(urls) == []
    finally:
        stopping.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 60)
        await progress.stop()  # type: ignore[no-untyped-call]
        await gateway.close()
    assert remote_server.violations() == []


async def test_up_makes_a_user_for_each_node_without_the_library_it_is_told_of(tmp_path: Path) -> None:
    """``REMOTE_NODES`` for ``librarrarian up``: a password in its credentials, a user on its NATS server that
    reaches the node's own store once provisioned."""
    creds = secrets_file.load_or_create(tmp_path, ("laptop",))
    assert creds[secrets_file.nats_key("remote-laptop")]
    started = await local_servers.start_nats(tmp_path / "nats", creds, ("laptop",))
    try:
        await provisioned(started.urls, ("laptop",))
        assert await in_laptops_store(started.urls) == []
    finally:
        started.server.stop()
