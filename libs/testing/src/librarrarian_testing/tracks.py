"""A film with the tracks a user sorts: audio in three languages and a commentary, text subtitles in two
languages and one untagged, and a picture (DVD) subtitle, made at test time from the shared clip.

ffmpeg cannot turn text subtitles into pictures, so the DVD subtitle is one hand-made SPU packet (a 16x2
bitmap, in the format the DVD-Video specification gives: RLE pixel data, then the display control sequences)
muxed with PyAV; it is copied, never decoded, so a well-formed packet is all a test needs.
"""

from __future__ import annotations

import struct
from fractions import Fraction
from pathlib import Path

import av

from .clips import ffmpeg

# Stream index → (kind, language, title): what ``film`` holds, in order (0 is the video).
STREAMS = {
    1: ("audio", "eng", None),  # the default track: the original language
    2: ("audio", "fre", None),
    3: ("audio", "ger", None),
    4: ("audio", "eng", "Commentary"),
    5: ("subtitle", "eng", None),
    6: ("subtitle", "fre", None),
    7: ("subtitle", "eng", None),  # dvd_subtitle: a picture
    8: ("subtitle", None, None),  # no language tag
}


def _spu() -> bytes:
    """One DVD subtitle: two lines of 16 pixels of colour 1, shown at once, hidden 100 ticks later."""
    # Per line: one 12-bit run (16 pixels of colour 1), padded to a byte.
    pixels = bytes([0x04, 0x10, 0x04, 0x10])
    first = 4 + len(pixels)
    second = first + 4 + 1 + 3 + 3 + 7 + 5 + 1
    show = struct.pack(">HH", 0, second) + bytes(
        [0x01, 0x03, 0x01, 0x23, 0x04, 0xFF, 0xF0, 0x05, 0x00, 0x00, 0x0F, 0x00, 0x00, 0x01, 0x06]
    )
    show += struct.pack(">HH", 4, 6) + bytes([0xFF])  # the two fields' pixel data offsets; end
    hide = struct.pack(">HH", 100, second) + bytes([0x02, 0xFF])
    body = pixels + show + hide
    return struct.pack(">HH", 4 + len(body), first) + body


def dvd_subtitle(out: Path) -> Path:
    with av.open(str(out), "w") as container:
        stream = container.add_stream("dvdsub")
        packet = av.Packet(_spu())
        packet.stream = stream
        packet.time_base = Fraction(1, 1000)
        packet.pts = packet.dts = 1000
        packet.duration = 1000
        container.mux(packet)
    return out


def film(out: Path, shared_media: Path) -> Path:
    """``out`` (a ``.mkv``) with the streams of ``STREAMS``, from the shared Big Buck Bunny clip."""
    work = out.parent
    for lang, text in (("eng", "Hello"), ("fre", "Bonjour"), ("und", "Hm")):
        (work / f"{lang}.srt").write_text(f"1\n00:00:01,000 --> 00:00:02,000\n{text}\n")
    picture = dvd_subtitle(work / "picture.mkv")
    args: list[str | Path] = ["-i", shared_media / "bigbuckbunny.mp4"]
    args += ["-i", work / "eng.srt", "-i", work / "fre.srt", "-i", picture, "-i", work / "und.srt"]
    args += ["-map", "0:v", *(["-map", "0:a"] * 4), "-map", "1", "-map", "2", "-map", "3", "-map", "4"]
    args += ["-vf", "scale=320:-2", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "copy"]
    args += ["-c:s:0", "subrip", "-c:s:1", "subrip", "-c:s:2", "copy", "-c:s:3", "subrip"]
    args += ["-disposition:a:0", "default", *(x for n in (1, 2, 3) for x in (f"-disposition:a:{n}", "0"))]
    for index, (kind, language, title) in STREAMS.items():
        ordinal = sum(1 for i, s in STREAMS.items() if s[0] == kind and i < index)
        spec = f"s:{kind[0]}:{ordinal}"
        args += [f"-metadata:{spec}", f"language={language or ''}"]
        if title:
            args += [f"-metadata:{spec}", f"title={title}"]
    ffmpeg(*args, out)
    return out
