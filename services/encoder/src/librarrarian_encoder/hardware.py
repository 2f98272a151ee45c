"""Which hardware classes this node can really use: proved by a one-second test encode per encoder, not by
``ffmpeg -encoders`` (a build lists NVENC whether or not there is a GPU and a driver), with the class's
preferred ffmpeg first and, when that one does not pass them all, with the other candidates."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from librarrarian_contracts.settings import TranscodeSettings
from librarrarian_contracts.topology import HwClass

from .ffmpeg import first_error
from .profiles import PROFILES, Profile

log = logging.getLogger(__name__)

TEST_SOURCE = "testsrc2=size=256x144:rate=25:duration=1"


@dataclass(frozen=True)
class Detection:
    hw: HwClass
    codecs: tuple[str, ...]  # target codecs whose test encode passed
    detail: str
    ffmpeg: str  # the binary the test encodes ran with
    # The preferred binary's attempt, when another binary passed more of the class's test encodes.
    instead_of: Detection | None = None

    @property
    def usable(self) -> bool:
        return bool(self.codecs)


async def test_encode(ffmpeg: str, profile: Profile, timeout: float = 30.0) -> str | None:
    """None when the encoder works; otherwise why not, in one line."""
    quality = TranscodeSettings().quality_for(profile.family, 256, 144)
    argv = [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        *profile.input_args(),
        "-f",
        "lavfi",
        "-i",
        TEST_SOURCE,
        *profile.video_args(0, quality),
        *profile.global_args(),
        "-f",
        "null",
        "-",
    ]
    try:
        process = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
        )
    except OSError as error:
        return f"cannot run ffmpeg: {error.strerror or error}"
    try:
        _, stderr = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        return f"the test encode took longer than {timeout:.0f} s"
    if process.returncode != 0:
        return first_error(stderr.decode(errors="replace"))
    return None


async def detect_class(ffmpeg: str, hw: HwClass) -> Detection:
    works, failures = [], []
    for (profile_hw, codec), profile in PROFILES.items():
        if profile_hw is not hw:
            continue
        error = await test_encode(ffmpeg, profile)
        if error is None:
            works.append(codec)
        else:
            failures.append(f"{profile.encoder}: {error}")
    detail = "; ".join(failures) if failures else "test encodes succeeded"
    return Detection(hw, tuple(works), detail, ffmpeg)


async def detect_with(binaries: Sequence[str], hw: HwClass) -> Detection:
    """The class's test encodes with each binary in turn until one passes them all: a vendor's system build
    may run NVENC where the bundled one cannot load the driver. The one that passed most wins, the earlier
    on a tie; a failure's reason is the first binary's."""
    everything = sum(1 for profile_hw, _ in PROFILES if profile_hw is hw)
    first = best = await detect_class(binaries[0], hw)
    for ffmpeg in binaries[1:]:
        if len(best.codecs) == everything:
            break
        tried = await detect_class(ffmpeg, hw)
        if len(tried.codecs) > len(best.codecs):
            best = tried
    if best is not first:
        return Detection(hw, best.codecs, best.detail, best.ffmpeg, instead_of=first)
    return first


async def detect(binaries: Mapping[HwClass, Sequence[str]]) -> list[Detection]:
    """Each class in ``binaries`` (class -> the ffmpeg binaries to try, preferred first), tested one after
    the other: GPUs dislike concurrent first inits."""
    results = [await detect_with(order, hw) for hw, order in binaries.items()]
    for result in results:
        if result.usable:
            log.info(
                "hardware class %s: usable for %s with %s (%s)",
                result.hw,
                ", ".join(result.codecs),
                result.ffmpeg,
                result.detail,
            )
        else:
            log.info("hardware class %s: unusable (%s)", result.hw, result.detail)
        if result.instead_of is not None:
            log.info(
                "hardware class %s: %s passed where %s did not (%s)",
                result.hw,
                result.ffmpeg,
                result.instead_of.ffmpeg,
                result.instead_of.detail,
            )
    return results
