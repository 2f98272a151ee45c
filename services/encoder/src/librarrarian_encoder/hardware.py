"""Which hardware classes this node can really use: proved by a short test encode, not by the encoder list."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from librarrarian_contracts.topology import HwClass

log = logging.getLogger(__name__)

# The test encode per class; classes without one here are not detected yet.
PROBES: dict[HwClass, list[str]] = {
    HwClass.CPU: ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error"],
}


@dataclass(frozen=True)
class Detection:
    hw: HwClass
    usable: bool
    detail: str


async def test_encode(ffmpeg: str, hw: HwClass, timeout: float = 30.0) -> Detection:
    argv = [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=256x144:rate=25:duration=1",
        *PROBES[hw],
        "-f",
        "null",
        "-",
    ]
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    try:
        _, stderr = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        return Detection(hw, False, f"the test encode took longer than {timeout:.0f} s")
    if process.returncode != 0:
        last = stderr.decode(errors="replace").strip().splitlines()
        return Detection(hw, False, last[-1] if last else f"ffmpeg exited with {process.returncode}")
    return Detection(hw, True, "test encode succeeded")


async def detect(ffmpeg: str) -> list[Detection]:
    results = [await test_encode(ffmpeg, hw) for hw in PROBES]
    for result in results:
        log.info(
            "hardware class %s: %s (%s)",
            result.hw.value,
            "usable" if result.usable else "unusable",
            result.detail,
        )
    return results
