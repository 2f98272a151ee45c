"""Past one machine: the services, unchanged, against a three-server NATS JetStream cluster (R3 streams and
buckets, ``deploy/nats-cluster.conf``, every service logged in as its role with a ``NATS_URL`` listing the
three servers). A batch of real clips is scanned and transcoded by two encoders while the server leading the
WORK stream is killed (SIGKILL) and started again: every job ends done, each exactly once, every original
replaced by its verified output, nothing left behind, and no server refused anyone anything."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import av
import msgspec
import pytest
from librarrarian_contracts import JobCompleted, JobStarted, provision, topology
from librarrarian_contracts.codec import job_decoder
from librarrarian_contracts.permissions import PROVISIONER
from librarrarian_contracts.settings import QUEUE_KEY, QueueControl
from librarrarian_contracts.topology import HwClass
from librarrarian_encoder import service as encoder
from librarrarian_encoder.replace import TEMP_PREFIX
from librarrarian_encoder.settings import Settings as EncoderSettings
from librarrarian_history import service as history
from librarrarian_history.settings import Settings as HistorySettings
from librarrarian_provision import service as provisioning
from librarrarian_provision.settings import Settings as ProvisionSettings
from librarrarian_runtime import bus
from librarrarian_scanner import service as scanner
from librarrarian_scanner.settings import Settings as ScannerSettings
from librarrarian_scheduler import service as scheduler
from librarrarian_scheduler.settings import Settings as SchedulerSettings
from librarrarian_testing import eventually, transcode
from librarrarian_testing.clips import ffmpeg
from librarrarian_testing.nats_cluster import OBSERVER, NatsCluster, Server, running_cluster
from nats import errors as nats_errors
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import Error as JetStreamError

pytestmark = pytest.mark.e2e
log = logging.getLogger(__name__)

BATCH = 8
REPLICAS = 3


@pytest.fixture
def nats_cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    with running_cluster(tmp_path / "nats") as cluster:
        yield cluster


@pytest.fixture
async def observer(nats_cluster: NatsCluster) -> AsyncIterator[Client]:
    """The test's own connection, through any server, as the user who may read everything."""
    nc = await bus.connect(nats_cluster.url(OBSERVER, every_server=True), "observer")
    await nats_cluster.wait_for_leader(nc)
    try:
        yield nc
    finally:
        await nc.close()


def batch(root: Path, shared_media: Path) -> list[Path]:
    """Short cuts of the two clips (stream copies: quick to make and to encode), each of its own length so
    that none is taken for a copy of another."""
    paths = []
    for n in range(BATCH):
        clip = shared_media / ("bikes.mp4" if n % 2 else "bigbuckbunny.mp4")
        path = root / f"Show {n}" / f"Episode {n}.mp4"
        path.parent.mkdir(parents=True)
        ffmpeg("-i", clip, "-t", f"{2 + 0.25 * n:.2f}", "-map", "0", "-c", "copy", path)
        paths.append(path)
    return paths


async def rows(database_url: str, query: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database_url)
    try:
        return list(await conn.fetch(query))
    finally:
        await conn.close()


async def jobs(database_url: str) -> list[asyncpg.Record]:
    try:
        return await rows(database_url, "SELECT id, path, status, attempts, reason FROM scheduler.jobs")
    except asyncpg.UndefinedTableError:
        return []  # the scheduler has not made its tables yet


async def leader(js: JetStreamContext, stream: str) -> str | None:
    """The stream's leader now, and only once every replica is current again (None meanwhile)."""
    try:
        info = await js.stream_info(stream)
    except (JetStreamError, TimeoutError):
        return None  # no leader yet: the question went unanswered
    cluster = info.cluster
    if cluster is None or not cluster.leader:
        return None
    replicas = cluster.replicas or []
    if len(replicas) != REPLICAS - 1 or not all(r.current and not r.offline for r in replicas):
        return None
    return cluster.leader


async def any_leader(js: JetStreamContext, stream: str, not_on: str) -> str | None:
    try:
        info = await js.stream_info(stream)
    except (JetStreamError, TimeoutError):
        return None
    found = info.cluster.leader if info.cluster else None
    return found if found and found != not_on else None


async def reports(js: JetStreamContext) -> list[object]:
    """Every job report the JOBS stream holds, in order."""
    info = await js.stream_info(topology.JOBS.name)
    found = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await js.get_msg(topology.JOBS.name, seq)
        if msg.data:
            found.append(job_decoder.decode(msg.data))
    return found


