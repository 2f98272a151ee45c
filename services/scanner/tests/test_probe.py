"""Probing real clips in-process through the scanner's pool: what a file holds, or why it cannot be read."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

import pytest
from librarrarian_contracts import MediaProbe
from librarrarian_media import ProbeError
from librarrarian_scanner.probe import Prober
from librarrarian_testing import eventually, library
from librarrarian_testing.clips import ffmpeg, lavfi_clip, truncated_copy

from .stand_ins import Gate


@pytest.fixture(scope="module")
def lib(tmp_path_factory: pytest.TempPathFactory, shared_media: Path) -> library.Library:
    """Built once: its MKV (2 audio, subtitles, a font, chapters) and HEVC clips are made with ffmpeg."""
    return library.build(tmp_path_factory.mktemp("library"), shared_media)


@pytest.fixture
def prober() -> Prober:
    return Prober(workers=2, timeout_seconds=30)


async def test_an_h264_mp4(prober: Prober, shared_media: Path) -> None:
    result = await prober.probe(shared_media / "bigbuckbunny.mp4")
    assert (result.video_codec, result.width, result.height) == ("h264", 1280, 720)
    assert result.duration is not None and abs(result.duration - 5.3) < 0.1
    assert result.container.startswith("mov,mp4")
    assert result.bit_rate is not None and result.bit_rate > 0
    assert [(s.kind, s.codec) for s in result.streams] == [("video", "h264"), ("audio", "aac")]


async def test_an_mkv_with_two_audio_tracks_subtitles_and_a_font(
    prober: Prober, lib: library.Library
) -> None:
    result = await prober.probe(lib.transcode["mkv"])
    assert result.container.startswith("matroska")
    assert [s.kind for s in result.streams] == ["video", "audio", "audio", "subtitle", "attachment"]
    assert [s.language for s in result.streams if s.kind == "audio"] == ["eng", "fra"]
    assert result.streams[3].codec in {"subrip", "srt"}
    assert (result.video_codec, result.width, result.height) == ("h264", 640, 272)
    assert result.count("audio") == 2


async def test_an_hevc_clip(prober: Prober, lib: library.Library) -> None:
    assert lib.already_hevc is not None
    result = await prober.probe(lib.already_hevc)
    assert result.video_codec == "hevc"
    assert result.duration is not None and abs(result.duration - 2.0) < 0.2


async def test_cover_art_is_not_taken_for_the_video(prober: Prober, tmp_path: Path) -> None:
    clip = lavfi_clip(tmp_path / "clip.mp4", seconds=1, size="160x120")
    cover = tmp_path / "cover.png"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=64x64", "-frames:v", "1", cover)
    target = tmp_path / "with_cover.mp4"
    ffmpeg(
        *("-i", cover, "-i", clip, "-map", "0", "-map", "1", "-c", "copy", "-c:v:0", "png"),
        *("-disposition:v:0", "attached_pic", target),
    )
    result = await prober.probe(target)
    # MP4 keeps cover art as a second video stream (the muxer puts it last whatever the input order).
    assert [(s.codec, s.attached_pic) for s in result.streams if s.kind == "video"] == [
        ("h264", False),
        ("png", True),
    ]
    assert (result.video_codec, result.width, result.height) == ("h264", 160, 120)


async def test_an_audio_only_file_has_no_video_stream(prober: Prober, tmp_path: Path) -> None:
    path = tmp_path / "talk.mkv"
    ffmpeg("-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac", path)
    result = await prober.probe(path)
    assert result.video_codec is None and result.width is None
    assert [s.kind for s in result.streams] == ["audio"]


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda d, m: truncated_copy(m / "bigbuckbunny.mp4", d / "broken.mp4"), id="truncated"),
        pytest.param(
            lambda d, m: truncated_copy(m / "bigbuckbunny.mp4", d / "half.mp4", keep_bytes=300_000),
            id="truncated-after-the-header",
        ),
        pytest.param(
            lambda d, m: _write(d / "noise.mkv", b"\x1a\x45\xdf\xa3" + os.urandom(64 * 1024)),
            id="random-bytes-with-an-mkv-header",
        ),
        pytest.param(lambda d, m: _write(d / "noise.mp4", os.urandom(64 * 1024)), id="random-bytes"),
        pytest.param(lambda d, m: _write(d / "empty.mkv", b""), id="empty"),
    ],
)
async def test_an_unreadable_file_gets_a_one_line_reason(
    prober: Prober, tmp_path: Path, shared_media: Path, make: object
) -> None:
    path = make(tmp_path, shared_media)  # type: ignore[operator]
    with pytest.raises(ProbeError) as error:
        await prober.probe(path)
    reason = str(error.value)
    assert reason.startswith(
        ("not a readable video: ", "the video cannot be decoded", "the video stream has")
    )
    assert "\n" not in reason and "Traceback" not in reason and len(reason) < 200


async def test_the_truncated_copy_says_what_ffmpeg_said(
    prober: Prober, tmp_path: Path, shared_media: Path
) -> None:
    path = truncated_copy(shared_media / "bigbuckbunny.mp4", tmp_path / "broken.mp4")
    with pytest.raises(ProbeError, match=r"^not a readable video: Invalid data found when processing input$"):
        await prober.probe(path)


async def test_a_probe_that_hangs_times_out_with_a_reason(tmp_path: Path) -> None:
    gate = Gate()
    prober = Prober(workers=1, timeout_seconds=0.2, read=gate.read)
    try:
        with pytest.raises(ProbeError, match=r"^probe timed out after 0\.2 s$"):
            await prober.probe(tmp_path / "stuck.mkv")
    finally:
        gate.released.set()
    # The slot is free again: the next file is probed.
    assert (await prober.probe(tmp_path / "next.mkv")).container == "fake"


async def test_no_more_probes_run_at_once_than_there_are_workers(tmp_path: Path) -> None:
    gate = Gate()
    prober = Prober(workers=2, timeout_seconds=60, read=gate.read)
    probes = [asyncio.create_task(prober.probe(tmp_path / f"{i}.mkv")) for i in range(5)]
    try:
        await eventually(lambda: gate.inside == 2)
        assert not any(p.done() for p in probes)
    finally:
        gate.released.set()
    results = await asyncio.gather(*probes)
    assert len(results) == 5 and gate.most_inside == 2


async def test_a_surprise_from_the_decoder_becomes_a_reason(tmp_path: Path) -> None:
    def explode(path: Path) -> MediaProbe:
        raise ValueError("index out of range\nin some demuxer")

    prober = Prober(workers=1, timeout_seconds=5, read=explode)
    with pytest.raises(ProbeError, match=r"^probe failed: index out of range in some demuxer$"):
        await prober.probe(tmp_path / "odd.mkv")


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


class Snag:
    """A stand-in for PyAV that holds one file until released, and notes which thread read which file."""

    def __init__(self, stuck: str) -> None:
        self.stuck = stuck
        self.released = threading.Event()
        self.reads: list[tuple[int, str]] = []  # (thread, file) in the order read

    def read(self, path: Path) -> MediaProbe:
        self.reads.append((threading.get_ident(), path.name))
        if path.name == self.stuck:
            self.released.wait(timeout=60)
        return MediaProbe(container="fake", duration=1.0, video_codec="h264")


async def test_a_hang_in_the_middle_of_a_pass_costs_that_file_only(tmp_path: Path) -> None:
    snag = Snag(stuck="03.mkv")
    prober = Prober(workers=2, timeout_seconds=0.3, read=snag.read)
    paths = [tmp_path / f"{i:02d}.mkv" for i in range(12)]
    results: dict[str, object] = {}
    try:
        await asyncio.wait_for(
            prober.examine_all(paths, lambda i, result: results.__setitem__(paths[i].name, result)), 10
        )
        # Done without waiting for the stuck thread: every other file was probed by the other threads.
        assert sorted(results) == sorted(p.name for p in paths)
        assert [n for n, r in results.items() if isinstance(r, ProbeError)] == ["03.mkv"]
        assert str(results["03.mkv"]) == "probe timed out after 0.3 s"
        assert prober.stuck == 1
    finally:
        snag.released.set()
    # Back from its file, the abandoned thread takes no other, and reports nothing more.
    await eventually(lambda: prober.stuck == 0)
    (stuck_thread,) = [t for t, name in snag.reads if name == "03.mkv"]
    assert [name for t, name in snag.reads if t == stuck_thread][-1] == "03.mkv"
    assert len(snag.reads) == len(paths)
    assert len(results) == len(paths) and isinstance(results["03.mkv"], ProbeError)


async def test_each_file_is_reported_as_it_is_done(tmp_path: Path) -> None:
    """While one file holds a thread, the others' results are already in: a scan's progress moves."""
    snag = Snag(stuck="00.mkv")
    prober = Prober(workers=2, timeout_seconds=60, read=snag.read)
    paths = [tmp_path / f"{i:02d}.mkv" for i in range(8)]
    done: list[int] = []
    examining = asyncio.create_task(prober.examine_all(paths, lambda i, _: done.append(i)))
    try:
        await eventually(lambda: sorted(done) == list(range(1, 8)))
        assert not examining.done()
    finally:
        snag.released.set()
    await asyncio.wait_for(examining, 10)
    assert sorted(done) == list(range(8))


async def test_a_stop_ends_a_pass_before_the_next_file(tmp_path: Path) -> None:
    gate = Gate()
    prober = Prober(workers=2, timeout_seconds=60, read=gate.read)
    paths = [tmp_path / f"{i:02d}.mkv" for i in range(10)]
    stop = threading.Event()
    done: list[int] = []
    examining = asyncio.create_task(prober.examine_all(paths, lambda i, _: done.append(i), stop))
    try:
        await eventually(lambda: gate.inside == 2)
        stop.set()
    finally:
        gate.released.set()
    await asyncio.wait_for(examining, 10)
    assert sorted(done) == [0, 1]  # the two files in progress finish; no other is taken


async def test_a_cancelled_pass_returns_at_once(tmp_path: Path) -> None:
    gate = Gate()
    prober = Prober(workers=2, timeout_seconds=60, read=gate.read)
    paths = [tmp_path / f"{i:02d}.mkv" for i in range(10)]
    done: list[int] = []
    examining = asyncio.create_task(prober.examine_all(paths, lambda i, _: done.append(i)))
    try:
        await eventually(lambda: gate.inside == 2)
        examining.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(examining, 5)
    finally:
        gate.released.set()
    await eventually(lambda: gate.inside == 0)
    assert len(done) <= 2  # the files in progress may finish; no other is taken
    # The prober's slots are free again.
    assert (await prober.probe(tmp_path / "next.mkv")).container == "fake"
