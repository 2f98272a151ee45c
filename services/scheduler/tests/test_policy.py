"""The scheduler's decisions, without servers."""

from __future__ import annotations

from librarrarian_contracts import FileIdentity, MediaProbe, MediaProbed, MediaProbeFailed, StreamInfo
from librarrarian_scheduler import policy
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
    assert policy.decide(probed("av1"), None, None) == policy.Skip("already AV1")
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
