"""The ffmpeg builds this machine offers (``FFMPEG_PATH``, the system's, the bundled one) and what each can
do, probed once per path: version, encoders, filters, options, and HDR10 side data through a real encode."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from librarrarian_contracts.enums import FfmpegOrigin

PROBE_TIMEOUT_SECONDS = 30.0
# The encoders that may write Dolby Vision (with ``-dolbyvision``, FFmpeg 7 and later): the CPU class's.
DOLBY_VISION_ENCODERS = frozenset({"libx265", "libsvtav1"})
# The encoders whose HDR10 handling is checked: the CPU class's. Hardware encoders are proved by the
# encoder's own test encodes; whether they keep HDR10 is their driver's business as much as ffmpeg's.
HDR10_ENCODERS = {"libx265": "hevc", "libsvtav1": "ivf"}  # encoder -> a raw format that holds its stream
# A 10-bit BT.2020 PQ source whose HEVC bitstream carries mastering display and content light level SEI:
# x265 writes them itself from its own parameters, in every version of ffmpeg.
_HDR10_SOURCE = (
    "-f", "lavfi", "-i", "testsrc2=size=128x128:rate=25", "-frames:v", "1",
    "-c:v", "libx265", "-pix_fmt", "yuv420p10le", "-x265-params",
    "log-level=error:hdr10=1:colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc"
    ":master-display=G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,1):max-cll=1000,400",
    "-f", "hevc",
)  # fmt: skip


@dataclass(frozen=True)
class Capabilities:
    """What one binary showed it can do; ``error`` says why it could not even be asked."""

    version: str = "unknown"
    encoders: frozenset[str] = frozenset()
    filters: frozenset[str] = frozenset()
    options: frozenset[str] = frozenset()  # main options, without the dash: "fps_mode", "display_rotation"
    hdr10: frozenset[str] = frozenset()  # encoders that carried mastering display and content light level
    # encoders that write Dolby Vision (``-dolbyvision``: the RPUs of the decoded frames and the
    # configuration record; FFmpeg 7 and later)
    dolby_vision: frozenset[str] = frozenset()
    error: str | None = None


@dataclass(frozen=True)
class Build:
    """One candidate ffmpeg: where it is, where it comes from, and what it can do."""

    path: str
    origin: FfmpegOrigin
    capabilities: Capabilities

    @property
    def label(self) -> str:
        """``system ffmpeg 5.1.6-0+deb12u1``: how logs and the node card name it."""
        return f"{self.origin} ffmpeg {self.capabilities.version}"


def candidates() -> tuple[Build, ...]:
    """``FFMPEG_PATH`` alone when set (it overrides every purpose); otherwise the system ``ffmpeg`` on PATH,
    when there is one, then the static build of the ``imageio-ffmpeg`` wheel."""
    override = os.environ.get("FFMPEG_PATH")
    if override:
        return (Build(override, FfmpegOrigin.FFMPEG_PATH, capabilities(override)),)
    found: list[tuple[str, FfmpegOrigin]] = []
    system = shutil.which("ffmpeg")
    if system:
        found.append((system, FfmpegOrigin.SYSTEM))
    try:
        import imageio_ffmpeg
    except ImportError:
        pass  # a system ffmpeg alone still serves; without either, the error below says so
    else:
        bundled = imageio_ffmpeg.get_ffmpeg_exe()
        if not system or os.path.realpath(bundled) != os.path.realpath(system):
            found.append((bundled, FfmpegOrigin.BUNDLED))
    if not found:
        raise FileNotFoundError("no ffmpeg on PATH and the imageio-ffmpeg wheel is not installed")
    return tuple(Build(path, origin, capabilities(path)) for path, origin in found)


@functools.cache
def capabilities(path: str) -> Capabilities:
    """Ask ``path`` what it can do; cached for the life of the process (a binary does not change under us)."""
    try:
        banner = _ask(path, "-version")
        encoders = _listed(_ask(path, "-encoders"))
        filters = _listed(_ask(path, "-filters"))
        options = _options(_ask(path, "-h", "long"))
    except (OSError, subprocess.SubprocessError) as error:
        return Capabilities(error=str(error))
    words = banner.split()
    version = words[2] if words[:2] == ["ffmpeg", "version"] and len(words) > 2 else "unknown"
    return Capabilities(
        version=version,
        encoders=encoders,
        filters=filters,
        options=options,
        hdr10=_carries_hdr10(path, encoders),
        dolby_vision=frozenset(e for e in DOLBY_VISION_ENCODERS & encoders if _writes_dolby_vision(path, e)),
    )


def _writes_dolby_vision(path: str, encoder: str) -> bool:
    return "-dolbyvision" in _ask(path, "-h", f"encoder={encoder}")


def _ask(path: str, *args: str) -> str:
    done = subprocess.run(
        [path, "-hide_banner", *args],
        capture_output=True,
        text=True,
        timeout=PROBE_TIMEOUT_SECONDS,
        check=True,
    )
    return done.stdout


def _listed(table: str) -> frozenset[str]:
    """The names in ``-encoders`` / ``-filters``: the second word of each row, after a flags column."""
    names = set()
    for line in table.splitlines():
        words = line.split()
        if len(words) >= 3 and set(words[0]) <= set("VASFDXBCT.|") and words[1] != "=":
            names.add(words[1])
    return frozenset(names)


def _options(help_text: str) -> frozenset[str]:
    """The option names of ``-h long``: ``-display_rotation[:<stream_spec>] <angle>`` gives display_rotation."""
    names = set()
    for line in help_text.splitlines():
        if line.startswith("-"):
            name = line[1:].split(maxsplit=1)[0]
            names.add(name.split("[", 1)[0].split("<", 1)[0])
    return frozenset(names)


def _carries_hdr10(path: str, encoders: frozenset[str]) -> frozenset[str]:
    """The encoders that keep a source's HDR10 mastering display and content light level, found by a real
    encode of a one-frame HDR10 source and a look at what the output's first frame carries.

    FFmpeg 7.0 was the first release whose libx265 and libsvtav1 wrappers pass that frame side data on
    (5.1 and 6.x drop it silently, and the output is HDR without its metadata). A version number cannot
    tell it: distributions and vendors backport, and a git build has no release number. So it is tried."""
    wanted = [encoder for encoder in HDR10_ENCODERS if encoder in encoders]
    if "libx265" not in encoders or not wanted:
        return frozenset()  # no way to make the source: such a build cannot encode HDR10 HEVC anyway
    with tempfile.TemporaryDirectory(prefix="librarrarian-hdr10-") as scratch:
        source = Path(scratch) / "source.hevc"
        if not _run(path, *_HDR10_SOURCE, str(source)) or not _has_hdr10(path, source):
            return frozenset()
        kept = set()
        for encoder in wanted:
            output = Path(scratch) / f"{encoder}.{HDR10_ENCODERS[encoder]}"
            encoded = _run(
                path, "-i", str(source), "-c:v", encoder, "-pix_fmt", "yuv420p10le",
                *(("-preset", "ultrafast", "-x265-params", "log-level=error") if encoder == "libx265" else ()),
                "-f", HDR10_ENCODERS[encoder], str(output),
            )  # fmt: skip
            if encoded and _has_hdr10(path, output):
                kept.add(encoder)
    return frozenset(kept)


def _run(path: str, *args: str) -> bool:
    try:
        done = subprocess.run(
            [path, "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args],
            capture_output=True,
            timeout=PROBE_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def _has_hdr10(path: str, video: Path) -> bool:
    """Whether the first frame decoded from a raw bitstream (no container to lend it) carries both."""
    argv = [path, "-hide_banner", "-nostdin", "-i", str(video), "-vf", "showinfo", "-frames:v", "1",
            "-f", "null", "-"]  # fmt: skip
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=PROBE_TIMEOUT_SECONDS, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return False
    # showinfo's names vary by version ("Content Light Level information", "Content light level metadata").
    said = done.stderr.lower()
    return done.returncode == 0 and "mastering display" in said and "light level" in said
