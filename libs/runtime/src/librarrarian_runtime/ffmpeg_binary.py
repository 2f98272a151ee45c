"""Which ffmpeg to run: a system ``ffmpeg`` on PATH wins (it may carry hardware support),
otherwise the static build shipped in the ``imageio-ffmpeg`` wheel."""

from __future__ import annotations

import os
import shutil


def locate() -> tuple[str, str]:
    """(path, origin) of the ffmpeg to use; ``FFMPEG_PATH`` overrides both."""
    override = os.environ.get("FFMPEG_PATH")
    if override:
        return override, "FFMPEG_PATH"
    system = shutil.which("ffmpeg")
    if system:
        return system, "system PATH"
    try:
        import imageio_ffmpeg
    except ImportError:
        raise FileNotFoundError("no ffmpeg on PATH and the imageio-ffmpeg wheel is not installed") from None
    return imageio_ffmpeg.get_ffmpeg_exe(), "imageio-ffmpeg wheel"
