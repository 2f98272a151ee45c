"""The cluster deployment files: the compose file is valid Compose, each image names a real service,
and the NATS configuration is accepted by the real server, whose per-role permissions let each service do
its work and nothing else."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import nats
import pytest
import yaml
from librarrarian_cleanup import service as cleanup
from librarrarian_cleanup.settings import Settings as CleanupSettings
from librarrarian_contracts import (
    CleanupFinished,
    FileIdentity,
    FindStaleFiles,
    JobChange,
    JobCompleted,
    JobKind,
    JobStateChanged,
    JobStatus,
    MediaProbed,
    catalog,
    provision,
    publish,
    topology,
)
from librarrarian_contracts.codec import job_decoder
from librarrarian_contracts.views import JobsPage, JobsQuery, JobView, ReleasedJobs, ReleaseJobs
from librarrarian_embedded.nats_server import binary, free_port
from librarrarian_encoder import service as encoder
from librarrarian_encoder.settings import Settings as EncoderSettings
from librarrarian_media import probe
from librarrarian_runtime.queries import ask
from librarrarian_scheduler import service as scheduler
from librarrarian_scheduler.settings import Settings as SchedulerSettings
from librarrarian_testing import eventually, library, transcode

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
SPEC = ROOT.parent / "shared" / "specs" / "compose-spec.json"
SERVICES = {"scanner", "scheduler", "encoder", "history", "gateway", "cleanup"}
ROLES = SERVICES | {"integration"}


def compose() -> dict[str, object]:
    loaded: dict[str, object] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def test_compose_file_follows_the_compose_specification() -> None:
    schema = json.loads(SPEC.read_text())
    # The spec names its draft by an id jsonschema does not know; it is draft 7.
    jsonschema.Draft7Validator(schema).validate(compose())


def test_every_service_has_its_own_image_built_from_a_real_package() -> None:
    services = compose()["services"]
    assert isinstance(services, dict)
    built = {name: spec["build"]["args"]["SERVICE"] for name, spec in services.items() if "build" in spec}
    assert built == {name: name for name in SERVICES}
    for name in SERVICES:
        pyproject = (ROOT / "services" / name / "pyproject.toml").read_text()
        assert f'name = "librarrarian-{name}"' in pyproject
        assert f'librarrarian-{name} = "librarrarian_{name}.__main__:main"' in pyproject


def test_every_service_gets_its_own_nats_user_and_the_config_is_valid(tmp_path: Path) -> None:
    services = compose()["services"]
    assert isinstance(services, dict)
    conf = (DEPLOY / "nats.conf").read_text()
    env = {}
    for name in SERVICES:
        url = services[name]["environment"]["NATS_URL"]
        assert url.startswith(f"nats://{name}:"), url
        assert re.search(rf"user: {name},\s+password: \$NATS_{name.upper()}_PASSWORD", conf)
        env[f"NATS_{name.upper()}_PASSWORD"] = f"secret-{name}"
    env["NATS_INTEGRATION_PASSWORD"] = "secret-integration"
    config = tmp_path / "nats.conf"
    config.write_text(conf.replace("store_dir: /data", f"store_dir: {json.dumps(str(tmp_path))}"))
    result = subprocess.run(
        [binary(), "-c", str(config), "-t"], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr + result.stdout


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def role_server(tmp_path: Path) -> Iterator[dict[str, str]]:
    """The real nats-server with deploy/nats.conf (its own port and store): role -> URL with credentials."""
    port = free_port()
    conf = (DEPLOY / "nats.conf").read_text()
    conf = conf.replace("listen: 0.0.0.0:4222", f"listen: 127.0.0.1:{port}").replace(
        "http: 0.0.0.0:8222\n", ""
    )
    config = tmp_path / "nats.conf"
    config.write_text(conf.replace("store_dir: /data", f"store_dir: {json.dumps(str(tmp_path / 'js'))}"))
    env = {f"NATS_{name.upper()}_PASSWORD": f"secret-{name}" for name in ROLES}
    server = subprocess.Popen([binary(), "-c", str(config)], env=env, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not listening(port):
            assert time.monotonic() < deadline and server.poll() is None, "nats-server did not start"
            time.sleep(0.02)
        yield {name: f"nats://{name}:secret-{name}@127.0.0.1:{port}" for name in ROLES}
    finally:
        server.terminate()
        server.wait(timeout=10)


async def refused(url: str, subject: str, payload: bytes = b"{}") -> bool:
    """Whether this role's publish to ``subject`` is refused by the server (nothing is stored)."""
    errors: list[Exception] = []

    async def on_error(error: Exception) -> None:
        errors.append(error)

    nc = await nats.connect(url, error_cb=on_error)
    try:
        await nc.publish(subject, payload)
        await nc.flush()
        await asyncio.sleep(0.2)
    finally:
        await nc.close()
    return any("permissions violation" in str(e).lower() for e in errors)


