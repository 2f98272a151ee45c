"""The scheduler's decisions, without servers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
from librarrarian_contracts import FileIdentity, MediaProbe, MediaProbed, MediaProbeFailed, StreamInfo
from librarrarian_contracts.settings import TranscodeSettings
from librarrarian_contracts.topology import HwClass
from librarrarian_contracts.views import NodeStatus
from librarrarian_scheduler import policy
from librarrarian_scheduler.placement import choose
from librarrarian_scheduler.policy import Known

ID = FileIdentity(size=100, mtime_ns=5, inode=1)


def probed(codec: str | None) -> MediaProbed:
    streams = (StreamInfo(index=0, kind="video", codec=codec),) if codec else ()
    return MediaProbed(
        path="/m/a.mkv",
        identity=ID,
        probe=MediaProbe(container="matroska", duration=1.0, video_codec=codec, streams=streams),
    )


def test_codecs_decide_transcode_or_skip() -> None:
    assert policy.decide(probed("h264"), None, None) == policy.Transcode()
    assert policy.decide(probed("mpeg4"), None, None) == policy.Transcode()
    assert policy.decide(probed("hevc"), None, None) == policy.Skip("already HEVC")
    assert policy.decide(probed("av1"), None, None) == policy.Skip("AV1 is not selected for re-encoding")
    assert policy.decide(probed(None), None, None) == policy.Skip("no video stream")


def test_a_probe_failure_fails_with_its_reason() -> None:
    event = MediaProbeFailed(path="/m/a.mkv", identity=ID, error="not a readable video: moov atom not found")
    assert policy.decide(event, None, None) == policy.Fail("not a readable video: moov atom not found")


def test_rescans_and_our_own_outputs_are_ignored() -> None:
    active = Known("running", 100, 5, None, None)
    assert isinstance(policy.decide(probed("h264"), active, None), policy.Ignore)
    same_version = Known("failed", 100, 5, None, None)
    assert isinstance(policy.decide(probed("h264"), same_version, None), policy.Ignore)
    ours = Known("done", 999, 1, "/m/a.mkv", 100)
    assert isinstance(policy.decide(probed("hevc"), None, ours), policy.Ignore)


def test_a_changed_file_is_decided_again() -> None:
    old_version = Known("failed", 50, 4, None, None)
    assert policy.decide(probed("h264"), old_version, None) == policy.Transcode()
    replaced_since = Known("done", 999, 1, "/m/a.mkv", 77)  # our output, but the file changed after
    assert policy.decide(probed("h264"), None, replaced_since) == policy.Transcode()


def test_the_output_of_a_job_in_flight_is_not_taken_for_a_new_file() -> None:
    # a.avi is being transcoded; its a.mkv output appeared before the job reported completion.
    assert isinstance(policy.decide(probed("hevc"), None, None, sibling_in_flight=True), policy.Ignore)
    assert policy.decide(probed("h264"), None, None, sibling_in_flight=True) == policy.Transcode()


def test_the_settings_decide_the_target_the_eligible_codecs_and_the_minimum_size() -> None:
    to_av1 = TranscodeSettings(target_codec="av1")
    assert policy.decide(probed("av1"), None, None, settings=to_av1) == policy.Skip("already AV1")
    assert policy.decide(probed("hevc"), None, None, settings=to_av1) == policy.Skip(
        "HEVC is not selected for re-encoding"
    )
    hevc_too = TranscodeSettings(target_codec="av1", reencode_hevc=True)
    assert policy.decide(probed("hevc"), None, None, settings=hevc_too) == policy.Transcode()
    assert policy.decide(probed("vp9"), None, None) == policy.Transcode()
    no_vp9 = TranscodeSettings(reencode_vp9=False)
    assert policy.decide(probed("vp9"), None, None, settings=no_vp9) == policy.Skip(
        "VP9 is not selected for re-encoding"
    )
    big_only = TranscodeSettings(min_size_mb=500)
    skipped = policy.decide(probed("h264"), None, None, settings=big_only)
    assert isinstance(skipped, policy.Skip) and "minimum size" in skipped.reason


def node(
    name: str,
    codecs: dict[str, tuple[str, ...]],
    state: str = "running",
    age: float = 0.0,
    library: bool = True,
) -> NodeStatus:
    return NodeStatus(
        node=name,
        hostname=name,
        version="1",
        classes=tuple(codecs),
        slots=1,
        state=state,
        codecs=codecs,
        updated_at=datetime.now(UTC) - timedelta(seconds=age),
        library=library,
    )


def test_placement_follows_the_priority_and_the_live_nodes() -> None:
    cpu = node("a", {"cpu": ("hevc", "av1")})
    gpu = node("b", {"nvenc": ("hevc",), "cpu": ("hevc", "av1")})
    assert choose("auto", {"a": cpu}, "hevc") is HwClass.CPU
    assert choose("auto", {"a": cpu, "b": gpu}, "hevc") is HwClass.NVENC
    assert choose("cpu", {"a": cpu, "b": gpu}, "hevc") is HwClass.CPU
    assert choose("intel", {"a": cpu, "b": gpu}, "hevc") is HwClass.CPU  # no Intel node
    assert choose("auto", {"b": gpu}, "av1") is HwClass.CPU  # this GPU has no AV1 encoder
    # A stopped GPU node gives way to a running CPU node; a dead one (past the TTL) does not count.
    stopped = node("b", {"nvenc": ("hevc",)}, state="stopped")
    assert choose("auto", {"a": cpu, "b": stopped}, "hevc") is HwClass.CPU
    assert choose("auto", {"b": stopped}, "hevc") is HwClass.NVENC  # it will take it when started
    # So does a GPU node outside its scheduled windows: the work waits for its window only when no node
    # taking work can do it.
    resting = node("b", {"nvenc": ("hevc",)}, state="off schedule")
    assert choose("auto", {"a": cpu, "b": resting}, "hevc") is HwClass.CPU
    assert choose("auto", {"b": resting}, "hevc") is HwClass.NVENC
    dead = node("b", {"nvenc": ("hevc",)}, age=60)
    assert choose("nvidia", {"b": dead}, "hevc") is HwClass.CPU
    # A GPU node without the library takes segments only: a job does not wait for it.
    remote = node("b", {"nvenc": ("hevc",)}, library=False)
    assert choose("auto", {"a": cpu, "b": remote}, "hevc") is HwClass.CPU
    assert choose("nvidia", {"b": remote}, "hevc") is HwClass.CPU


def dolby_vision(profile: int, compatibility: int, codec: str = "hevc") -> MediaProbed:
    video = StreamInfo(index=0, kind="video", codec=codec, dv_profile=profile, dv_compatibility=compatibility)
    probe = MediaProbe(container="matroska", duration=1.0, video_codec=codec, streams=(video,))
    return MediaProbed(path="/m/a.mkv", identity=ID, probe=probe)


def test_dolby_vision_profile_5_is_skipped_and_a_setting_skips_every_profile() -> None:
    reencode = TranscodeSettings(target_codec="av1", reencode_hevc=True)
    decision = policy.decide(dolby_vision(5, 0), None, None, settings=reencode)
    assert isinstance(decision, policy.Skip) and decision.reason.startswith("Dolby Vision profile 5:")
    assert "wrong colours" in decision.reason
    assert policy.decide(dolby_vision(8, 1), None, None, settings=reencode) == policy.Transcode()
    assert policy.decide(dolby_vision(9, 2, "h264"), None, None) == policy.Transcode()
    skip_all = TranscodeSettings(target_codec="av1", reencode_hevc=True, skip_dolby_vision=True)
    assert policy.decide(dolby_vision(8, 1), None, None, settings=skip_all) == policy.Skip(
        "Dolby Vision profile 8: Dolby Vision files are set to be skipped"
    )
    # Not a target for re-encoding at all: the usual reason, not Dolby Vision's.
    assert policy.decide(dolby_vision(5, 0), None, None) == policy.Skip("already HEVC")


def linked(links: int) -> MediaProbed:
    return msgspec.structs.replace(probed("h264"), identity=msgspec.structs.replace(ID, links=links))


def test_a_hard_linked_file_is_skipped_unless_allowed_and_decided_again_when_its_links_change() -> None:
    assert policy.decide(linked(2), None, None) == policy.Skip(
        "hard-linked: 2 links; replacing one keeps the old data alive through the others"
    )
    allowed = TranscodeSettings(replace_hard_links=True)
    assert policy.decide(linked(2), None, None, settings=allowed) == policy.Transcode()
    # Skipped while seeding; the download client removed its link: the same file, decided again.
    skipped = Known("skipped", 100, 5, None, None, job_id=1, source_links=2)
    assert policy.decide(linked(1), skipped, None) == policy.Transcode()
    assert isinstance(policy.decide(linked(2), skipped, None), policy.Ignore)
    before_links_were_kept = Known("skipped", 100, 5, None, None, job_id=1)
    assert isinstance(policy.decide(linked(1), before_links_were_kept, None), policy.Ignore)