@contextlib.asynccontextmanager
async def services(cluster: NatsCluster, database_url: str, media: Path) -> AsyncIterator[None]:
    """The real services, each logged in as its role: the two encoders with every server's URL written
    out, the others with the credentials in the first only."""
    stopping = asyncio.Event()

    def node(name: str) -> EncoderSettings:
        return EncoderSettings(
            nats_url=cluster.url("encoder", every_server=True),
            media_paths=(media,),
            node=name,
            hw_classes=(HwClass.CPU,),
            grace_seconds=5,
        )

    runs = [
        scheduler.run(SchedulerSettings(cluster.url("scheduler"), database_url), stopping),
        history.run(HistorySettings(cluster.url("history"), database_url), stopping),
        encoder.run(node("node-a"), stopping),
        encoder.run(node("node-b"), stopping),
        scanner.run(
            ScannerSettings(cluster.url("scanner"), database_url, media_paths=(media,), watch=False),
            stopping,
        ),
    ]
    tasks = [asyncio.create_task(run) for run in runs]
    for task in tasks:
        task.add_done_callback(_report_crash)
    try:
        yield
    finally:
        stopping.set()
        ended = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 60)
    crashed = [e for e in ended if isinstance(e, BaseException)]
    assert not crashed, crashed


async def _pause_queue(js: JetStreamContext, paused: bool) -> bool:
    """The queue's pause set, as the dashboard sets it; False while a server's loss leaves it unanswered."""
    try:
        kv = await js.key_value(topology.SETTINGS.name)
        await kv.put(QUEUE_KEY, msgspec.json.encode(QueueControl(paused=paused)))
    except (JetStreamError, TimeoutError, nats_errors.Error):
        return False
    return True


def _report_crash(task: asyncio.Task[None]) -> None:
    """A service that stops on its own is a failure: said at once, with its traceback, in the test's log."""
    if not task.cancelled() and (error := task.exception()) is not None:
        log.error("a service stopped: %r", error, exc_info=error)


async def test_a_batch_is_transcoded_exactly_once_while_a_nats_server_is_killed_and_restarted(
    nats_cluster: NatsCluster,
    observer: Client,
    database_url: str,
    tmp_path: Path,
    shared_media: Path,
) -> None:
    js = observer.jetstream(timeout=1.0)
    media = (tmp_path / "media").resolve()
    originals = {path: _duration(path) for path in batch(media, shared_media)}

    # The provisioning step as deployed: the provision user, NATS_REPLICAS=3.
    await provisioning.run(ProvisionSettings(nats_url=nats_cluster.url(PROVISIONER), replicas=REPLICAS))
    for stream in [s.name for s in topology.STREAMS] + [f"KV_{b.name}" for b in topology.BUCKETS]:
        assert (await js.stream_info(stream)).config.num_replicas == REPLICAS, stream
    gateway = await bus.connect(nats_cluster.url("gateway"), "gateway")
    await transcode.put(gateway.jetstream(), transcode.fastest(max_output_percent=1000))
    await gateway.close()

    killed: Server | None = None
    async with services(nats_cluster, database_url, media):
        # Kill the WORK stream's leader while the batch runs: a job is being encoded, others wait.
        await eventually(lambda: _with_status(database_url, "running"), timeout=60, message="a job encoding")
        name = await eventually(lambda: leader(js, topology.WORK.name), message="the WORK leader")
        killed = nats_cluster.server(name)
        nats_cluster.kill(killed)
        done_at_kill = len(await _with_status(database_url, "done"))

        # The two left elect another leader, and the batch goes on.
        await eventually(
            lambda: any_leader(js, topology.WORK.name, not_on=name), timeout=30, message="a new WORK leader"
        )
        await eventually(
            lambda: _done_more_than(database_url, done_at_kill),
            timeout=90,
            message="a job done with one server down",
        )

        # The queue is paused so that work is still waiting when the killed server comes back (the nodes
        # finish what they hold); it comes back with its store, catches up, and the batch ends.
        await eventually(lambda: _pause_queue(js, True), timeout=30, message="the queue paused")
        nats_cluster.start(killed)
        unfinished_at_restart = BATCH - len(await _with_status(database_url, "done"))
        await eventually(lambda: _pause_queue(js, False), timeout=30, message="the queue resumed")
        finished = await eventually(
            lambda: _all_final(database_url), timeout=180, interval=0.2, message="every job final"
        )
        await eventually(
            lambda: _caught_up(js, killed.name), timeout=60, message=f"{killed.name} current again"
        )

    assert killed is not None
    assert unfinished_at_restart > 0, "the batch ended before the server came back"
    # Every job done once: one attempt, one commit granted, one start, one completion, one history row.
    assert sorted(Path(j["path"]) for j in finished) == sorted(originals)
    assert {(j["status"], j["attempts"]) for j in finished} == {("done", 1)}, finished
    ids = {j["id"] for j in finished}
    commits = await rows(database_url, "SELECT job_id FROM scheduler.commits")
    assert Counter(c["job_id"] for c in commits) == dict.fromkeys(ids, 1)
    recorded = await rows(database_url, "SELECT job_id, status FROM history.transcodes")
    assert Counter((r["job_id"], r["status"]) for r in recorded) == {(i, "done"): 1 for i in ids}
    # Every work message acknowledged and gone: none will come back after AckWait.
    work = await js.consumer_info(topology.WORK.name, topology.WORK_CONSUMERS[HwClass.CPU].durable)
    assert work.num_ack_pending == 0 and work.num_pending == 0
    assert (await js.stream_info(topology.WORK.name)).state.messages == 0
    events = await reports(js)
    assert Counter(e.job_id for e in events if isinstance(e, JobCompleted)) == dict.fromkeys(ids, 1)
    assert Counter(e.job_id for e in events if isinstance(e, JobStarted)) == dict.fromkeys(ids, 1)

    # Each original replaced by its verified HEVC output; nothing of ours left beside them.
    for path, duration in originals.items():
        with av.open(str(path)) as container:
            assert container.streams.video[0].codec_context.name == "hevc", path
        assert abs(_duration(path) - duration) < 0.5, path
    assert [p for p in media.rglob("*") if p.name.startswith(TEMP_PREFIX)] == []
    assert nats_cluster.violations() == []


