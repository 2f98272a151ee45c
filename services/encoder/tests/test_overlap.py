"""A slot's next job encodes while the job before it is verified, measured and put in place (its background
stage). That job's message stays unacknowledged until its replace is done and reported, so a kill -9 during
the background stage loses nothing and the job is done again exactly once; a verification failure there
fails that job alone; a graceful stop waits for the background stage as it waits for an encode.

The first job is held at the ``verifying`` failpoint (``hold:verifying``) until the next one's ffmpeg runs:
the moment the tests need, without guessing how long an encode takes."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import msgspec
import pytest
from librarrarian_contracts import (
    JobCompleted,
    JobFailed,
    JobSkipped,
    JobStarted,
    NodeState,
    publish,
    topology,
)
from librarrarian_contracts.topology import HwClass
from librarrarian_contracts.views import NodeStatus
from librarrarian_encoder import failpoints, service
from librarrarian_testing import WORK_ACK_WAIT_SECONDS, eventually, library, transcode
from nats.aio.client import Client
from nats.js import JetStreamContext

from .encoder_client import (
    Scheduler,
    encoder_environment,
    encoder_process,
    encoding_ffmpeg,
    node_settings,
    outcome,
    running_encoder,
    work,
)

CPU_WORK = topology.WORK_CONSUMERS[HwClass.CPU]
SUBJECT = topology.transcode_subject(HwClass.CPU)


def temporary_files(*sources: Path) -> list[Path]:
    return [p for s in sources for p in s.parent.iterdir() if p.name.startswith(".tmp_librarrarian-")]


async def held_while_the_next_encodes(release: Path, following: Path) -> None:
    """Job 1 is held in its background stage and job 2's ffmpeg runs."""
    held = Path(f"{release}{failpoints.HELD_SUFFIX}")
    await eventually(lambda: held.exists(), timeout=180, message="job 1 held in its background stage")
    await eventually(lambda: encoding_ffmpeg(following, 2), timeout=60, message="job 2 encoding")


