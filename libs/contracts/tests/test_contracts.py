"""The contract: schema snapshot, example messages, and idempotent provisioning on a real server."""

from __future__ import annotations

import msgspec
import pytest
from librarrarian_contracts import (
    FileIdentity,
    JobCompleted,
    MediaProbe,
    MediaProbed,
    StreamInfo,
    TranscodeRequested,
    encode,
    provision,
    subject_of,
    topology,
)
from librarrarian_contracts.codec import job_decoder, media_decoder, work_decoder
from librarrarian_contracts.schema import SNAPSHOT, render

IDENTITY = FileIdentity(size=1_055_736, mtime_ns=1_700_000_000_000_000_000, inode=42)
PROBE = MediaProbe(
    container="mov,mp4,m4a,3gp,3g2,mj2",
    duration=5.3,
    video_codec="h264",
    width=1280,
    height=720,
    streams=(
        StreamInfo(index=0, kind="video", codec="h264", width=1280, height=720),
        StreamInfo(index=1, kind="audio", codec="aac", language="eng"),
    ),
)


def test_schema_snapshot_matches_the_code() -> None:
    assert SNAPSHOT.read_text() == render(), (
        "contracts changed: review the change, then run `python -m librarrarian_contracts.schema`"
    )


def test_example_messages_decode_from_their_wire_form() -> None:
    wire = (
        b'{"type":"media.probed","event_id":"e1","occurred_at":"2026-11-24T10:00:00Z",'
        b'"path":"/media/a.mp4","identity":{"size":10,"mtime_ns":5,"inode":7},'
        b'"probe":{"container":"matroska,webm","duration":1.5,"video_codec":"mpeg4",'
        b'"streams":[{"index":0,"kind":"video","codec":"mpeg4"}]}}'
    )
    event = media_decoder.decode(wire)
    assert isinstance(event, MediaProbed)
    assert event.identity.inode == 7
    assert event.probe.count("video") == 1
    assert event.library is None  # a field added later decodes to its default


def test_round_trip_of_every_union() -> None:
    probed = MediaProbed(path="/media/a.mp4", identity=IDENTITY, probe=PROBE)
    work = TranscodeRequested(job_id=1, attempt=1, path="/media/a.mp4", identity=IDENTITY, probe=PROBE)
    done = JobCompleted(
        job_id=1,
        attempt=1,
        node="n1",
        path="/media/a.mp4",
        output_path="/media/a.mp4",
        encoder="libx265",
        codec_before="h264",
        codec_after="hevc",
        size_before=10,
        size_after=5,
        duration=5.3,
        elapsed_seconds=2.0,
    )
    assert media_decoder.decode(encode(probed)) == probed
    assert work_decoder.decode(encode(work)) == work
    assert job_decoder.decode(encode(done)) == done
    assert subject_of(probed) == topology.MEDIA_PROBED
    assert subject_of(done) == topology.JOB_COMPLETED


def test_messages_are_frozen_and_keyword_only() -> None:
    probed = MediaProbed(path="/media/a.mp4", identity=IDENTITY, probe=PROBE)
    with pytest.raises(AttributeError):
        probed.path = "/elsewhere"  # type: ignore[misc]
    with pytest.raises(TypeError):
        MediaProbed("/media/a.mp4", IDENTITY, PROBE)  # type: ignore[misc]


def test_a_wrong_type_is_rejected_with_the_field_named() -> None:
    with pytest.raises(msgspec.ValidationError, match="job_id"):
        work_decoder.decode(
            b'{"type":"work.transcode","job_id":"x","attempt":1,"path":"/a",'
            b'"identity":{"size":1,"mtime_ns":1,"inode":1},"probe":{"container":"x","duration":null,'
            b'"video_codec":null}}'
        )


def _overlap(a: str, b: str) -> bool:
    """Whether some subject matches both NATS filters."""
    left, right = a.split("."), b.split(".")
    for x, y in zip(left, right, strict=False):
        if ">" in (x, y):
            return True
        if x != y and "*" not in (x, y):
            return False
    return len(left) == len(right)


def test_work_consumers_do_not_overlap() -> None:
    filters = [c.filter_subject for c in topology.CONSUMERS if c.stream == topology.WORK.name]
    assert len(filters) == len(topology.HwClass) + 1  # a durable per hardware class, and the cleanup's
    assert not [(a, b) for i, a in enumerate(filters) for b in filters[i + 1 :] if _overlap(a, b)]
    assert _overlap("work.transcode.*", "work.transcode.cpu") and not _overlap("work.cleanup", "work.x")


async def test_provision_is_idempotent_on_a_real_server(bus) -> None:  # type: ignore[no-untyped-def]
    _, js = bus
    await provision(js)  # a second time: no error, nothing duplicated
    names = {s.config.name for s in await js.streams_info()}
    assert {s.name for s in topology.STREAMS} <= names
    work = await js.stream_info(topology.WORK.name)
    assert work.config.retention == "workqueue"
    for spec in topology.CONSUMERS:
        info = await js.consumer_info(spec.stream, spec.durable)
        assert info.config.filter_subject == spec.filter_subject
    kv = await js.key_value(topology.NODES.name)
    status = await kv.status()
    assert status.bucket == topology.NODES.name
