"""Probing the real ffmpeg binaries on this machine: the bundled build, and the system's when there is one
(``make test-system-ffmpeg`` puts Debian's 5.1 first on PATH, which drops HDR10 and has no libvmaf)."""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import av
import pytest
from librarrarian_media.ffmpeg_builds import HDR10_ENCODERS, Build, candidates, capabilities

HDR10_PARAMS = (
    "log-level=error:hdr10=1:colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc"
    ":master-display=G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,1):max-cll=1000,400"
)


@pytest.fixture
def found(monkeypatch: pytest.MonkeyPatch) -> tuple[Build, ...]:
    monkeypatch.delenv("FFMPEG_PATH", raising=False)
    return candidates()


def test_the_bundled_build_is_a_candidate_and_has_all_we_ask_of_it(found: tuple[Build, ...]) -> None:
    (bundled,) = (build for build in found if build.origin == "bundled")
    can = bundled.capabilities
    assert can.error is None and can.version != "unknown"
    assert {
        "libx265",
        "libsvtav1",
        "libx264",
        "hevc_nvenc",
        "av1_nvenc",
        "hevc_qsv",
        "hevc_vaapi",
    } <= can.encoders
    assert {"libvmaf", "scale2ref", "showinfo"} <= can.filters
    assert {"display_rotation", "fps_mode", "progress"} <= can.options
    assert can.hdr10 == {"libx265", "libsvtav1"}


def test_the_system_build_comes_first(found: tuple[Build, ...]) -> None:
    assert [build.origin for build in found] in (["bundled"], ["system", "bundled"])


def test_a_system_ffmpeg_that_is_the_bundled_binary_is_offered_once(
    found: tuple[Build, ...], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "ffmpeg").symlink_to(found[-1].path)
    monkeypatch.setenv("PATH", str(tmp_path))
    (only,) = candidates()
    assert (only.origin, only.path) == ("system", str(tmp_path / "ffmpeg"))


def test_ffmpeg_path_is_the_only_candidate(found: tuple[Build, ...], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FFMPEG_PATH", found[-1].path)
    (only,) = candidates()
    assert only.origin == "FFMPEG_PATH" and only.capabilities == found[-1].capabilities


def test_a_binary_that_cannot_run_says_why(tmp_path: Path) -> None:
    can = capabilities(str(tmp_path / "no-such-ffmpeg"))
    assert can.error is not None and "no-such-ffmpeg" in can.error
    assert not can.encoders and not can.hdr10


def hdr10_kept(ffmpeg: str, encoder: str, folder: Path) -> bool:
    """An independent look: encode an HDR10 source with ``encoder`` and read the first frame's side data
    with PyAV (not ffmpeg's showinfo, which the probe reads)."""
    source, output = folder / "source.hevc", folder / f"out.{HDR10_ENCODERS[encoder]}"
    lavfi = ("-f", "lavfi", "-i", "testsrc2=size=128x128:rate=25", "-frames:v", "3")
    run = [ffmpeg, "-hide_banner", "-loglevel", "error", "-y"]
    subprocess.run(
        [
            *run,
            *lavfi,
            "-c:v",
            "libx265",
            "-pix_fmt",
            "yuv420p10le",
            "-x265-params",
            HDR10_PARAMS,
            str(source),
        ],
        check=True,
    )
    subprocess.run(
        [*run, "-i", str(source), "-c:v", encoder, "-pix_fmt", "yuv420p10le", str(output)], check=True
    )
    kinds = set()
    with av.open(str(output)) as container:
        frame = next(container.decode(video=0))
        for data in frame.side_data:
            kinds.add(data.type.name)
            if data.type.name == "CONTENT_LIGHT_LEVEL":
                assert struct.unpack("II", bytes(data)) == (1000, 400)
    return {"CONTENT_LIGHT_LEVEL", "MASTERING_DISPLAY_METADATA"} <= kinds


@pytest.mark.parametrize("encoder", sorted(HDR10_ENCODERS))
def test_the_hdr10_probe_tells_what_a_real_encode_keeps(
    found: tuple[Build, ...], encoder: str, tmp_path: Path
) -> None:
    for build in found:
        assert encoder in build.capabilities.encoders, f"{build.label} has no {encoder}"
        folder = tmp_path / build.origin
        folder.mkdir()
        kept = hdr10_kept(build.path, encoder, folder)
        assert (encoder in build.capabilities.hdr10) == kept, f"{build.label}: {encoder} keeps HDR10: {kept}"