async def test_each_role_may_do_its_work_and_nothing_else(
    role_server: dict[str, str], database_url: str, tmp_path: Path, shared_media: Path
) -> None:
    """A real job through the scheduler and an encoder logged in as their roles, and a stale file found and
    removed by the cleanup service in its role; then what each must not do."""
    media = library.build(tmp_path / "media", shared_media)
    source = media.transcode["mp4"]
    stale = source.with_name(".tmp_librarrarian-left-behind.mkv")
    stale.write_bytes(b"half an encode")
    os.utime(stale, (time.time() - 3 * 86_400, time.time() - 3 * 86_400))
    stopping = asyncio.Event()
    tasks = [
        asyncio.create_task(
            scheduler.run(
                SchedulerSettings(nats_url=role_server["scheduler"], database_url=database_url), stopping
            )
        ),
        asyncio.create_task(
            encoder.run(
                EncoderSettings(
                    nats_url=role_server["encoder"],
                    media_paths=(media.root.resolve(),),
                    node="remote",
                ),
                stopping,
            )
        ),
        asyncio.create_task(
            cleanup.run(
                CleanupSettings(
                    nats_url=role_server["cleanup"],
                    media_paths=(media.root.resolve(),),
                    node="tidy",
                    scan_interval_seconds=0,
                ),
                stopping,
            )
        ),
    ]
    gateway_nc = await nats.connect(role_server["gateway"])
    scanner_nc = await nats.connect(role_server["scanner"])
    try:
        gateway_js = gateway_nc.jetstream()
        await provision(gateway_js)
        # The gateway writes settings (here: quick ones); the scanner reports a file.
        await transcode.put(gateway_js, transcode.fastest(max_output_percent=1000))
        done: list[JobCompleted] = []
        cleaned: list[CleanupFinished] = []

        async def on_job(msg: nats.aio.msg.Msg) -> None:
            event = job_decoder.decode(msg.data)
            if isinstance(event, JobCompleted):
                done.append(event)
            elif isinstance(event, CleanupFinished):
                cleaned.append(event)

        await gateway_js.subscribe("job.>", ordered_consumer=True, cb=on_job)
        identity = FileIdentity(
            size=source.stat().st_size, mtime_ns=source.stat().st_mtime_ns, inode=source.stat().st_ino
        )
        await publish(
            scanner_nc.jetstream(),
            MediaProbed(path=str(source.resolve()), identity=identity, probe=probe(source)),
        )
        await eventually(lambda: done, timeout=120, message="the job done through role users")
        assert done[0].node == "remote"

        # The gateway asks for a stale-file scan and releases what was found; the cleanup service removes it.
        await publish(gateway_js, FindStaleFiles())
        query = JobsQuery(kind="cleanup", statuses=("awaiting_approval",))
        await eventually(
            lambda: _items(ask(gateway_nc, topology.SCHEDULER_JOBS_QUERY, query, JobsPage)),
            message="the stale file awaiting approval",
        )
        await ask(gateway_nc, topology.SCHEDULER_RELEASE, ReleaseJobs(kind="cleanup"), ReleasedJobs)
        await eventually(lambda: cleaned, message="the stale file removed through role users")
        assert cleaned[0].removed and not stale.exists() and source.exists()
    finally:
        stopping.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 30)
        await gateway_nc.close()
        await scanner_nc.close()

    # An encoder (on another machine) cannot invent media or work, nor change settings; nobody deletes streams.
    for subject in (
        "media.probed",
        "work.transcode.cpu",
        "$KV.settings.transcode",
        "$JS.API.STREAM.DELETE.JOBS",
    ):
        assert await refused(role_server["encoder"], subject), subject
    assert await refused(role_server["encoder"], "cleanup.stale_file_found")
    assert await refused(role_server["gateway"], "cleanup.stale_file_found")
    for subject in ("work.transcode.cpu", "media.probed", "$KV.settings.transcode"):
        assert await refused(role_server["cleanup"], subject), subject
    assert await refused(role_server["history"], "job.completed")
    assert await refused(role_server["gateway"], "$KV.nodes.fake")
    assert await refused(role_server["scheduler"], "$JS.API.STREAM.PURGE.WORK")
    assert not await refused(role_server["gateway"], "$KV.settings.queue", b'{"paused": false}')


