"""The contract: schema snapshot, example messages, and idempotent provisioning on a real server."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import get_args

import jsonschema
import msgspec
import pytest
from librarrarian_contracts import (
    AnyMessage,
    CleanupFinished,
    Command,
    Event,
    FileIdentity,
    JobCompleted,
    JobStarted,
    MediaProbe,
    MediaProbed,
    Message,
    StreamInfo,
    Transcode,
    asyncapi,
    bus_table,
    catalog,
    encode,
    messages,
    permissions,
    provision,
    report_id,
    scans,
    settings,
    sources,
    subject_of,
    topology,
    views,
)
from librarrarian_contracts.codec import job_decoder, media_decoder, work_decoder
from librarrarian_contracts.schema import SNAPSHOT, current_schema, render

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
    work = Transcode(job_id=1, attempt=1, path="/media/a.mp4", identity=IDENTITY, probe=PROBE)
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
    # Transcodes and segments per hardware class, the cleanup's, the arr's.
    assert len(filters) == 2 * len(topology.HwClass) + 2
    assert not [(a, b) for i, a in enumerate(filters) for b in filters[i + 1 :] if _overlap(a, b)]
    assert _overlap("work.transcode.*", "work.transcode.cpu") and not _overlap("work.cleanup", "work.x")


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


MESSAGE_TYPES = get_args(AnyMessage)


def test_tags_follow_the_naming_rule() -> None:
    """Events: ``<domain>.<name>``, the name in the past tense, the class the name (with the domain in front
    where it helps). Commands: ``<domain>.<verb>[_<object>]``, the class starting with the verb."""
    assert len(MESSAGE_TYPES) == len({t.__struct_config__.tag for t in MESSAGE_TYPES})
    for type_ in MESSAGE_TYPES:
        domain, _, name = str(type_.__struct_config__.tag).partition(".")
        assert domain in {s.split(".")[0] for stream in topology.STREAMS for s in stream.subjects}
        snake = _snake(type_.__name__)
        if issubclass(type_, Event):
            assert name.split("_")[-1].endswith(("ed", "found")), (
                f"{type_.__name__}: {name} is not past tense"
            )
            assert snake in {name, f"{domain}_{name}"}, f"{type_.__name__} does not say {domain}.{name}"
        else:
            assert issubclass(type_, Command), type_
            assert not name.endswith("ed"), f"{type_.__name__}: {name} is not imperative"
            assert snake.startswith(name.split("_")[0]), f"{type_.__name__} does not start with its verb"


def test_every_message_has_one_channel_on_a_stream_that_keeps_it() -> None:
    for type_ in MESSAGE_TYPES:
        channel = catalog.channel_of(type_)  # exactly one, or this raises
        assert channel.stream is not None
        assert any(_overlap(channel.filter, subject) for subject in channel.stream.subjects), channel
        if issubclass(type_, Event):
            assert channel.address == subject_of_type(type_), "an event travels on its tag"
    addresses = [c.address for c in catalog.CHANNELS]
    assert len(addresses) == len(set(addresses))


def subject_of_type(type_: type[Message]) -> str:
    return str(type_.__struct_config__.tag)


def test_every_durable_reads_declared_channels_and_its_role_consumes_them() -> None:
    assert sorted(d.spec.durable for d in catalog.DURABLES) == sorted(c.durable for c in topology.CONSUMERS)
    for durable in catalog.DURABLES:
        spec = durable.spec
        matching = [c for c in catalog.CHANNELS if _overlap(c.filter, spec.filter_subject)]
        assert matching, f"{spec.durable} reads {spec.filter_subject}, which no channel declares"
        for role in durable.consumers:
            assert all(role in c.consumers for c in matching), f"{spec.durable}: {role} is not a consumer"
        assert all(c.stream is not None and c.stream.name == spec.stream for c in matching), spec.durable


def test_no_user_may_delete_or_purge_and_only_the_provisioner_may_reshape() -> None:
    """Nothing a user may publish reaches the JetStream API's deleting, purging or reshaping requests (only
    the provisioner creates and updates, and never deletes; single messages are taken out only where the
    catalog says, and an object store's chunks by its writers); no user may read another's inbox."""
    destroying = ["$JS.API.STREAM.DELETE.*"]
    purgers = {(r.value, permissions.store_stream(x.spec)) for x in catalog.STORES for r in x.writers}
    others = [s.name for s in topology.STREAMS] + [permissions.kv_stream(b) for b in topology.BUCKETS]
    destroying += [f"$JS.API.STREAM.PURGE.{name}" for name in others]
    destroying += [
        "$JS.API.CONSUMER.DELETE.*.*",
        "$JS.API.ACCOUNT.PURGE.*",
        "$JS.API.META.>",
        "$JS.API.SERVER.>",
    ]
    reshaping = ["$JS.API.STREAM.CREATE.*", "$JS.API.STREAM.UPDATE.*", "$JS.API.CONSUMER.DURABLE.CREATE.*.*"]
    reshaping += [f"$JS.API.CONSUMER.CREATE.{stream.name}" for stream in topology.STREAMS]
    reshaping += [f"$JS.API.CONSUMER.CREATE.{stream.name}.>" for stream in topology.STREAMS]
    removers = {(r.value, x.stream.name) for x in catalog.LOOKUPS for r in x.removers}
    for user, allowed in permissions.users().items():
        taking_out = [
            f"$JS.API.STREAM.MSG.DELETE.{s.name}" for s in topology.STREAMS if (user, s.name) not in removers
        ]
        taking_out += [
            f"$JS.API.STREAM.PURGE.{permissions.store_stream(x)}"
            for x in topology.STORES
            if (user, permissions.store_stream(x)) not in purgers
        ]
        for subject in allowed.publish:
            assert not [f for f in destroying + taking_out if _overlap(f, subject)], (user, subject)
            if user != permissions.PROVISIONER:
                assert not [f for f in reshaping if _overlap(f, subject)], (user, subject)
        inboxes = [s for s in allowed.subscribe if s.startswith("_INBOX")]
        assert inboxes in ([f"{permissions.inbox_prefix(user)}.>"], []), (user, inboxes)


def test_the_integration_user_may_subscribe_to_exactly_the_public_subjects() -> None:
    integration = permissions.for_role(catalog.Role.INTEGRATION)
    assert integration == permissions.Permissions(publish=(), subscribe=catalog.public_filters())


def test_each_role_needs_what_it_pulls_writes_and_reads() -> None:
    encoder = permissions.needs(catalog.Role.ENCODER)
    work = (*topology.WORK_CONSUMERS.values(), *topology.SEGMENT_CONSUMERS.values())
    assert {d.durable for d in encoder.durables} == {s.durable for s in work}
    assert {b.name for b in encoder.buckets} == {"nodes", "progress", "settings", "playback", "quality"}
    history = permissions.Needs(
        (topology.JOBS, topology.ARR), (topology.HISTORY_JOBS, topology.HISTORY_RENAMES), ()
    )
    assert permissions.needs(catalog.Role.HISTORY) == history


def test_every_struct_of_the_contract_is_in_the_schema() -> None:
    """Whatever crosses the bus or is stored is in the snapshot, so a change of it shows in review."""
    schema = current_schema()
    named = set(schema["components"])
    defined = {
        obj.__name__
        for module in (messages, views, settings, sources, scans)
        for obj in vars(module).values()
        if isinstance(obj, type) and issubclass(obj, msgspec.Struct) and obj.__module__ == module.__name__
    }
    bases = {"Message", "Event", "Command"}  # abstract: only their subclasses travel
    assert defined - bases <= named, f"missing from the schema: {sorted(defined - bases - named)}"


def test_the_bus_table_in_the_docs_is_current() -> None:
    assert bus_table.DOCUMENT.read_text() == bus_table.render(), "run `make schema`"


ASYNCAPI_SCHEMA = Path(__file__).with_name("data") / "asyncapi-3.0.0.schema.json"


def _refs(node: object) -> list[str]:
    if isinstance(node, dict):
        return (
            [node["$ref"]]
            if isinstance(node.get("$ref"), str)
            else [r for v in node.values() for r in _refs(v)]
        )
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_the_asyncapi_document_is_valid_and_complete() -> None:
    document = asyncapi.document("1.2.3")
    validator = jsonschema.Draft7Validator(json.loads(ASYNCAPI_SCHEMA.read_text()))
    problems = [f"{list(e.absolute_path)}: {e.message[:200]}" for e in validator.iter_errors(document)]
    assert problems == []
    for ref in _refs(document):  # every reference points inside the document
        node: object = document
        for part in ref.removeprefix("#/").split("/"):
            assert isinstance(node, dict) and part in node, f"dangling {ref}"
            node = node[part]
    addresses = {c["address"] for c in document["channels"].values()}
    assert {c.address for c in catalog.CHANNELS} <= addresses
    assert {e.subject for e in catalog.ENDPOINTS} <= addresses
    assert {t.__name__ for t in MESSAGE_TYPES} <= set(document["components"]["messages"])
    public = {c["address"] for c in document["channels"].values() if c.get("x-public")}
    assert topology.JOB_STATE_CHANGED in public and topology.WORK_CLEANUP not in public


def test_report_ids_are_deterministic() -> None:
    assert report_id(JobCompleted, 12, 3) == "12:3:completed"
    assert report_id(CleanupFinished, 12, 1) == "12:1:cleanup_finished"
    assert report_id(JobStarted, 12, 3, delivery=2) == "12:3:started:2"


async def test_provision_moves_a_durable_to_its_new_subject(bus) -> None:  # type: ignore[no-untyped-def]
    """An older installation's durable on a renamed subject is updated in place, not left reading nothing."""
    _, js = bus
    spec = topology.SCANNER_CONTROL
    await js.delete_consumer(spec.stream, spec.durable)
    await js.add_consumer(spec.stream, durable_name=spec.durable, filter_subject="scan.requested")
    await provision(js)
    info = await js.consumer_info(spec.stream, spec.durable)
    assert info.config.filter_subject == topology.SCAN_START


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


