"""Verification of outputs made with the real ffmpeg."""

from __future__ import annotations

from pathlib import Path

import pytest
from librarrarian_encoder.verify import VerifyError, verify
from librarrarian_media import probe
from librarrarian_testing.clips import ffmpeg, lavfi_clip


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return lavfi_clip(tmp_path / "source.mp4", seconds=3)


def hevc(source: Path, out: Path, *extra: str) -> Path:
    ffmpeg(
        "-i",
        source,
        *extra,
        "-c:v",
        "libx265",
        "-preset",
        "ultrafast",
        "-x265-params",
        "log-level=error",
        "-c:a",
        "copy",
        out,
    )
    return out


def test_a_faithful_output_passes(source: Path, tmp_path: Path) -> None:
    result = verify(hevc(source, tmp_path / "out.mp4"), probe(source), full=True)
    assert result.video_codec == "hevc" and result.duration is not None and abs(result.duration - 3) < 0.2


def test_a_missing_audio_stream_fails(source: Path, tmp_path: Path) -> None:
    with pytest.raises(VerifyError, match="0 audio stream"):
        verify(hevc(source, tmp_path / "out.mp4", "-an"), probe(source))


def test_a_short_output_fails(source: Path, tmp_path: Path) -> None:
    with pytest.raises(VerifyError, match="lasts"):
        verify(hevc(source, tmp_path / "out.mp4", "-t", "1.5"), probe(source))


def test_a_truncated_output_fails(source: Path, tmp_path: Path) -> None:
    out = hevc(source, tmp_path / "out.mp4")
    out.write_bytes(out.read_bytes()[: out.stat().st_size // 2])
    with pytest.raises(VerifyError):
        verify(out, probe(source))


def test_an_output_that_is_not_hevc_fails(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    ffmpeg("-i", source, "-c", "copy", out)
    with pytest.raises(VerifyError, match="not hevc"):
        verify(out, probe(source))