@pytest.fixture
def hold(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Jobs of an encoder in the test's loop stop at ``verifying`` until the file returned exists."""
    release = tmp_path / "release"
    monkeypatch.setenv(failpoints.VARIABLE, f"{failpoints.HOLD}verifying")
    monkeypatch.setenv(failpoints.RELEASE_VARIABLE, str(release))
    return release


@pytest.mark.kill_matrix  # waits out AckWait: `make test-kills`
async def test_a_kill_9_while_a_job_is_put_in_place_behind_the_next_encode_loses_neither(
    bus: tuple[Client, JetStreamContext],
    scheduler: Scheduler,
    nats_url: str,
    tmp_path: Path,
    media: library.Library,
) -> None:
    _, js = bus
    first, following = media.transcode["avi"], media.transcode["mp4"]
    digests = {first: library.sha256(first), following: library.sha256(following)}
    await transcode.put(js, transcode.fastest(x265_preset="slow"))  # job 2 is still encoding at the kill
    release = tmp_path / "release"  # never made: job 1 stays in its background stage until the kill
    env = encoder_environment(nats_url, media.root, "doomed", failpoint=f"{failpoints.HOLD}verifying")
    env[failpoints.RELEASE_VARIABLE] = str(release)
    doomed = await encoder_process(env)
    try:
        await publish(js, work(first, job_id=1), SUBJECT)
        await publish(js, work(following, job_id=2), SUBJECT)
        await held_while_the_next_encodes(release, following)
        doomed.send_signal(signal.SIGKILL)
        await doomed.wait()
    finally:
        if doomed.returncode is None:
            doomed.kill()
            await doomed.wait()

    # Both originals are untouched; nothing but the starts was reported, nothing was asked to commit.
    await eventually(lambda: not encoding_ffmpeg(following, 2), timeout=10, message="ffmpeg gone")
    assert all(library.sha256(path) == digest for path, digest in digests.items())
    assert sorted(e.job_id for e in scheduler.of(JobStarted)) == [1, 2]
    assert len(scheduler.events) == 2 and not scheduler.requests

    # Neither message was acknowledged: both come back to another node once the lease ran out.
    await transcode.put(js, transcode.fastest())
    async with running_encoder(node_settings(nats_url, media.root, "survivor")):
        await eventually(
            lambda: {e.job_id for e in scheduler.of(JobCompleted)} == {1, 2},
            timeout=WORK_ACK_WAIT_SECONDS + 120,
            message="both jobs redelivered and completed",
        )
    # Each job done once, by the survivor, which alone was granted the commit.
    done = scheduler.of(JobCompleted)
    assert sorted((e.job_id, e.node, e.delivery) for e in done) == [(1, "survivor", 2), (2, "survivor", 2)]
    assert sorted((g.job_id, g.node) for g in scheduler.requests) == [(1, "survivor"), (2, "survivor")]
    assert not first.exists() and first.with_suffix(".mkv").exists()  # AVI becomes MKV
    assert library.sha256(following) != digests[following]
    assert temporary_files(first, following) == []


async def test_a_verification_failure_behind_the_next_encode_fails_that_job_alone(
    bus: tuple[Client, JetStreamContext],
    scheduler: Scheduler,
    nats_url: str,
    media: library.Library,
    hold: Path,
) -> None:
    _, js = bus
    first, following = media.transcode["avi"], media.transcode["mp4"]
    digest = library.sha256(first)
    # medium: job 2 encodes long enough to be seen; its output is kept even if larger than the original.
    await transcode.put(js, transcode.fastest(x265_preset="medium", max_output_percent=1000))
    # The plan says 60 s more than the file lasts: its output cannot pass verification.
    planned = work(first, job_id=1)
    longer = msgspec.structs.replace(planned.probe, duration=(planned.probe.duration or 0) + 60)
    async with running_encoder(node_settings(nats_url, media.root, "node-v")):
        await publish(js, msgspec.structs.replace(planned, probe=longer), SUBJECT)
        await publish(js, work(following, job_id=2), SUBJECT)
        await held_while_the_next_encodes(hold, following)
        await asyncio.to_thread(hold.touch)
        failed = await outcome(scheduler, 1)
        done = await outcome(scheduler, 2)

    assert isinstance(failed, JobFailed) and not failed.retryable, failed
    assert failed.reason.startswith("verification failed: the output lasts"), failed.reason
    assert library.sha256(first) == digest and not first.with_suffix(".mkv").exists()
    assert isinstance(done, JobCompleted) and done.node == "node-v", done
    assert [g.job_id for g in scheduler.requests] == [2]  # the failed job never asked to commit
    assert temporary_files(first, following) == []
    info = await js.consumer_info(CPU_WORK.stream, CPU_WORK.durable)
    assert (info.num_pending, info.num_ack_pending) == (0, 0)


async def node_state(js: JetStreamContext, node: str) -> NodeState | None:
    kv = await js.key_value(topology.NODES.name)
    try:
        entry = await kv.get(node)
    except Exception:  # noqa: BLE001 - not written yet
        return None
    return msgspec.json.decode(entry.value or b"", type=NodeStatus).state


async def test_a_graceful_stop_waits_for_the_background_stage(
    bus: tuple[Client, JetStreamContext],
    scheduler: Scheduler,
    nats_url: str,
    media: library.Library,
    hold: Path,
) -> None:
    _, js = bus
    first, following = media.transcode["avi"], media.transcode["mp4"]
    digests = {first: library.sha256(first), following: library.sha256(following)}
    await transcode.put(js, transcode.fastest(x265_preset="slow"))
    stopping = asyncio.Event()
    settings = node_settings(nats_url, media.root, "node-g", grace_seconds=60)
    task = asyncio.create_task(service.run(settings, stopping))
    try:
        await publish(js, work(first, job_id=1), SUBJECT)
        await publish(js, work(following, job_id=2), SUBJECT)
        await held_while_the_next_encodes(hold, following)
        stopping.set()  # as SIGTERM does

        async def stopping_reported() -> bool:
            return await node_state(js, "node-g") == NodeState.STOPPING

        await eventually(stopping_reported, timeout=30, message="node stopping")
        # The node stops taking work, and waits: job 1 has not ended.
        assert not task.done() and [e.job_id for e in scheduler.events] == [1, 2]
        await asyncio.to_thread(hold.touch)
        await asyncio.wait_for(task, 180)
    finally:
        stopping.set()
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    # Job 1 was put in place, reported and acknowledged before the node went.
    done = await outcome(scheduler, 1)
    assert isinstance(done, JobCompleted) and done.node == "node-g", done
    assert not first.exists() and first.with_suffix(".mkv").exists()
    info = await js.consumer_info(CPU_WORK.stream, CPU_WORK.durable)
    assert info.ack_floor.consumer_seq >= 1  # job 1's message, delivered first, is acknowledged
    # Job 2 ended within the grace period (replaced, or skipped when its output came out larger), or was
    # handed back (nak) with its original untouched.
    ended = [e for e in scheduler.events if e.job_id == 2 and isinstance(e, JobCompleted | JobSkipped)]
    if ended:
        assert info.num_ack_pending == 0
        assert (library.sha256(following) != digests[following]) == isinstance(ended[-1], JobCompleted)
    else:
        assert library.sha256(following) == digests[following] and info.num_ack_pending == 1
    assert temporary_files(first) == []
