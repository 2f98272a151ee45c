"""The baseline: the very encodes the cluster runs (the argv its encoder builds for the CPU class), as a bare
loop of ffmpeg processes, as many at a time as the cluster has encoders, outputs thrown away."""

from __future__ import annotations

import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from librarrarian_contracts.settings import EncoderFamily, TranscodeSettings
from librarrarian_contracts.topology import HwClass
from librarrarian_encoder import binaries, ffmpeg
from librarrarian_encoder.profiles import PROFILES
from librarrarian_media import probe
from librarrarian_media.ffmpeg_builds import candidates


def bare_loop(clips: list[Path], scratch: Path, settings: TranscodeSettings, parallel: int) -> float:
    """Seconds for every clip, ``parallel`` ffmpeg processes at a time."""
    scratch.mkdir(parents=True, exist_ok=True)
    binary = binaries.chosen(candidates()).for_class(HwClass.CPU)
    profile = PROFILES[(HwClass.CPU, "hevc")]
    facts = probe(clips[0])  # every copy is the same video
    quality = settings.quality_for(EncoderFamily.X265, facts.width or 0, facts.height or 0)
    argvs = [
        ffmpeg.build_argv(binary, clip, scratch / f"{i}{clip.suffix}", facts, profile, quality)
        for i, clip in enumerate(clips)
    ]

    def run(argv: list[str]) -> None:
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        Path(argv[-1]).unlink(missing_ok=True)

    started = time.perf_counter()
    with ThreadPoolExecutor(parallel) as pool:
        list(pool.map(run, argvs))
    return time.perf_counter() - started
