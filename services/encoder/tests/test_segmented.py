"""One file encoded in segments across real encoders on a real NATS, with the real ffmpeg on a real clip
(``clips.film``; segments of about 10 s): the file
ends replaced by one verified output with every source frame once and no seam, its progress counts segments
and names the nodes, and nothing of it is left in the transfer store or in scratch folders. A node that sees
no library encodes segments from the source put in the store. A segment whose source changed since the scan
is refused, and the job fails with the original untouched."""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from librarrarian_contracts import (
    EncodeSegment,
    JobCompleted,
    JobFailed,
    Transcode,
    encode,
    publish,
    topology,
)
from librarrarian_contracts.provision import provision
from librarrarian_contracts.settings import Quality
from librarrarian_contracts.topology import HwClass
from librarrarian_encoder import chunks, scratch, segment_work, transfers
from librarrarian_media import probe
from librarrarian_testing import clips, eventually, transcode
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from .encoder_client import (
    Scheduler,
    encoder_environment,
    encoder_process,
    node_settings,
    node_status,
    outcome,
    running_encoder,
    work,
)

CPU = HwClass.CPU


@pytest.fixture
def film(tmp_path: Path, shared_media: Path) -> Path:
    """A 30 s film in the test's library (``tmp_path / "media"``)."""
    folder = tmp_path / "media" / "Films"
    folder.mkdir(parents=True)
    return clips.film(folder / "Film.mp4", shared_media)


@pytest.fixture
async def segmenting(bus: tuple[Client, JetStreamContext]) -> None:
    """Files of 6 s or more in segments of about 10 s: three for the film."""
    await transcode.put(bus[1], transcode.fastest(segment_min_minutes=0.1, segment_seconds=10))


REMOTE_STORE = topology.remote_store("node-b").name


@pytest.fixture
async def remote_store(bus: tuple[Client, JetStreamContext]) -> str:
    """node-b's own transfer store, as ``librarrarian provision`` makes it with ``REMOTE_NODES=node-b``."""
    await provision(bus[1], remote_nodes=("node-b",))
    return REMOTE_STORE


async def stored(js: JetStreamContext) -> list[str]:
    """The objects in the transfer stores now: the shared one and node-b's (when it has one)."""
    found = await transfers.names(js)
    with contextlib.suppress(NotFoundError):
        found += await transfers.names(js, store=REMOTE_STORE)
    return found


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def own_scratch(pid: int | None = None) -> list[Path]:
    """The segment folders of process ``pid`` (this one's by default)."""
    return list(Path(tempfile.gettempdir()).glob(f"{scratch.SEGMENT}{pid or os.getpid()}-*"))


@contextlib.asynccontextmanager
async def nodes(nats_url: str, media: Path, *, remote: bool = False) -> AsyncIterator[None]:
    """``node-a`` (sees the library) and ``node-b`` (sees it too, or not at all: ``remote``)."""
    a = node_settings(nats_url, media, "node-a", grace_seconds=5, hw_classes=(CPU,))
    b = node_settings(nats_url, media, "node-b", grace_seconds=5, hw_classes=(CPU,))
    if remote:
        b = node_settings(nats_url, media, "node-b", grace_seconds=5, hw_classes=(CPU,), media_paths=())
    async with running_encoder(a), running_encoder(b):
        yield


