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


FILM_SUBTITLES = "1\n00:00:01,000 --> 00:00:04,000\nHello\n\n2\n00:00:20,000 --> 00:00:22,500\nWorld\n"


def film(out: Path, shared_media: Path) -> Path:
    """A 30 s film to cut into segments: the cyclists looped (H.264 with B-frames, a keyframe every 1.92 s),
    a sine tone as AAC, and a text subtitle (``FILM_SUBTITLES``) as ``mov_text``."""
    subtitles = out.parent / f".{out.stem}.srt"
    subtitles.write_text(FILM_SUBTITLES)
    try:
        ffmpeg(
            "-stream_loop", "2", "-i", shared_media / "bikes.mp4",
            "-f", "lavfi", "-i", "sine=frequency=440:duration=30",
            "-i", subtitles,
            "-map", "0:v", "-map", "1:a", "-map", "2:s", "-t", "30",
            "-c:v", "libx264", "-preset", "ultrafast", "-bf", "2", "-g", "48", "-sc_threshold", "0",
            "-c:a", "aac", "-c:s", "mov_text", out,
        )  # fmt: skip
    finally:
        subtitles.unlink()
    return out
