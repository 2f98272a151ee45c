"""Is the output safe to replace the original with? (architecture §3.4)"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import av
from librarrarian_contracts import MediaProbe, tracks
from librarrarian_media import reading

KINDS = ("video", "audio", "subtitle", "attachment")
SAMPLE_POINTS = (0.05, 0.5, 0.9)
FRAMES_PER_SAMPLE = 3


class VerifyError(Exception):
    """The output is not a faithful copy; the message says how."""


@dataclass(frozen=True)
class Verified:
    size: int
    duration: float | None
    video_codec: str


def planned_counts(probe: MediaProbe, output_suffix: str) -> Counter[str]:
    counts = Counter(str(s.kind) for s in probe.streams if s.kind in KINDS)
    if output_suffix.lower() != ".mkv":
        counts["attachment"] = 0  # only Matroska carries attachments; the argv maps none elsewhere
    return counts


def verify(
    output: Path | str,
    source: MediaProbe,
    *,
    full: bool = False,
    codec: str = "hevc",
    suffix: str | None = None,
    languages: bool = False,
) -> Verified:
    """``output`` is a path libav opens (an open output's ``reading.descriptor_path``, or a file); its
    container is told by ``suffix``, by default the path's own. ``source`` is the output as planned (a track
    plan's streams only); with ``languages`` (a job with a track plan) its audio and subtitle languages are
    checked too."""
    suffix = Path(output).suffix if suffix is None else suffix
    try:
        container = av.open(str(output), container_options=reading.OPTIONS)
    except av.FFmpegError as error:
        raise VerifyError(f"the output cannot be opened: {error}") from None
    with container:
        got: Counter[str] = Counter(str(s.type) for s in container.streams if s.type in KINDS)
        want = planned_counts(source, suffix)
        for kind in KINDS:
            if got[kind] != want[kind]:
                raise VerifyError(f"the output has {got[kind]} {kind} stream(s), the plan {want[kind]}")
        if languages:
            _same_languages(container, source)
        videos = [
            s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic
        ]
        if not videos:
            raise VerifyError("the output has no video stream")
        found = videos[0].codec_context.codec.canonical_name  # "av1", not the decoder's "libdav1d"
        if found != codec:
            raise VerifyError(f"the output's video is {found}, not {codec}")
        duration = container.duration / 1_000_000 if container.duration else None
        if source.duration and duration is not None:
            tolerance = max(0.5, 0.001 * source.duration)
            if abs(duration - source.duration) > tolerance:
                raise VerifyError(f"the output lasts {duration:.2f} s, the original {source.duration:.2f} s")
        elif source.duration:
            raise VerifyError("the output has no duration")
        _decode(container, videos[0], duration, full)
    return Verified(size=os.stat(output).st_size, duration=duration, video_codec=found)


def _same_languages(container: av.container.InputContainer, planned: MediaProbe) -> None:
    """The output's audio and subtitle streams are the planned ones: same languages, in the same order (a
    track plan keeps some languages; a stream mapped in the wrong place would pass a count)."""
    for kind in ("audio", "subtitle"):
        got = [_language(s.metadata.get("language")) for s in container.streams if s.type == kind]
        want = [_language(s.language) for s in planned.streams if s.kind == kind]
        if got != want:
            raise VerifyError(f"the output's {kind} languages are {got}, the plan's {want}")


def _language(code: str | None) -> str:
    # Matroska writes "und" for a stream without a language; MP4 may too.
    return tracks.language(code) or "und"


def _decode(
    container: av.container.InputContainer, stream: av.VideoStream, duration: float | None, full: bool
) -> None:
    try:
        if full or not duration:
            frames = sum(1 for _ in container.decode(stream))
            if frames == 0:
                raise VerifyError("the output's video has no decodable frame")
            return
        for point in SAMPLE_POINTS:
            container.seek(int(point * duration * 1_000_000), backward=True, any_frame=False)
            decoded = 0
            for _ in container.decode(stream):
                decoded += 1
                if decoded >= FRAMES_PER_SAMPLE:
                    break
            if decoded == 0:
                raise VerifyError(f"nothing decodes at {point:.0%} of the output")
    except av.FFmpegError as error:
        raise VerifyError(f"the output does not decode: {error}") from None