@pytest.mark.parametrize("remote", [False, True], ids=["both-see-the-library", "node-b-sees-none"])
async def test_a_file_in_segments_across_two_nodes_is_one_verified_output_with_no_seam(
    bus: tuple[Client, JetStreamContext],
    nats_url: str,
    scheduler: Scheduler,
    segmenting: None,
    film: Path,
    tmp_path: Path,
    remote: bool,
) -> None:
    _, js = bus
    if remote:
        await provision(js, remote_nodes=("node-b",))
    frames = chunks.frame_count(film)
    async with nodes(nats_url, tmp_path / "media", remote=remote):
        assert (await node_status(js, "node-b")).library is not remote
        await publish(js, work(film), topology.transcode_subject(CPU))
        done = await outcome(scheduler, 1)
    assert isinstance(done, JobCompleted), done
    assert (done.codec_after, done.encoder) == ("hevc", "libx265")
    after = probe(film)
    assert [s.kind for s in after.streams] == ["video", "audio", "subtitle"]
    assert abs((after.duration or 0) - 30) < 0.1
    assert chunks.frame_count(film) == frames  # every frame once
    counted = [p for p in scheduler.progress if p.job_id == 1 and p.segments]
    assert counted and {p.segments for p in counted} == {3}
    assert max(p.segments_done or 0 for p in counted) == 3 and counted[-1].nodes
    if remote:
        # node-b took only segments: the job ran on node-a, and node-b encoded at least one of them, from
        # the source node-a put in the store.
        assert {p.node for p in scheduler.progress if p.job_id == 1} == {"node-a"}
        assert "node-b" in {n for p in counted for n in p.nodes}
    assert await stored(js) == []  # every piece of the job removed
    assert not own_scratch()
    assert not list(film.parent.glob(".tmp_*"))


async def test_a_node_without_the_library_that_starts_after_the_cut_is_shared_with_and_helps(
    bus: tuple[Client, JetStreamContext],
    nats_url: str,
    scheduler: Scheduler,
    remote_store: str,
    film: Path,
    tmp_path: Path,
) -> None:
    """node-a cuts the file alone (slow segments), then node-b, which sees no library, starts: its first
    deliveries are handed back (its store holds nothing of the job), the joining node puts the plan and the
    source in node-b's store at its next look, and the file ends replaced, nothing left in either store."""
    _, js = bus
    await transcode.put(
        js, transcode.fastest(x265_preset="slow", segment_min_minutes=0.1, segment_seconds=10)
    )
    frames = chunks.frame_count(film)
    a = node_settings(nats_url, tmp_path / "media", "node-a", grace_seconds=5, hw_classes=(CPU,))
    b = node_settings(
        nats_url, tmp_path / "media", "node-b", grace_seconds=5, hw_classes=(CPU,), media_paths=()
    )
    plan = segment_work.plan_object(1, 1)
    async with running_encoder(a):
        await publish(js, work(film), topology.transcode_subject(CPU))
        await eventually(
            lambda: [p for p in scheduler.progress if p.segments], timeout=60, message="the file cut"
        )
        assert not await transfers.present(js, plan, store=remote_store)  # node-b was not there
        async with running_encoder(b):
            await eventually(
                lambda: transfers.present(js, plan, store=remote_store),
                timeout=30,
                message="the job shared with node-b",
            )
            done = await outcome(scheduler, 1)
    assert isinstance(done, JobCompleted), done
    assert chunks.frame_count(film) == frames
    assert await stored(js) == []
    assert not own_scratch()


async def test_a_file_whose_keyframes_cannot_be_read_fails_with_ffmpegs_reason_and_stays(
    bus: tuple[Client, JetStreamContext],
    nats_url: str,
    scheduler: Scheduler,
    segmenting: None,
    film: Path,
    tmp_path: Path,
) -> None:
    """Damaged since the scan (its index zeroed, its size, mtime and inode kept): it is not cut, the whole
    encode says what ffmpeg found, and the file is left as it is."""
    _, js = bus
    job = work(film)
    before = os.stat(film)
    with film.open("r+b") as f:
        f.seek(-65536, os.SEEK_END)
        f.write(b"\0" * 65536)
    os.utime(film, ns=(before.st_atime_ns, before.st_mtime_ns))
    damaged = digest(film)
    async with nodes(nats_url, tmp_path / "media"):
        await publish(js, job, topology.transcode_subject(CPU))
        done = await outcome(scheduler, 1)
    assert isinstance(done, JobFailed), done
    assert "internal error" not in done.reason and "ffmpeg exit" in done.reason
    assert digest(film) == damaged
    assert await stored(js) == [] and not own_scratch()
    assert not list(film.parent.glob(".tmp_*"))


