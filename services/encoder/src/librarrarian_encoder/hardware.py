"""Which hardware classes this node can really use: proved by a one-second test encode per encoder, not by
``ffmpeg -encoders`` (a build lists NVENC whether or not there is a GPU and a driver)."""

from __future__ import annotations

import asyncio
import logging
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
    return Detection(hw, tuple(works), detail)


async def detect(ffmpeg: str, only: tuple[HwClass, ...] = ()) -> list[Detection]:
    """Every class (or only ``only``), tested one after the other: GPUs dislike concurrent first inits."""
    results = [await detect_class(ffmpeg, hw) for hw in (only or tuple(HwClass))]
    for result in results:
        if result.usable:
            log.info(
                "hardware class %s: usable for %s (%s)", result.hw, ", ".join(result.codecs), result.detail
            )
        else:
            log.info("hardware class %s: unusable (%s)", result.hw, result.detail)
    return results
