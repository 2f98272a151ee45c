"""One file encoded in segments, with the real ffmpeg on a real clip (bikes looped to 30 s, a keyframe every
1.92 s, B-frames, AAC and a text subtitle): the plan cuts on keyframes, each segment holds exactly the
source's frames of its span, the joined file is the source with its video encoded (every frame once, the
audio and subtitle once, no seam), and a join that loses or doubles frames is reported. The plan and the
argv builders are also tested alone."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import av
import msgspec
import pytest
from librarrarian_contracts import MediaProbe
from librarrarian_contracts.settings import Quality, TranscodeSettings
from librarrarian_contracts.topology import HwClass
from librarrarian_encoder import chunk_join, chunks
from librarrarian_encoder.chunks import Segment
from librarrarian_encoder.profiles import Profile, profile_for
from librarrarian_media.ffmpeg_choice import Need
from librarrarian_media.probe import probe
from librarrarian_testing import clips
from librarrarian_testing.capable import ffmpeg_for

NEED = Need.of(encoders=("libx265",))
TARGET = 8.0  # seconds a segment: four segments of the 30 s film
SUBTITLES = clips.FILM_SUBTITLES


def x265() -> tuple[Profile, Quality]:
    profile = profile_for(HwClass.CPU, "hevc")
    assert profile is not None
    quality = TranscodeSettings().quality_for(profile.family, 640, 272)
    return profile, msgspec.structs.replace(quality, preset="ultrafast")  # the quality is not under test


@dataclass(frozen=True)
class Encoded:
    source: Path
    probe: MediaProbe
    line: chunks.Timeline  # the source's, with every frame's time
    plan: list[Segment]
    segments: list[Path]
    scratch: Path


def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)


def encode(ffmpeg: str, source: Path, segment: Segment, out: Path, container: str) -> Path:
    profile, quality = x265()
    result = run(chunks.encode_argv(ffmpeg, source, segment, profile, quality, out, container=container))
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def ffmpeg() -> str:
    return ffmpeg_for("cpu", NEED)


@pytest.fixture(scope="module")
def film(tmp_path_factory: pytest.TempPathFactory, shared_media: Path) -> Path:
    return clips.film(tmp_path_factory.mktemp("film") / "film.mp4", shared_media)


@pytest.fixture(scope="module")
def encoded(film: Path, ffmpeg: str, tmp_path_factory: pytest.TempPathFactory) -> Encoded:
    scratch = tmp_path_factory.mktemp("scratch")
    source = probe(film)
    line = chunks.timeline(film, with_times=True)
    plan = chunks.plan(line.keyframes, source.duration, TARGET)
    segments = [encode(ffmpeg, film, s, scratch / chunks.segment_name(s), source.container) for s in plan]
    return Encoded(film, source, line, plan, segments, scratch)


def join(ffmpeg: str, encoded: Encoded, out: Path, segments: list[Path], plan: list[Segment]) -> Path:
    argv = chunk_join.join_argv(
        ffmpeg, segments, encoded.source, out, plan=plan, probe=encoded.probe, scratch=encoded.scratch
    )
    result = run(argv)
    assert result.returncode == 0, result.stderr
    return out


def test_the_plan_cuts_on_keyframes_and_each_segment_holds_its_frames(encoded: Encoded) -> None:
    plan, line = encoded.plan, encoded.line
    assert len(plan) == 4
    assert [s.index for s in plan] == [0, 1, 2, 3]
    assert all(s.start in line.keyframes for s in plan)
    assert [s.end for s in plan] == [s.start for s in plan[1:]] + [None]
    assert all((s.end or 30.0) - s.start >= TARGET / 2 for s in plan)
    for segment, path in zip(plan, encoded.segments, strict=True):
        assert chunks.frame_count(path) == held(line, segment), segment


def held(line: chunks.Timeline, segment: Segment) -> int:
    """How many of the source's frames lie in the segment's span."""
    half = (line.interval or 0.0) / 2
    end = segment.end if segment.end is not None else float("inf")
    return sum(1 for t in line.times if segment.start - half <= t < end - half)


def test_cuts_are_exact_with_a_time_base_finer_than_a_microsecond(
    ffmpeg: str, shared_media: Path, tmp_path: Path
) -> None:
    """23.976 frames a second in 1/10,000,000 s units, a keyframe every 47 frames: the keyframes fall between
    microseconds, and a cut rounded up would lose a keyframe or keep the next segment's."""
    source = tmp_path / "fine.mp4"
    clips.ffmpeg(
        "-i", shared_media / "bikes.mp4", "-vf", "fps=24000/1001", "-t", "6", "-an",
        "-c:v", "libx264", "-preset", "ultrafast", "-g", "47", "-keyint_min", "47", "-sc_threshold", "0",
        "-video_track_timescale", "10000000", source,
    )  # fmt: skip
    line = chunks.timeline(source, with_times=True)
    assert any(round(k * 1_000_000) != k * 1_000_000 for k in line.keyframes)
    plan = chunks.plan(line.keyframes, 6.0, 1.9)
    assert len(plan) == 3
    container = probe(source).container
    for segment in plan:
        out = encode(ffmpeg, source, segment, tmp_path / chunks.segment_name(segment), container)
        assert chunks.frame_count(out) == held(line, segment) > 0, segment


