"""Choosing a binary per purpose: pure decisions from capabilities as probing reports them, no binaries run."""

from __future__ import annotations

import pytest
from librarrarian_contracts.enums import FfmpegOrigin
from librarrarian_media.ffmpeg_builds import Build, Capabilities
from librarrarian_media.ffmpeg_choice import Need, choose

CPU = Need.of(encoders=("libx265", "libsvtav1"), options=("fps_mode",), hdr10=("libx265", "libsvtav1"))
NVENC = Need.of(encoders=("hevc_nvenc", "av1_nvenc"), options=("fps_mode",))
VMAF = Need.of(filters=("libvmaf", "scale2ref"))


def build(
    origin: str,
    version: str,
    *,
    encoders: tuple[str, ...] = ("libx265", "libsvtav1"),
    filters: tuple[str, ...] = ("scale2ref",),
    options: tuple[str, ...] = ("fps_mode",),
    hdr10: tuple[str, ...] = (),
    error: str | None = None,
) -> Build:
    return Build(
        f"/{origin}/ffmpeg",
        FfmpegOrigin(origin),
        Capabilities(
            version=version,
            encoders=frozenset(encoders),
            filters=frozenset(filters),
            options=frozenset(options),
            hdr10=frozenset(hdr10),
            error=error,
        ),
    )


# Debian 12's: NVENC for HEVC only, no libvmaf, HDR10 side data dropped by its libx265 and libsvtav1 wrappers.
DEBIAN = build("system", "5.1.6-0+deb12u1", encoders=("libx265", "libsvtav1", "hevc_nvenc"))
# The imageio-ffmpeg wheel's static build: all of it.
BUNDLED = build(
    "bundled",
    "n9.0.2",
    encoders=("libx265", "libsvtav1", "hevc_nvenc", "av1_nvenc"),
    filters=("libvmaf", "scale2ref"),
    options=("fps_mode", "display_rotation"),
    hdr10=("libx265", "libsvtav1"),
)


def test_the_system_build_serves_where_it_can_do_the_whole_job() -> None:
    modern = build("system", "7.1.1", hdr10=("libx265", "libsvtav1"))
    use = choose("cpu", CPU, [modern, BUNDLED])
    assert use.build is modern and use.lacking == ()
    assert use.why == "it has all that cpu needs"


def test_an_old_system_build_loses_the_purposes_it_cannot_do_whole() -> None:
    cpu = choose("cpu", CPU, [DEBIAN, BUNDLED])
    assert cpu.build is BUNDLED and cpu.lacking == ()
    assert cpu.why == (
        "the system ffmpeg 5.1.6-0+deb12u1 lacks HDR10 side data in libsvtav1, HDR10 side data in libx265"
    )
    vmaf = choose("vmaf", VMAF, [DEBIAN, BUNDLED])
    assert vmaf.build is BUNDLED and "lacks filter libvmaf" in vmaf.why
    # NVENC for HEVC alone is not the whole class: the bundled build has AV1 too (the test encodes decide
    # later whether it really runs here, and fall back to the system build if it does not).
    assert choose("nvenc", NVENC, [DEBIAN, BUNDLED]).build is BUNDLED


def test_a_hardware_encoder_only_the_system_build_has_wins_its_class() -> None:
    vendor = build("system", "6.0-vendor", encoders=("hevc_nvenc", "av1_nvenc"))
    plain = build("bundled", "n9.0.2", encoders=("libx265",))
    use = choose("nvenc", NVENC, [vendor, plain])
    assert use.build is vendor and use.why == "it has all that nvenc needs"
    # Even when it has only part of the class, it has more of it than a build without any.
    partial = build("system", "6.0-vendor", encoders=("hevc_nvenc",))
    use = choose("nvenc", NVENC, [plain, partial])
    assert use.build is partial and use.lacking == ("encoder av1_nvenc",)


def test_when_none_has_it_all_the_one_lacking_least_serves_and_says_so() -> None:
    use = choose("videotoolbox", Need.of(encoders=("hevc_videotoolbox",)), [DEBIAN, BUNDLED])
    assert use.build is DEBIAN  # a tie goes to the earlier, the system build
    assert use.lacking == ("encoder hevc_videotoolbox",)
    assert use.why.startswith("no ffmpeg here has all that videotoolbox needs; this one lacks the least")
    assert "the bundled ffmpeg n9.0.2 lacks encoder hevc_videotoolbox" in use.why


def test_ffmpeg_path_overrides_every_purpose_even_when_it_lacks_something() -> None:
    override = build("FFMPEG_PATH", "5.1.6", encoders=("libx265", "libsvtav1"))
    use = choose("vmaf", VMAF, [override])
    assert use.build is override and use.lacking == ("filter libvmaf",)
    assert use.why == "FFMPEG_PATH overrides every other ffmpeg, though it lacks filter libvmaf"
    assert choose("cpu", CPU, [override]).why.startswith("FFMPEG_PATH overrides every other ffmpeg")


def test_a_binary_that_does_not_run_lacks_everything() -> None:
    broken = build("system", "unknown", error="[Errno 13] Permission denied")
    assert CPU.lacking(broken) == ("a binary that runs ([Errno 13] Permission denied)",)
    assert choose("cpu", CPU, [broken, BUNDLED]).build is BUNDLED


def test_a_missing_encoder_is_said_once_not_also_as_missing_hdr10() -> None:
    no_svt = build("system", "6.1", encoders=("libx265",), hdr10=("libx265",))
    assert CPU.lacking(no_svt) == ("encoder libsvtav1",)
    old_option = build("system", "4.4.2", options=(), hdr10=("libx265", "libsvtav1"))
    assert CPU.lacking(old_option) == ("option -fps_mode",)


def test_there_is_always_a_binary_to_choose() -> None:
    with pytest.raises(ValueError, match="no ffmpeg"):
        choose("cpu", CPU, [])
