"""The cluster deployment files and the role permissions on the real NATS server: the compose file is valid
Compose, each image names a real service, ``deploy/nats.conf`` is what the catalog makes and the server
accepts, every role does its whole job under its user without a single refusal, and everything a role must
not do is refused, both with ``deploy/nats.conf`` and with the configuration ``librarrarian up`` writes."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
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
    MediaProbe,
    MediaProbed,
    nats_config,
    provision,
    publish,
    topology,
)
from librarrarian_contracts.codec import job_decoder
from librarrarian_contracts.permissions import PROVISIONER, users
from librarrarian_contracts.sources import SourcesStatus
from librarrarian_contracts.views import (
    ActionResult,
    HistoryPage,
    HistoryQuery,
    JobAction,
    JobsPage,
    JobsQuery,
    JobView,
    Nothing,
    ReleasedJobs,
    ReleaseJobs,
)
from librarrarian_embedded.nats_server import binary, free_port
from librarrarian_encoder import service as encoder
from librarrarian_encoder import transfers
from librarrarian_encoder.settings import Settings as EncoderSettings
from librarrarian_history import service as history
from librarrarian_history.settings import Settings as HistorySettings
from librarrarian_runtime import bus
from librarrarian_runtime.errors import ServiceError
from librarrarian_runtime.queries import ask
from librarrarian_scanner import service as scanner
from librarrarian_scanner.settings import Settings as ScannerSettings
from librarrarian_scheduler import service as scheduler
from librarrarian_scheduler.settings import Settings as SchedulerSettings
from librarrarian_testing import eventually, forbidden, role_servers, transcode
from librarrarian_testing.files import aged
from librarrarian_testing.role_servers import RoleServer

from librarrarian import local_servers, secrets_file

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
SPEC = ROOT.parent / "shared" / "specs" / "compose-spec.json"
SERVICES = {"scanner", "scheduler", "encoder", "history", "gateway", "cleanup", "arr"}
STEPS = {"provision"}
# Runs the `librarrarian` command itself (`backup --daily`), as the database admin and the NATS backup user.
COMMANDS = {"backup"}


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
    assert built == {name: name for name in SERVICES | STEPS | COMMANDS}
    for name in COMMANDS:
        assert services[name]["build"]["args"]["PACKAGE"] == "librarrarian"
        assert services[name]["command"][:2] == ["librarrarian", name]
    assert 'librarrarian = "librarrarian.cli:main"' in (ROOT / "pyproject.toml").read_text()
    for name in SERVICES | STEPS:
        pyproject = (ROOT / "services" / name / "pyproject.toml").read_text()
        assert f'name = "librarrarian-{name}"' in pyproject
        assert f'librarrarian-{name} = "librarrarian_{name}.__main__:main"' in pyproject


def test_nats_conf_is_made_from_the_catalog_and_the_server_accepts_it(tmp_path: Path) -> None:
    conf = (DEPLOY / "nats.conf").read_text()
    assert conf == nats_config.deploy(), "deploy/nats.conf is out of date: run `make schema`"
    config = tmp_path / "nats.conf"
    config.write_text(conf.replace("store_dir: /data", f"store_dir: {json.dumps(str(tmp_path))}"))
    env = {nats_config.env_password(user)[1:]: f"secret-{user}" for user in users()}
    result = subprocess.run(
        [binary(), "-c", str(config), "-t"], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr + result.stdout


def test_each_container_logs_in_as_its_own_role() -> None:
    """To NATS as the user of its name (the provision step as the provisioner), to PostgreSQL as its own
    role; encoder and cleanup keep nothing and get no database. The NATS container knows every password."""
    services = compose()["services"]
    assert isinstance(services, dict)
    for name in SERVICES | STEPS | COMMANDS:
        environment = services[name]["environment"]
        assert environment["NATS_URL"].startswith(f"${{NATS_SCHEME:-nats}}://{name}:"), name
        database = environment.get("DATABASE_URL")
        if name in {"encoder", "cleanup"}:
            assert database is None, name
        elif name in STEPS | COMMANDS:
            assert database.startswith("postgresql://librarrarian:")  # the admin, for these only
        else:
            assert database.startswith(f"postgresql://librarrarian_{name}:"), name
        if name not in STEPS:
            assert services[name]["depends_on"] == {
                "provision": {"condition": "service_completed_successfully"}
            }
    passwords = services["nats"]["environment"]
    assert set(passwords) == {nats_config.env_password(user)[1:] for user in users()}


def test_the_daily_backups_land_in_a_volume_the_gateway_serves_downloads_from() -> None:
    services = compose()["services"]
    volumes = compose()["volumes"]
    assert isinstance(services, dict) and isinstance(volumes, dict)
    for name in ("backup", "gateway"):
        assert services[name]["environment"]["BACKUP_DIR"] == "/backups", name
        assert "${BACKUP_VOLUME:-backups}:/backups" in services[name]["volumes"], name
    assert "backups" in volumes
    assert (
        "install -d -o librarrarian -g librarrarian -m 0700 /backups" in (DEPLOY / "Dockerfile").read_text()
    )


def test_the_nats_monitoring_port_listens_on_loopback_only(tmp_path: Path) -> None:
    assert "\nhttp: 127.0.0.1:8222\n" in nats_config.deploy()
    server = local_servers.NatsServer(tmp_path, authorization="", monitor_port=free_port())
    assert f"\nhttp: 127.0.0.1:{server.monitor_port}\n" in server._write_config().read_text()


@pytest.fixture
def deploy_server(tmp_path: Path) -> Iterator[RoleServer]:
    with role_servers.deploy_server(tmp_path / "deploy") as server:
        yield server


@pytest.fixture
async def up_server(tmp_path: Path) -> AsyncIterator[RoleServer]:
    """The NATS server ``librarrarian up`` starts, with the users and passwords it generates."""
    creds = secrets_file.load_or_create(tmp_path)
    started = await local_servers.start_nats(tmp_path / "nats", creds)
    try:
        yield RoleServer(started.urls, tmp_path / "nats" / "nats.log", started.server.port)
    finally:
        started.server.stop()


@pytest.fixture(params=["deploy", "up"])
def role_server(request: pytest.FixtureRequest) -> RoleServer:
    server: RoleServer = request.getfixturevalue(f"{request.param}_server")
    return server


async def test_what_each_user_must_not_do_is_refused(role_server: RoleServer) -> None:
    """Every named attack and the whole sweep of the catalog, as each user: each is refused by the server."""
    attempts = forbidden.attempts()
    outcomes = await forbidden.try_all(role_server.urls, attempts)
    assert len(outcomes) == len(attempts)
    through = [o.attempt for o in outcomes if not o.refused]
    assert through == []
    assert len(role_server.violations()) == len(attempts)  # the server logged each refusal


async def test_each_role_may_do_its_work_and_nothing_is_refused(
    deploy_server: RoleServer, database_url: str, tmp_path: Path, shared_media: Path
) -> None:
    """A real file scanned, transcoded and recorded, and a stale file found and removed, by the real
    scanner, scheduler, encoder, history and cleanup each logged in as its role, the gateway's part played
    as its role: the server refuses none of it."""
    urls = deploy_server.urls
    media = (tmp_path / "media").resolve()
    source = media / "Film" / "Big Buck Bunny.mp4"
    source.parent.mkdir(parents=True)
    shutil.copy2(shared_media / "bigbuckbunny.mp4", source)
    stale = aged(media / "Film" / ".tmp_librarrarian-left-behind.mkv", 3, b"half an encode")

    provisioner = await bus.connect(urls[PROVISIONER], "provision")
    await provision(provisioner.jetstream())
    await provisioner.close()
    gateway = await bus.connect(urls["gateway"], "gateway")
    gateway_js = gateway.jetstream()
    await transcode.put(gateway_js, transcode.fastest(max_output_percent=1000))
    done: list[JobCompleted] = []
    cleaned: list[CleanupFinished] = []

    async def on_job(msg: nats.aio.msg.Msg) -> None:
        event = job_decoder.decode(msg.data)
        if isinstance(event, JobCompleted):
            done.append(event)
        elif isinstance(event, CleanupFinished):
            cleaned.append(event)

    await gateway.subscribe("job.>", cb=on_job)  # the gateway's live feed does the same
    stopping = asyncio.Event()
    runs = [
        scheduler.run(SchedulerSettings(nats_url=urls["scheduler"], database_url=database_url), stopping),
        history.run(HistorySettings(nats_url=urls["history"], database_url=database_url), stopping),
        scanner.run(
            ScannerSettings(
                nats_url=urls["scanner"], database_url=database_url, media_paths=(media,), watch=False
            ),
            stopping,
        ),
        encoder.run(
            EncoderSettings(
                nats_url=urls["encoder"],
                media_paths=(media,),
                node="remote",
            ),
            stopping,
        ),
        cleanup.run(
            CleanupSettings(nats_url=urls["cleanup"], media_paths=(media,), node="tidy", interval_hours=0),
            stopping,
        ),
    ]
    tasks = [asyncio.create_task(run) for run in runs]
    try:
        await eventually(lambda: done, timeout=120, message="the scanned file transcoded through role users")
        assert done[0].node == "remote" and done[0].path == str(source)
        history_page = await eventually(
            lambda: _recorded(ask(gateway, topology.HISTORY_LIST, HistoryQuery(), HistoryPage)),
            message="the transcode in the history",
        )
        assert [entry.path for entry in history_page.items] == [str(source)]
        sources = await ask(gateway, topology.SOURCES_STATUS, Nothing(), SourcesStatus)
        assert not sources.plex.configured

        await publish(gateway_js, FindStaleFiles())
        query = JobsQuery(kind="cleanup", statuses=("awaiting_approval",))
        await eventually(
            lambda: _items(ask(gateway, topology.SCHEDULER_JOBS_QUERY, query, JobsPage)),
            message="the stale file awaiting approval",
        )
        await ask(gateway, topology.SCHEDULER_RELEASE, ReleaseJobs(kind="cleanup"), ReleasedJobs)
        await eventually(lambda: cleaned, message="the stale file removed through role users")
        assert cleaned[0].removed and not stale.exists() and source.exists()
        await eventually(
            lambda: _items(
                ask(gateway, topology.SCHEDULER_JOBS_QUERY, JobsQuery(statuses=("done",)), JobsPage), 2
            ),
            message="both jobs done in the scheduler's record",
        )
    finally:
        stopping.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 60)
        await gateway.close()
    assert deploy_server.violations() == []


async def test_an_encoder_moves_files_through_the_transfer_store_under_its_role(
    deploy_server: RoleServer, shared_media: Path, tmp_path: Path
) -> None:
    """Up, down and removed again as the encoder user: the server refuses none of it (what other users may
    not do with the store is in the sweep of ``test_what_each_user_must_not_do_is_refused``)."""
    provisioner = await bus.connect(deploy_server.urls[PROVISIONER], "provision")
    await provision(provisioner.jetstream())
    await provisioner.close()
    nc = await bus.connect(deploy_server.urls["encoder"], "encoder")
    try:
        js = nc.jetstream()
        clip = shared_media / "bikes.mp4"
        name = transfers.name(1, 1, "segment-0000")
        fd = os.open(clip, os.O_RDONLY)
        try:
            await transfers.upload(js, name, fd, limit=clip.stat().st_size)
        finally:
            os.close(fd)
        fetched = await transfers.download(js, name, tmp_path, "segment.mkv", limit=clip.stat().st_size)
        assert fetched.read_bytes() == clip.read_bytes()
        assert await transfers.remove_job(js, 1) == 1
    finally:
        await nc.close()
    assert deploy_server.violations() == []


async def test_the_scheduler_takes_back_the_work_of_a_deleted_job_under_its_role(
    deploy_server: RoleServer, database_url: str
) -> None:
    """A job a user deletes before any encoder took it: its work message leaves the WORK stream (the one
    message the scheduler may take out of a stream), and the server refuses nothing."""
    urls = deploy_server.urls
    provisioner = await bus.connect(urls[PROVISIONER], "provision")
    await provision(provisioner.jetstream())
    scanner_nc = await bus.connect(urls["scanner"], "scanner")
    gateway = await bus.connect(urls["gateway"], "gateway")
    stopping = asyncio.Event()
    settings = SchedulerSettings(nats_url=urls["scheduler"], database_url=database_url)
    running = asyncio.create_task(scheduler.run(settings, stopping))
    try:
        await eventually(lambda: _answers(gateway), message="the scheduler answering")
        probe = MediaProbe(container="avi", duration=1.0, video_codec="mpeg4")
        identity = FileIdentity(size=1000, mtime_ns=1, inode=1)
        await publish(scanner_nc.jetstream(), MediaProbed(path="/m/a.avi", identity=identity, probe=probe))

        async def sent() -> bool:  # in the stream, and the scheduler knows where
            conn = await asyncpg.connect(database_url)
            try:
                return bool(
                    await conn.fetchval("SELECT count(*) FROM scheduler.outbox WHERE stream_seq IS NOT NULL")
                )
            finally:
                await conn.close()

        await eventually(sent, message="the work message published")
        assert await _waiting_work(provisioner) == 1
        page = await ask(gateway, topology.SCHEDULER_JOBS_QUERY, JobsQuery(), JobsPage)
        deleted = await ask(
            gateway, topology.SCHEDULER_DELETE, JobAction(job_id=page.items[0].id), ActionResult
        )
        assert deleted.detail == "deleted (pending)"
        await eventually(lambda: _none_waiting(provisioner), message="the work message taken out of WORK")
    finally:
        stopping.set()
        await asyncio.wait_for(running, 30)
        for nc in (provisioner, scanner_nc, gateway):
            await nc.close()
    assert deploy_server.violations() == []


async def _answers(nc: nats.aio.client.Client) -> bool:
    try:
        await ask(nc, topology.SCHEDULER_JOBS_QUERY, JobsQuery(), JobsPage, timeout=0.5)
    except ServiceError:
        return False
    return True


async def _waiting_work(nc: nats.aio.client.Client) -> int:
    return int((await nc.jetstream().stream_info(topology.WORK.name)).state.messages)


async def _none_waiting(nc: nats.aio.client.Client) -> bool:
    return await _waiting_work(nc) == 0


async def _items(page: object, count: int = 1) -> bool:
    return len((await page).items) >= count  # type: ignore[misc]


async def _recorded(page: object) -> object:
    found = await page  # type: ignore[misc]
    return found if found.items else None


async def test_an_integration_listens_to_public_events_and_can_do_nothing_else(
    deploy_server: RoleServer,
) -> None:
    """The example subscriber, logged in as ``integration``, prints a job's change."""
    urls = deploy_server.urls
    example = ROOT / "docs" / "examples" / "follow_jobs.py"
    env = {**os.environ, "NATS_URL": urls["integration"]}
    follower = await asyncio.create_subprocess_exec(
        sys.executable, str(example), env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    provisioner = await bus.connect(urls[PROVISIONER], "provision")
    scheduler_nc = await bus.connect(urls["scheduler"], "scheduler")
    try:
        assert follower.stdout is not None
        assert await asyncio.wait_for(follower.stdout.readline(), 30) == b"listening\n"
        await provision(provisioner.jetstream())
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
        await provisioner.close()
    assert deploy_server.violations() == []