@pytest.mark.parametrize("suffix", [".mkv", ".mp4"])
def test_the_joined_file_is_the_source_with_its_video_encoded(
    encoded: Encoded, ffmpeg: str, tmp_path: Path, suffix: str
) -> None:
    out = join(ffmpeg, encoded, tmp_path / f"joined{suffix}", encoded.segments, encoded.plan)

    report = chunk_join.seams(out, chunk_join.join_times(encoded.plan), expected_frames=encoded.line.frames)
    assert report.clean, report.problems
    assert report.frames == encoded.line.frames == 750
    assert len(report.joins) == 3 and all(j.gap is not None for j in report.joins)
    with av.open(str(out)) as container, av.open(str(encoded.source)) as original:
        assert container.duration is not None and original.duration is not None
        assert abs(container.duration - original.duration) / 1_000_000 < 0.1
        kinds = [(s.type, s.codec_context.name) for s in container.streams]
        text = "srt" if suffix == ".mkv" else "mov_text"  # the decoder's name of SubRip
        assert kinds == [("video", "hevc"), ("audio", "aac"), ("subtitle", text)]
        if suffix == ".mp4":
            assert container.streams.video[0].codec_tag == "hvc1"
        audio = sum(1 for p in container.demux(audio=0) if p.size)
        assert audio == sum(1 for p in original.demux(audio=0) if p.size)  # the whole soundtrack, once


def test_a_missing_or_doubled_segment_is_reported(encoded: Encoded, ffmpeg: str, tmp_path: Path) -> None:
    s, p = encoded.segments, encoded.plan
    joins, frames = chunk_join.join_times(p), encoded.line.frames
    missing = join(ffmpeg, encoded, tmp_path / "missing.mkv", [s[0], s[2], s[3]], [p[0], p[2], p[3]])
    report = chunk_join.seams(missing, joins, expected_frames=frames)
    assert not report.clean and f"{frames - 192} frames, the source has {frames}" in report.problems
    doubled = join(
        ffmpeg, encoded, tmp_path / "doubled.mkv", [s[0], s[1], s[1], s[2], s[3]], [p[0], p[1], *p[1:]]
    )
    report = chunk_join.seams(doubled, joins, expected_frames=frames)
    assert not report.clean and f"{frames + 192} frames, the source has {frames}" in report.problems


def test_a_frame_lost_or_doubled_at_a_join_is_a_seam(encoded: Encoded, ffmpeg: str, tmp_path: Path) -> None:
    """A segment encoded one frame short or one frame long (its next segment starting where planned)."""
    s, p, line = encoded.segments, encoded.plan, encoded.line
    frame = line.interval or 0.04
    at = chunk_join.join_times(p)[1]  # where segment 1 ends
    for name, change, problem in (
        ("short", -frame, "ms between frames"),
        ("long", frame, "time of the frame"),
    ):
        segment = Segment(index=1, start=p[1].start, end=(p[1].end or 0) + change)
        odd = encode(
            ffmpeg, encoded.source, segment, encoded.scratch / f"odd-{name}.mkv", encoded.probe.container
        )
        out = join(ffmpeg, encoded, tmp_path / f"{name}.mkv", [s[0], odd, s[2], s[3]], p)
        report = chunk_join.seams(out, chunk_join.join_times(p), expected_frames=line.frames)
        assert not report.clean
        assert any(problem in text for text in report.problems), report.problems
        seam = report.joins[1]
        assert seam.at == at and seam.gap is not None
        assert seam.gap > 1.5 * frame if name == "short" else seam.gap < 0.5 * frame