async def hand_out(
    js: JetStreamContext, job: Transcode, *, index: int, start: float, end: float | None
) -> None:
    """One segment of ``job`` (attempt 1) as a joining node "node-x" hands it out, its plan in the store."""
    await transfers.put_note(js, segment_work.plan_object(job.job_id, 1), "[]")
    segment = EncodeSegment(
        job_id=job.job_id,
        attempt=1,
        index=index,
        segments=3,
        start=start,
        end=end,
        path=job.path,
        identity=job.identity,
        probe=job.probe,
        quality=Quality(level=28, preset="ultrafast"),
        coordinator="node-x",
        output_object=segment_work.segment_object(job.job_id, 1, index),
    )
    await js.publish(topology.segment_subject(CPU), encode(segment), stream=topology.WORK.name)


async def handed_back_by_hand(js: JetStreamContext, times: int) -> None:
    """The segment waiting in the CPU class's durable, drawn and handed back ``times`` times."""
    spec = topology.SEGMENT_CONSUMERS[CPU]
    sub = await js.pull_subscribe_bind(durable=spec.durable, stream=spec.stream)
    for _ in range(times):
        (msg,) = await sub.fetch(1, timeout=5)
        await msg.nak()
    await sub.unsubscribe()


@pytest.mark.parametrize("change", ["rewritten", "symlink"])
async def test_a_segment_whose_source_is_not_the_file_scanned_is_refused_and_says_why(
    bus: tuple[Client, JetStreamContext],
    nats_url: str,
    scheduler: Scheduler,
    segmenting: None,
    film: Path,
    tmp_path: Path,
    change: str,
) -> None:
    """The joining node checked the file when it planned; it changed after, before a segment was read:
    rewritten in place (same name and inode, other bytes and mtime), or moved out of the library with a
    symlink to it planted under its name (followed, it would be the very file scanned)."""
    _, js = bus
    job = work(film, job_id=9)
    if change == "rewritten":
        with film.open("r+b") as f:
            f.seek(-16, os.SEEK_END)
            f.write(b"\0" * 16)
        watched = film
    else:
        watched = tmp_path / "outside.mp4"
        os.rename(film, watched)
        os.symlink(watched, film)
    before = digest(watched)
    await hand_out(js, job, index=0, start=0.0, end=9.6)
    async with nodes(nats_url, tmp_path / "media"):
        reason = await eventually(
            lambda: transfers.read_note(js, segment_work.failure_object(9, 1, 0)),
            timeout=30,
            message="the segment's failure",
        )
    assert ("changed" if change == "rewritten" else "symlink") in reason
    assert segment_work.segment_object(9, 1, 0) not in await stored(js)  # nothing was encoded from it
    assert digest(watched) == before
    assert not own_scratch()


async def test_a_segment_handed_out_again_and_again_with_no_outcome_is_given_up_with_the_reason(
    bus: tuple[Client, JetStreamContext],
    nats_url: str,
    scheduler: Scheduler,
    segmenting: None,
    film: Path,
    tmp_path: Path,
) -> None:
    """The server never drops a segment; nodes that died on it every time (here: deliveries handed back
    unanswered) make the next node give up on it and say why, so its job does not wait for good."""
    _, js = bus
    job = work(film, job_id=11)
    await hand_out(js, job, index=2, start=19.2, end=None)
    await handed_back_by_hand(js, topology.SEGMENT_GIVE_UP)  # as nodes that died on it, without the wait
    spec = topology.SEGMENT_CONSUMERS[CPU]
    async with nodes(nats_url, tmp_path / "media"):
        reason = await eventually(
            lambda: transfers.read_note(js, segment_work.failure_object(11, 1, 2)),
            timeout=30,
            message="the segment given up",
        )
    assert f"delivered {topology.SEGMENT_GIVE_UP + 1} times without an outcome" in reason
    assert segment_work.segment_object(11, 1, 2) not in await stored(js)
    info = await js.consumer_info(spec.stream, spec.durable)
    assert info.num_pending == 0 and info.num_ack_pending == 0  # acknowledged, not handed out again


