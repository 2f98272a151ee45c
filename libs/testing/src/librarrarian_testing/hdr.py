"""HDR test clips with the dynamic metadata that matters to a transcode: Dolby Vision (profile 5 or 8.1, with
their configuration record and an RPU per frame) and HDR10+. No encoder here writes Dolby Vision from
nothing, so a clip is made in three steps: libx265 encodes a pattern (HDR10 for profile 8.1, untagged for
profile 5, whose IPTPQc2 colours have no standard tag), an RPU from ``hdr_data`` (see its README for where
they come from) is appended to every frame, and ffmpeg's ``dovi_rpu`` filter writes the configuration record
from those RPUs, as a remux of a real release would have it."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import av
from librarrarian_media.ffmpeg_choice import Need, for_purpose

DATA = Path(__file__).parent / "hdr_data"
# libx265's dolbyvision option came with FFmpeg 7, the dovi_rpu filter with 7.1: the bundled build has both.
NEED = Need.of(encoders=("libx265",), dolby_vision=("libx265",))
MASTERING = "G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,1)"
HDR10 = f"hdr10=1:master-display={MASTERING}:max-cll=1000,400"
HDR10_TAGS = "setparams=color_primaries=bt2020:color_trc=smpte2084:colorspace=bt2020nc"


def _ffmpeg(*args: str | Path) -> None:
    argv = [for_purpose("hdr clips", NEED).path, "-hide_banner", "-loglevel", "error", "-y", *map(str, args)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ffmpeg failed ({done.returncode}): {' '.join(argv)}\n{done.stderr}")


def _pattern(out: Path, seconds: float, size: str, filters: str, x265: str) -> None:
    _ffmpeg(
        *("-f", "lavfi", "-i", f"testsrc2=size={size}:rate=24:duration={seconds}"),
        *(
            "-vf",
            f"format=yuv420p10le{filters}",
            "-c:v",
            "libx265",
            "-x265-params",
            f"log-level=error:{x265}",
        ),
        out,
    )


def dolby_vision_clip(out: Path, profile: int, *, seconds: float = 1.0, size: str = "320x240") -> Path:
    """An MKV (or MP4, by ``out``'s name) whose HEVC stream is Dolby Vision ``profile`` (5 or 8: 8.1)."""
    rpu = (DATA / f"profile{profile}.bin").read_bytes()
    with tempfile.TemporaryDirectory(prefix="librarrarian-dv-") as scratch:
        base, tagged = Path(scratch) / "base.mkv", Path(scratch) / "rpus.mkv"
        if profile == 5:
            _pattern(base, seconds, size, "", "")
        else:
            _pattern(base, seconds, size, "," + HDR10_TAGS, HDR10)
        _append_rpu(base, tagged, rpu)
        extra = ("-strict", "unofficial") if out.suffix in {".mp4", ".mov"} else ()
        _ffmpeg("-i", tagged, "-c", "copy", "-bsf:v", "dovi_rpu=compression=none", *extra, out)
    return out


def hdr10_plus_clip(out: Path, *, seconds: float = 1.0, size: str = "320x240") -> Path:
    """HDR10 with HDR10+ dynamic metadata (the same scene's on every frame), as x265 writes it."""
    _pattern(out, seconds, size, "," + HDR10_TAGS, f"{HDR10}:dhdr10-info={DATA / 'hdr10plus-scene.json'}")
    return out


def _append_rpu(source: Path, out: Path, rpu: bytes) -> None:
    """Every video packet of ``source`` gets the RPU as its last NAL unit (type 62), length-prefixed as
    Matroska's HEVC is: the start code of the Annex B form goes, the NAL header ``7c 01`` comes first."""
    nal = b"\x7c\x01" + rpu.removeprefix(b"\x00\x00\x00\x01")
    suffix = len(nal).to_bytes(4, "big") + nal
    with av.open(str(source)) as reader, av.open(str(out), "w", format="matroska") as writer:
        incoming = reader.streams.video[0]
        outgoing = writer.add_stream_from_template(incoming)
        for packet in reader.demux(incoming):
            if not packet.size:
                continue
            copy = av.Packet(bytes(packet) + suffix)
            copy.pts, copy.dts, copy.duration = packet.pts, packet.dts, packet.duration
            copy.time_base, copy.is_keyframe = packet.time_base, packet.is_keyframe
            copy.stream = outgoing
            writer.mux(copy)