def lead_clip(shared_media: Path, out: Path) -> Path:
    """10 s whose sound starts half a second before its picture. Each input is as long as it is to be (no
    output ``-t`` cutting one while the other still runs: ffmpeg 9 was seen to stall there, once)."""
    clips.ffmpeg(
        "-t", "9.5", "-itsoffset", "0.5", "-i", shared_media / "bikes.mp4", "-f", "lavfi", "-i", "sine=duration=10",
        "-map", "0:v", "-map", "1:a",
        "-c:v", "libx264", "-preset", "ultrafast", "-g", "48", "-sc_threshold", "0", "-c:a", "aac", out,
    )  # fmt: skip
    return out


def test_a_picture_that_starts_after_its_sound_keeps_its_place(
    ffmpeg: str, shared_media: Path, tmp_path: Path
) -> None:
    source = lead_clip(shared_media, tmp_path / "lead.mkv")
    probed = probe(source)
    line = chunks.timeline(source)
    plan = chunks.plan(line.keyframes, probed.duration, 4.0)
    assert len(plan) == 2 and plan[0].start == pytest.approx(0.5, abs=0.05)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    segments = [encode(ffmpeg, source, s, scratch / chunks.segment_name(s), probed.container) for s in plan]
    out = tmp_path / "joined.mkv"
    argv = chunk_join.join_argv(ffmpeg, segments, source, out, plan=plan, probe=probed, scratch=scratch)
    assert run(argv).returncode == 0
    report = chunk_join.seams(out, chunk_join.join_times(plan), expected_frames=line.frames)
    assert report.clean, report.problems
    with av.open(str(out)) as joined, av.open(str(source)) as original:
        assert joined.start_time == original.start_time == 0  # the sound's start
        assert start(joined) == pytest.approx(start(original), abs=0.002)


def start(container: av.container.InputContainer) -> float:
    """When the picture starts, in seconds."""
    stream = container.streams.video[0]
    assert stream.start_time is not None and stream.time_base is not None
    return float(stream.start_time * stream.time_base)


def test_the_join_reads_only_matroska_segments(encoded: Encoded, ffmpeg: str, tmp_path: Path) -> None:
    """The concat demuxer's files are held to the whitelists of its own input."""
    disguised = encoded.scratch / "disguised.mkv"
    disguised.write_bytes(encoded.source.read_bytes())  # an MP4 under a Matroska name
    segments = [encoded.segments[0], disguised, *encoded.segments[2:]]
    argv = chunk_join.join_argv(
        ffmpeg, segments, encoded.source, tmp_path / "out.mkv", plan=encoded.plan, probe=encoded.probe,
        scratch=encoded.scratch,
    )  # fmt: skip
    result = run(argv)
    assert result.returncode != 0 and "not on whitelist" in result.stderr


# --- the plan alone ---------------------------------------------------------------------------------------


def starts(segments: list[Segment]) -> list[float]:
    return [s.start for s in segments]


def test_a_file_with_no_keyframe_after_its_first_is_one_segment() -> None:
    assert chunks.plan([0.0], 600.0, 60.0) == [Segment(index=0, start=0.0, end=None)]
    assert chunks.plan([], 600.0, 60.0) == [Segment(index=0, start=0.0, end=None)]


def test_a_short_file_is_one_segment() -> None:
    keys = [i * 2.0 for i in range(45)]  # 90 s, a keyframe every 2 s
    assert len(chunks.plan(keys, 90.0, 60.0)) == 2  # 1.5 targets: two of 45 s
    assert len(chunks.plan(keys, 80.0, 60.0)) == 1
    assert len(chunks.plan(keys, 90.0, 600.0)) == 1  # the target is longer than the file
    assert chunks.plan([0.0, 2.0], 3.0, 60.0) == [Segment(index=0, start=0.0, end=None)]


