"""The encoder's ffmpeg per purpose: what each class needs, the choice among the real binaries here, and
the test encodes that fall back to another candidate when the preferred one fails."""

from __future__ import annotations

from pathlib import Path

import pytest
from librarrarian_contracts.enums import FfmpegOrigin
from librarrarian_contracts.topology import HwClass
from librarrarian_encoder import binaries, hardware
from librarrarian_media.ffmpeg_builds import Build, Capabilities, candidates
from librarrarian_media.ffmpeg_choice import Need


def build(origin: str, encoders: tuple[str, ...], hdr10: tuple[str, ...] = ()) -> Build:
    capabilities = Capabilities(
        version=f"{origin}-1",
        encoders=frozenset(encoders),
        filters=frozenset({"scale2ref"} | ({"libvmaf"} if origin == "bundled" else set())),
        options=frozenset({"fps_mode"}),
        hdr10=frozenset(hdr10),
    )
    return Build(f"/{origin}/ffmpeg", FfmpegOrigin(origin), capabilities)


SYSTEM = build("system", ("libx265", "libsvtav1", "hevc_nvenc"))
BUNDLED = build(
    "bundled", ("libx265", "libsvtav1", "hevc_nvenc", "av1_nvenc", "hevc_qsv"), hdr10=("libx265", "libsvtav1")
)


def test_each_class_needs_its_encoders_and_the_cpu_also_keeps_hdr10() -> None:
    cpu = binaries.need_of(HwClass.CPU)
    assert cpu.encoders == {"libx265", "libsvtav1"} == cpu.hdr10 and "fps_mode" in cpu.options
    nvenc = binaries.need_of(HwClass.NVENC)
    assert nvenc.encoders == {"hevc_nvenc", "av1_nvenc"} and not nvenc.hdr10
    assert binaries.need_of(HwClass.VIDEOTOOLBOX).encoders == {"hevc_videotoolbox"}


def test_the_test_encodes_try_the_preferred_binary_then_those_that_list_the_class() -> None:
    chosen = binaries.chosen([SYSTEM, BUNDLED])
    assert chosen.for_class(HwClass.CPU) == BUNDLED.path  # the system one drops HDR10
    assert chosen.vmaf == BUNDLED.path  # and has no libvmaf
    order = chosen.to_try([HwClass.NVENC, HwClass.QSV, HwClass.VIDEOTOOLBOX])
    assert order[HwClass.NVENC] == (BUNDLED.path, SYSTEM.path)  # only the bundled one has av1_nvenc
    assert order[HwClass.QSV] == (BUNDLED.path,)  # the system one lists no QSV encoder at all
    assert order[HwClass.VIDEOTOOLBOX] == (SYSTEM.path,)  # nobody has it: the test encode says why


def test_a_class_is_bound_to_the_binary_whose_test_encodes_passed() -> None:
    chosen = binaries.chosen([SYSTEM, BUNDLED])
    failed = hardware.Detection(HwClass.NVENC, (), "hevc_nvenc: Driver does not support", BUNDLED.path)
    passed = hardware.Detection(HwClass.NVENC, ("hevc",), "av1_nvenc: x", SYSTEM.path, instead_of=failed)
    proven = chosen.proven([passed, hardware.Detection(HwClass.CPU, ("hevc", "av1"), "ok", BUNDLED.path)])
    assert proven.for_class(HwClass.NVENC) == SYSTEM.path
    assert proven.for_class(HwClass.CPU) == BUNDLED.path
    shown = {use.purpose: use for use in proven.shown([HwClass.NVENC, HwClass.CPU])}
    assert list(shown) == ["nvenc", "cpu", "vmaf"]
    assert shown["nvenc"].origin == "system" and shown["nvenc"].version == "system-1"
    assert shown["nvenc"].why == (
        "its test encodes passed where /bundled/ffmpeg's did not (hevc_nvenc: Driver does not support),"
        " though it lacks encoder av1_nvenc"
    )
    assert "lacks HDR10 side data in libsvtav1, HDR10 side data in libx265" in shown["cpu"].why


def test_the_real_choice_takes_the_first_candidate_that_can_do_each_job(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FFMPEG_PATH", raising=False)
    found = candidates()
    chosen = binaries.chosen(found)
    needs: dict[str, Need] = {hw.value: binaries.need_of(hw) for hw in HwClass}
    needs[binaries.VMAF] = binaries.vmaf.NEED
    for purpose, need in needs.items():
        able = [build for build in found if not need.lacking(build)]
        use = chosen.uses[purpose]
        if able:
            assert use.build is able[0] and not use.lacking, (purpose, use.describe())
    # The bundled build can do all but VideoToolbox (macOS only): whatever is on PATH, nothing is lost.
    assert chosen.uses["cpu"].build.capabilities.hdr10 == {"libx265", "libsvtav1"}
    assert "libvmaf" in chosen.uses["vmaf"].build.capabilities.filters


async def test_a_class_whose_preferred_binary_fails_is_tested_with_the_next(tmp_path: Path) -> None:
    real = binaries.chosen(candidates()).for_class(HwClass.CPU)
    missing = str(tmp_path / "ffmpeg")
    found = await hardware.detect_with((missing, real), HwClass.CPU)
    assert found.codecs == ("hevc", "av1") and found.ffmpeg == real
    assert found.instead_of is not None and found.instead_of.ffmpeg == missing
    assert "cannot run ffmpeg" in found.instead_of.detail
    # A class every binary fails keeps the preferred binary's reason.
    nvenc = await hardware.detect_with((real, missing), HwClass.NVENC)
    assert not nvenc.usable and nvenc.ffmpeg == real and nvenc.instead_of is None
    assert "cannot run ffmpeg" not in nvenc.detail