async def _items(page: object) -> object:
    return (await page).items  # type: ignore[misc]


def test_the_integration_user_may_subscribe_to_exactly_the_public_subjects() -> None:
    conf = (DEPLOY / "nats.conf").read_text()
    found = re.search(r"user: integration,.*?subscribe: \{ allow: \[([^\]]*)\]", conf, re.S)
    assert found, "deploy/nats.conf has no integration user with a subscribe allow-list"
    allowed = tuple(json.loads(f"[{found.group(1)}]"))
    assert allowed == catalog.public_filters()


async def test_an_integration_listens_to_public_events_and_can_do_nothing_else(
    role_server: dict[str, str], tmp_path: Path
) -> None:
    """The example subscriber, logged in as ``integration``, prints a job's change; the same user is refused a
    publish and a subscription to work."""
    example = ROOT / "docs" / "examples" / "follow_jobs.py"
    env = {**os.environ, "NATS_URL": role_server["integration"]}
    follower = await asyncio.create_subprocess_exec(
        sys.executable, str(example), env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    scheduler_nc = await nats.connect(role_server["scheduler"])
    try:
        assert follower.stdout is not None
        assert await asyncio.wait_for(follower.stdout.readline(), 30) == b"listening\n"
        await provision(scheduler_nc.jetstream())
        view = JobView(
            id=7,
            kind=JobKind.TRANSCODE,
            path="/media/Film.avi",
            status=JobStatus.PENDING,
            attempts=1,
            node=None,
            reason=None,
            error_log=None,
            codec_before="mpeg4",
            size_before=10,
            size_after=None,
            output_path=None,
            queued_at=datetime.now(UTC),
            started_at=None,
            finished_at=None,
            version=1,
        )
        await publish(
            scheduler_nc.jetstream(), JobStateChanged(event_id="7:v1", change=JobChange.QUEUED, job=view)
        )
        line = await asyncio.wait_for(follower.stdout.readline(), 30)
        assert line == b"job 7 queued: pending /media/Film.avi\n"
    finally:
        follower.terminate()
        await follower.wait()
        await scheduler_nc.close()

    assert await refused(role_server["integration"], "job.completed")
    assert await refused(role_server["integration"], "$JS.API.STREAM.INFO.WORK")
    errors: list[Exception] = []

    async def on_error(error: Exception) -> None:
        errors.append(error)

    nc = await nats.connect(role_server["integration"], error_cb=on_error)
    try:
        await nc.subscribe("work.>")
        await nc.subscribe("$KV.settings.>")
        await eventually(lambda: len(errors) >= 2, message="both subscriptions refused")
    finally:
        await nc.close()
    assert all("permissions violation" in str(e).lower() for e in errors)
