"""Making test media with the real ffmpeg: re-encodes of the shared clips, lavfi sources, corrupt files.
The clips are made with the ffmpeg chosen for it, like every other purpose: one that has all they use."""

from __future__ import annotations

import subprocess
from pathlib import Path

from librarrarian_media.ffmpeg_choice import Need, Use, for_purpose

# Everything the helpers and the tests' clip recipes ask of ffmpeg. -display_rotation (a phone video's
# display matrix) is newer than Debian 12's ffmpeg 5.1: with that one on PATH the bundled build makes clips.
NEED = Need.of(
    encoders=("libx264", "libx265", "libsvtav1", "libaom-av1", "aac", "mov_text", "png", "mpeg4"),
    options=("display_rotation", "fps_mode"),
)


def maker() -> Use:
    """The ffmpeg that makes the clips, and why that one."""
    return for_purpose("clips", NEED)


def ffmpeg(*args: str | Path) -> None:
    binary = maker().path
    argv = [binary, "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *map(str, args)]
    # Never the test process's stdin: a test worker's may be its channel to the runner (pytest-xdist).
    result = subprocess.run(argv, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise RuntimeError(f"ffmpeg failed ({result.returncode}): {' '.join(argv)}\n{result.stderr}")


def lavfi_clip(
    out: Path,
    *,
    seconds: float = 2.0,
    size: str = "320x240",
    vcodec: str = "libx264",
    audio: bool = True,
    extra: tuple[str, ...] = (),
) -> Path:
    """A synthetic clip: test pattern video and, by default, a sine tone."""
    args: list[str | Path] = ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25:duration={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}", "-c:a", "aac"]
    args += ["-c:v", vcodec, "-pix_fmt", "yuv420p", *extra, "-shortest", out]
    ffmpeg(*args)
    return out


def truncated_copy(source: Path, out: Path, keep_bytes: int = 4096) -> Path:
    """A corrupt video: the first few kilobytes of a real one."""
    out.write_bytes(source.read_bytes()[:keep_bytes])
    return out
