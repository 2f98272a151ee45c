"""The encoder against a real NATS server, with real ffmpeg on real clips.

The scheduler's commit endpoint is played by a small responder here, so each test decides what it grants.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import av
import msgspec
import pytest
from librarrarian_contracts import (
    FileIdentity,
    JobCompleted,
    JobFailed,
    JobStarted,
    Transcode,
    publish,
    topology,
)
from librarrarian_contracts.topology import HwClass
from librarrarian_contracts.views import CommitRequest, NodeStatus
from librarrarian_encoder import replace
from librarrarian_encoder.settings import Settings
from librarrarian_media import probe
from librarrarian_testing import eventually, handled, library, transcode
from nats.aio.client import Client
from nats.js import JetStreamContext

from .encoder_client import Scheduler, node_settings, outcome, running_encoder, work


@pytest.fixture
async def encoder(
    bus: tuple[Client, JetStreamContext], nats_url: str, media: library.Library, tmp_path: Path
) -> AsyncIterator[Settings]:
    await transcode.put(bus[1], transcode.fastest())
    settings = node_settings(nats_url, media.root, "node-a", grace_seconds=5)
    async with running_encoder(settings):
        yield settings


def streams(path: Path) -> dict[str, object]:
    with av.open(str(path)) as c:
        kinds = [s.type for s in c.streams]
        return {
            "codec": c.streams.video[0].codec_context.name,
            "audio": kinds.count("audio"),
            "subtitle": kinds.count("subtitle"),
            "attachment": kinds.count("attachment"),
            "chapters": len(c.chapters()),
            "languages": [s.metadata.get("language") for s in c.streams.audio],
        }


async def test_an_mkv_is_transcoded_with_every_stream_kept(
    bus: tuple[Client, JetStreamContext], scheduler: Scheduler, encoder: Settings, media: library.Library
) -> None:
    _nc, js = bus
    source = media.transcode["mkv"]
    before = source.stat().st_size
    await publish(js, work(source), topology.transcode_subject(HwClass.CPU))
    done = await outcome(scheduler, 1)
    assert isinstance(done, JobCompleted), done
    assert (done.codec_before, done.codec_after, done.encoder) == ("h264", "hevc", "libx265")
    assert done.vmaf is None  # measured only when the setting asks for it
    assert done.output_path == str(source.resolve()) and done.size_before == before
    assert done.size_after == source.stat().st_size
    assert streams(source) == {
        "codec": "hevc",
        "audio": 2,
        "subtitle": 1,
        "attachment": 1,
        "chapters": 2,
        "languages": ["eng", "fra"],
    }
    started = scheduler.of(JobStarted)
    assert len(started) == 1 and started[0].delivery == 1 and started[0].node == "node-a"
    (asked,) = scheduler.requests
    assert (asked.job_id, asked.attempt, asked.delivery, asked.node) == (1, 1, 1, "node-a")
    # The output it was about to rename is the file now under the original's name (a rename keeps its inode).
    assert asked.output is not None and asked.output.same_file(replace.identity(source.stat()))
    assert scheduler.progress and scheduler.progress[-1].percent > 0
    assert not list(source.parent.glob(".tmp_*"))
    kv = await js.key_value(topology.NODES.name)
    node = msgspec.json.decode((await kv.get("node-a")).value, type=NodeStatus)
    assert node.classes == ("cpu",) and node.state == "running"


async def test_an_avi_becomes_an_mkv_and_the_original_goes_only_after(
    bus: tuple[Client, JetStreamContext], scheduler: Scheduler, encoder: Settings, media: library.Library
) -> None:
    _, js = bus
    source = media.transcode["avi"]
    await publish(js, work(source, job_id=2), topology.transcode_subject(HwClass.CPU))
    done = await outcome(scheduler, 2)
    assert isinstance(done, JobCompleted), done
    assert not source.exists() and Path(done.output_path) == source.resolve().with_suffix(".mkv")
    assert streams(Path(done.output_path))["audio"] == 1


async def test_a_denied_commit_leaves_the_original_byte_identical(
    bus: tuple[Client, JetStreamContext], scheduler: Scheduler, encoder: Settings, media: library.Library
) -> None:
    _, js = bus
    scheduler.grant = False
    source = media.transcode["mp4"]
    digest = library.sha256(source)
    await publish(js, work(source, job_id=3), topology.transcode_subject(HwClass.CPU))
    await eventually(lambda: scheduler.requests, timeout=120)
    await handled(js, topology.WORK_CONSUMERS[HwClass.CPU])  # acked: anything it reports is published
    assert library.sha256(source) == digest
    assert not [e for e in scheduler.events if not isinstance(e, JobStarted)]  # the holder reports, not us
    assert (await js.stream_info(topology.JOBS.name)).state.messages == 1  # its job.started, nothing else
    assert not list(source.parent.glob(".tmp_*"))


async def test_a_file_changed_since_the_scan_is_not_touched(
    bus: tuple[Client, JetStreamContext], scheduler: Scheduler, encoder: Settings, media: library.Library
) -> None:
    _, js = bus
    source = media.transcode["mp4"]
    request = work(source, job_id=4)
    with source.open("ab") as handle:
        handle.write(b"\0")  # the user (or another tool) changed it after the scan
    digest = library.sha256(source)
    await publish(js, request, topology.transcode_subject(HwClass.CPU))
    failed = await outcome(scheduler, 4)
    assert isinstance(failed, JobFailed) and not failed.retryable and "changed" in failed.reason
    assert library.sha256(source) == digest


async def test_a_file_changed_after_the_commit_was_granted_fails_the_job(
    bus: tuple[Client, JetStreamContext], scheduler: Scheduler, encoder: Settings, media: library.Library
) -> None:
    """Changed between the grant and the rename, by the user: the output is discarded and the job fails
    with the reason. It must not stay running for good (the holder of the commit is the one to report)."""
    _, js = bus
    source = media.transcode["mp4"]

    def user_edits(request: CommitRequest) -> None:
        with source.open("ab") as handle:
            handle.write(b"\0")

    scheduler.before_grant = user_edits
    await publish(js, work(source, job_id=5), topology.transcode_subject(HwClass.CPU))
    failed = await outcome(scheduler, 5)
    assert isinstance(failed, JobFailed) and not failed.retryable and "changed" in failed.reason, failed
    assert source.read_bytes().endswith(b"\0")
    assert probe(source).video_codec == "h264"  # the original, as the user left it
    assert not list(source.parent.glob(".tmp_*"))


async def test_a_path_outside_the_media_paths_is_refused(
    bus: tuple[Client, JetStreamContext],
    scheduler: Scheduler,
    encoder: Settings,
    shared_media: Path,
    tmp_path: Path,
) -> None:
    _, js = bus
    outside = tmp_path / "outside.mp4"
    outside.write_bytes((shared_media / "bikes.mp4").read_bytes())
    digest = library.sha256(outside)
    request = Transcode(
        job_id=5,
        attempt=1,
        path=str(outside),
        identity=FileIdentity(size=1, mtime_ns=1, inode=1),
        probe=probe(outside),
    )
    await publish(js, request, topology.transcode_subject(HwClass.CPU))
    failed = await outcome(scheduler, 5)
    assert isinstance(failed, JobFailed) and "outside" in failed.reason and not failed.retryable
    assert library.sha256(outside) == digest


async def test_an_output_larger_than_allowed_keeps_the_original(
    bus: tuple[Client, JetStreamContext],
    scheduler: Scheduler,
    nats_url: str,
    media: library.Library,
    tmp_path: Path,
) -> None:
    _, js = bus
    await transcode.put(js, transcode.fastest(max_output_percent=1))
    async with running_encoder(node_settings(nats_url, media.root, "node-b")):
        source = media.transcode["mp4"]
        digest = library.sha256(source)
        await publish(js, work(source, job_id=6), topology.transcode_subject(HwClass.CPU))
        skipped = await outcome(scheduler, 6)
        assert type(skipped).__name__ == "JobSkipped" and "original kept" in skipped.reason  # type: ignore[attr-defined]
        assert library.sha256(source) == digest
