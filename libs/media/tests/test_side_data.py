"""The Dolby Vision configuration record, read by the probe from clips the real ffmpeg made with one (in
Matroska and MP4), and from libavformat's description of a file with several streams."""

from __future__ import annotations

from pathlib import Path

import pytest
from librarrarian_media import probe
from librarrarian_media.side_data import DolbyVision, parse
from librarrarian_testing.hdr import dolby_vision_clip, hdr10_plus_clip


@pytest.mark.parametrize("name", ["film.mkv", "film.mp4"])
@pytest.mark.parametrize(("profile", "compatibility"), [(5, 0), (8, 1)])
def test_the_probe_reads_the_profile_and_base_layer_of_dolby_vision(
    name: str, profile: int, compatibility: int, tmp_path: Path
) -> None:
    video = probe(dolby_vision_clip(tmp_path / name, profile)).streams[0]
    assert (video.codec, video.dv_profile, video.dv_compatibility) == ("hevc", profile, compatibility)
    assert video.color_transfer == ("smpte2084" if profile == 8 else None)


def test_hdr10_without_dolby_vision_has_no_record(tmp_path: Path) -> None:
    video = probe(hdr10_plus_clip(tmp_path / "plus.mkv")).streams[0]
    assert (video.dv_profile, video.dv_compatibility, video.color_transfer) == (None, None, "smpte2084")


def test_each_record_belongs_to_its_stream() -> None:
    text = """Input #0, matroska,webm, from '':
  Stream #0:0: Video: png, rgb24, 600x600 (attached pic)
  Stream #0:1(eng): Video: hevc (Main 10), yuv420p10le(tv, bt2020nc/bt2020/smpte2084), 3840x2160
    Side data:
      DOVI configuration record: version: 1.0, profile: 7, level: 6, rpu flag: 1, el flag: 1, bl flag: 1, \
compatibility id: 6, compression: 0
  Stream #0:2(eng): Audio: truehd, 48000 Hz, 7.1, s32 (24 bit)
"""
    assert parse(text) == {1: DolbyVision(profile=7, compatibility=6)}
    assert parse("") == {}