def test_segments_are_even_and_start_on_keyframes() -> None:
    keys = [round(i * 2.002, 3) for i in range(300)]  # 600.6 s
    plan = chunks.plan(keys, 600.6, 60.0)
    assert len(plan) == 10
    assert all(s.start in keys for s in plan)
    lengths = [(s.end or 600.6) - s.start for s in plan]
    assert all(59.0 <= length <= 61.1 for length in lengths), lengths
    assert plan == chunks.plan(list(reversed(keys)), 600.6, 60.0)  # the same input, the same plan


def test_no_segment_is_shorter_than_half_the_target() -> None:
    # Keyframes far apart: the cuts move to the ones there are, never leaving a sliver.
    # Five cuts wanted near 20.8, 41.6, 62.4 and 83.2 s: 55 s would leave 5 s after 50 s, 100 s only 4 s
    # before the end.
    plan = chunks.plan([0.0, 10.0, 50.0, 55.0, 100.0], 104.0, 20.0)
    assert starts(plan) == [0.0, 10.0, 50.0] and plan[-1].end is None


def test_the_first_segment_starts_on_the_first_keyframe() -> None:
    plan = chunks.plan([0.52, 10.52, 20.52, 30.52], 40.0, 10.0)
    assert starts(plan) == [0.52, 10.52, 20.52, 30.52]


def test_a_segment_length_must_be_positive() -> None:
    with pytest.raises(ValueError):
        chunks.plan([0.0], 10.0, 0.0)


# --- the argv alone ---------------------------------------------------------------------------------------


def test_a_segment_is_cut_before_the_input_a_microsecond_early() -> None:
    profile, quality = x265()
    middle = chunks.encode_argv(
        "ffmpeg",
        Path("/m/a.mkv"),
        Segment(index=1, start=7.68, end=15.36),
        profile,
        quality,
        Path("/s/1.mkv"),
    )
    i = middle.index("-i")
    assert middle[middle.index("-ss") + 1] == "7.679999" and middle.index("-ss") < i
    assert middle[middle.index("-t") + 1] == "7.679999" and middle.index("-t") < i
    assert middle[i + 1 : i + 6] == ["/m/a.mkv", "-map", "0:v:0", "-an", "-sn"]
    encoding = [*profile.video_args(0, quality), *profile.global_args()]
    at = middle.index(encoding[0])
    assert middle[at : at + len(encoding)] == encoding
    assert middle[-3:] == ["-f", "matroska", "/s/1.mkv"]
    first = chunks.encode_argv(
        "ffmpeg", Path("/m/a.mkv"), Segment(0, 0.0, 7.68), profile, quality, Path("/o")
    )
    assert "-ss" not in first and first[first.index("-t") + 1] == "7.679999"
    last = chunks.encode_argv(
        "ffmpeg", Path("/m/a.mkv"), Segment(3, 23.04, None), profile, quality, Path("/o")
    )
    assert "-t" not in last and last[last.index("-ss") + 1] == "23.039999"


def test_the_concat_list_places_each_segment_at_its_planned_start(tmp_path: Path) -> None:
    plan = [Segment(0, 0.0, 7.68), Segment(1, 7.68, 15.36), Segment(2, 15.36, None)]
    paths = [tmp_path / chunks.segment_name(s) for s in plan]
    assert chunk_join.concat_list(paths, plan, tmp_path) == (
        "ffconcat version 1.0\n"
        "file 'segment-00000.mkv'\nduration 7.680000\n"
        "file 'segment-00001.mkv'\nduration 7.680000\n"
        "file 'segment-00002.mkv'\n"
    )
    with pytest.raises(ValueError):
        chunk_join.concat_list(paths[:2], plan, tmp_path)
    with pytest.raises(ValueError):
        chunk_join.concat_list([tmp_path / "it's.mkv"], plan[:1], tmp_path)
    with pytest.raises(ValueError):
        chunk_join.concat_list([Path("/elsewhere/a.mkv")], plan[:1], tmp_path)