async def test_provision_gives_the_encoders_durables_the_ack_wait_asked_for(bus) -> None:  # type: ignore[no-untyped-def]
    """Only the encoders' durables (whole jobs and segments) take ``work_ack_wait``; a later provision with
    production's updates them back in place."""
    _, js = bus
    encoders = [*topology.WORK_CONSUMERS.values(), *topology.SEGMENT_CONSUMERS.values()]
    await provision(js, work_ack_wait=4.0)
    for spec in topology.CONSUMERS:
        info = await js.consumer_info(spec.stream, spec.durable)
        assert info.config.ack_wait == (4.0 if spec in encoders else spec.ack_wait_seconds)
    await provision(js)
    for spec in encoders:
        info = await js.consumer_info(spec.stream, spec.durable)
        assert info.config.ack_wait == topology.WORK_ACK_WAIT_SECONDS
    with pytest.raises(ValueError, match="work_ack_wait"):
        await provision(js, work_ack_wait=0)


def test_a_search_range_runs_the_way_its_encoders_scale_does() -> None:
    from librarrarian_contracts.settings import EncoderFamily, TranscodeSettings

    ok = {"x265": {"best": 18, "worst": 30}, "videotoolbox": {"best": 80, "worst": 50}}
    decoded = msgspec.json.decode(msgspec.json.encode({"target_levels": ok}), type=TranscodeSettings)
    assert decoded.levels_for(EncoderFamily.X265).worst == 30
    for bad in ({"x265": {"best": 30, "worst": 18}}, {"videotoolbox": {"best": 50, "worst": 80}}):
        with pytest.raises(msgspec.ValidationError, match="coarser than worst"):
            msgspec.json.decode(msgspec.json.encode({"target_levels": bad}), type=TranscodeSettings)