async def test_a_topology_provisioned_with_one_replica_is_scaled_to_three_in_place(
    nats_cluster: NatsCluster, observer: Client
) -> None:
    """Provisioned with one replica, then with three: every stream, bucket and durable is kept on the three
    servers, and nothing was made anew (the durables keep their state, the streams their messages)."""
    js = observer.jetstream()
    await provision(js, replicas=1)
    assert (await js.stream_info(topology.WORK.name)).config.num_replicas == 1
    await js.publish("media.kept", b"kept through the change")
    before = await js.consumer_info(topology.WORK.name, topology.WORK_CONSUMERS[HwClass.CPU].durable)
    await provision(js, replicas=REPLICAS)
    for stream in [s.name for s in topology.STREAMS] + [f"KV_{b.name}" for b in topology.BUCKETS]:
        assert (await js.stream_info(stream)).config.num_replicas == REPLICAS, stream
    for spec in topology.CONSUMERS:
        info = await js.consumer_info(spec.stream, spec.durable)
        assert not info.config.num_replicas, spec.durable  # inherits its stream's
        if spec.durable == before.name:
            assert info.created == before.created
    assert (await js.stream_info(topology.MEDIA.name)).state.messages == 1
    with pytest.raises(ValueError, match="1, 3 or 5"):
        await provision(js, replicas=2)


async def _with_status(database_url: str, status: str) -> list[asyncpg.Record]:
    return [j for j in await jobs(database_url) if j["status"] == status]


async def _done_more_than(database_url: str, count: int) -> bool:
    return len(await _with_status(database_url, "done")) > count


async def _all_final(database_url: str) -> list[asyncpg.Record] | None:
    found = await jobs(database_url)
    final = len(found) == BATCH and all(j["status"] in {"done", "failed", "skipped"} for j in found)
    return found if final else None


async def _caught_up(js: JetStreamContext, name: str) -> bool:
    """``name`` is a current replica (or the leader) of every stream again."""
    for stream in [s.name for s in topology.STREAMS] + [f"KV_{b.name}" for b in topology.BUCKETS]:
        info = await js.stream_info(stream)
        assert info.cluster is not None
        current = {r.name for r in info.cluster.replicas or [] if r.current and not r.offline}
        if name != info.cluster.leader and name not in current:
            return False
    return True


def _duration(path: Path) -> float:
    with av.open(str(path)) as container:
        return (container.duration or 0) / 1_000_000