async def test_the_hand_backs_of_a_node_the_job_is_not_shared_with_are_no_reason_to_give_up(
    bus: tuple[Client, JetStreamContext],
    nats_url: str,
    scheduler: Scheduler,
    remote_store: str,
    segmenting: None,
    film: Path,
    tmp_path: Path,
) -> None:
    """node-b, which sees no library, drew a segment of a job not shared with it ten times and handed it back
    each time (said in its store); node-a, which sees the library, then takes it: those deliveries are no
    node's death, so it encodes the segment rather than give up on it."""
    _, js = bus
    job = work(film, job_id=12)
    await hand_out(js, job, index=2, start=19.2, end=None)
    await handed_back_by_hand(js, topology.SEGMENT_GIVE_UP)  # as node-b hands it back, without the wait
    counted = segment_work.handed_back_object(12, 1, 2)
    await transfers.put_note(js, counted, str(topology.SEGMENT_GIVE_UP), store=remote_store)
    async with nodes(nats_url, tmp_path / "media", remote=True):
        await eventually(
            lambda: transfers.present(js, segment_work.segment_object(12, 1, 2)),
            timeout=60,
            message="the segment encoded by node-a",
        )
    assert await transfers.read_note(js, segment_work.failure_object(12, 1, 2)) is None
    handed = int(await transfers.read_note(js, counted, store=remote_store) or 0)
    assert handed >= topology.SEGMENT_GIVE_UP  # node-b's own hand-backs, if it drew it again, added to it


def children_running(parent: int, program: str) -> list[int]:
    """The pids of ``parent``'s children that run ``program``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                name = Path((entry / "cmdline").read_bytes().split(b"\0")[0].decode()).name
            except (OSError, IndexError):
                continue
            if int(fields[1]) == parent and program in name:
                found.append(int(entry.name))
    return found


@pytest.mark.kill_matrix  # waits out the segment's AckWait
async def test_a_node_killed_mid_segment_has_its_segment_done_again_elsewhere(
    bus: tuple[Client, JetStreamContext],
    nats_url: str,
    scheduler: Scheduler,
    film: Path,
    tmp_path: Path,
) -> None:
    """node-b (no library) is killed with SIGKILL while its ffmpeg encodes a segment: the segment comes back
    to node-a after AckWait, the file ends replaced with every frame once, and nothing is left in the store;
    the killed node's scratch folder is removed at a node's next start."""
    _, js = bus
    await provision(js, remote_nodes=("node-b",))
    await transcode.put(
        js, transcode.fastest(x265_preset="slow", segment_min_minutes=0.1, segment_seconds=10)
    )
    frames = chunks.frame_count(film)
    env = encoder_environment(nats_url, tmp_path / "media", "node-b")
    env = {k: v for k, v in env.items() if k != "MEDIA_PATHS"} | {"HW_CLASSES": "cpu"}
    doomed = await encoder_process(env)
    a = node_settings(nats_url, tmp_path / "media", "node-a", grace_seconds=5, hw_classes=(CPU,))
    try:
        async with running_encoder(a):
            await node_status(js, "node-b")
            await publish(js, work(film), topology.transcode_subject(CPU))
            await eventually(
                lambda: children_running(doomed.pid, "ffmpeg"),
                timeout=60,
                message="node-b encoding a segment",
            )
            doomed.send_signal(signal.SIGKILL)
            await doomed.wait()
            leftover = own_scratch(doomed.pid)
            assert leftover  # the killed node's segment folder
            done = await outcome(scheduler, 1)
    finally:
        if doomed.returncode is None:
            doomed.kill()
            await doomed.wait()
    assert isinstance(done, JobCompleted), done
    assert chunks.frame_count(film) == frames
    assert await stored(js) == []
    assert not list(film.parent.glob(".tmp_*"))
    scratch.remove_leftovers()  # as a node's next start does (another test's encoder may have done it first)
    assert not any(p.exists() for p in leftover)
