"""Probing a file in-process with PyAV (never one ffprobe process per file)."""

from __future__ import annotations

from pathlib import Path

import av
from librarrarian_contracts import MediaProbe, StreamInfo
from librarrarian_contracts.enums import StreamKind

from .pixel_format import from_configuration
from .reading import OPTIONS
from .side_data import dolby_vision

# Containers whose header describes every stream (codec, size, duration), by the demuxer that reads them:
# it opens them at once, rather than after every demuxer has guessed at the first bytes.
INDEXED_CONTAINERS = {
    ".mp4": "mov",
    ".m4v": "mov",
    ".mov": "mov",
    ".3gp": "mov",
    ".mkv": "matroska",
    ".webm": "matroska",
}
# Those demuxers' names as FFmpeg reports them when it guesses (a named demuxer reports the name asked for).
_DEMUXER_NAMES = {"mov": "mov,mp4,m4a,3gp,3g2,mj2", "matroska": "matroska,webm"}
# Read the header, not the data: no frame is decoded, and no decoder opened but HEVC's and AV1's. Those
# two read the stream's parameters as they open: the pixel format, and the transfer of an HDR source
# whose container does not say it. Decoding a frame for H.264's pixel format (23 ms for a 4K frame, where
# the whole probe now takes 0.1 ms) and opening the other decoders (H.264's learns nothing until it
# decodes; AAC's builds its transform tables) were most of the probe's time.
HEADER_ONLY = {
    "probesize": "32",
    "analyzeduration": "0",
    "fpsprobesize": "0",
    "skip_frame": "all",
    "codec_whitelist": "hevc,av1,libdav1d,libaom-av1",
}


# The codecs whose Dolby Vision matters to a transcode: a profile 5 base layer (HEVC) is spoiled without it,
# and profiles 8 (HEVC) and 10 (AV1) can keep it. H.264's (profile 9) has an SDR base layer that a re-encode
# keeps; not looking for it spares most of a library (H.264) the description's cost (about 0.1 ms a file, a third of a probe).
DOLBY_VISION_CODECS = {"hevc", "av1"}


class ProbeError(Exception):
    """The file is not a readable video; the message is one line a user can act on."""


def _kind(stream: av.stream.Stream) -> StreamKind:
    kind = stream.type
    return StreamKind(kind) if kind in {"video", "audio", "subtitle", "attachment"} else StreamKind.DATA


def _codec(stream: av.stream.Stream) -> str:
    if stream.type == "attachment":
        return str(getattr(stream, "mimetype", None) or "attachment")
    context = getattr(stream, "codec_context", None)
    codec = getattr(context, "codec", None) if context is not None else None
    # The codec's canonical name ("mp3"), not the decoder's ("mp3float").
    name = getattr(codec, "canonical_name", None) or getattr(context, "name", None)
    return str(name or getattr(stream, "codec_tag", None) or "unknown")


def _picture(stream: av.stream.Stream) -> dict[str, str | None]:
    """Pixel format and transfer characteristic of a video stream, for people to read (nothing decides on
    them). The pixel format is the decoder's when it knows it without a frame decoded, else what the HEVC
    or AV1 configuration record says; None for an H.264 stream opened from its header only. The transfer
    is the container's (or the decoder's, when the file was analysed in full)."""
    if stream.type != "video":
        return {}
    context = stream.codec_context
    pix_fmt = getattr(context, "pix_fmt", None)
    if not pix_fmt and context is not None:
        pix_fmt = from_configuration(_codec(stream), context.extradata, getattr(context, "colorspace", None))
    transfer = getattr(context, "color_trc", None)
    return {
        "pix_fmt": str(pix_fmt) if pix_fmt else None,
        "color_transfer": _TRANSFER_NAMES.get(int(transfer)) if transfer is not None else None,
    }


# AVColorTransferCharacteristic values that matter for HDR (the rest read as SDR).
_TRANSFER_NAMES = {16: "smpte2084", 18: "arib-std-b67"}


def probe(path: Path) -> MediaProbe:
    """Describe the file's streams, and read the first video packet to prove the data is there."""
    try:
        container = _open(path)
    except av.FFmpegError as error:
        raise ProbeError(f"not a readable video: {_reason(error)}") from None
    except OSError as error:
        raise ProbeError(f"cannot open the file: {error.strerror or error}") from None
    with container:
        streams = []
        records = (
            dolby_vision(container)
            if any(_codec(v) in DOLBY_VISION_CODECS for v in container.streams.video)
            else {}
        )
        for stream in container.streams:
            disposition = getattr(stream, "disposition", 0)
            attached = (
                bool(int(disposition) & int(av.stream.Disposition.attached_pic)) if disposition else False
            )
            streams.append(
                StreamInfo(
                    index=stream.index,
                    kind=_kind(stream),
                    codec=_codec(stream),
                    attached_pic=attached,
                    language=stream.metadata.get("language"),
                    width=getattr(stream, "width", None) if stream.type == "video" else None,
                    height=getattr(stream, "height", None) if stream.type == "video" else None,
                    **_picture(stream),
                    dv_profile=records[stream.index].profile if stream.index in records else None,
                    dv_compatibility=records[stream.index].compatibility if stream.index in records else None,
                )
            )
        videos = [s for s in streams if s.kind == "video" and not s.attached_pic]
        duration = container.duration / 1_000_000 if container.duration else None
        main = videos[0] if videos else None
        if main is not None:
            _read_first_packet(container, main.index)
        return MediaProbe(
            container=_DEMUXER_NAMES.get(container.format.name, container.format.name),
            duration=duration,
            video_codec=main.codec if main else None,
            width=main.width if main else None,
            height=main.height if main else None,
            bit_rate=container.bit_rate or None,
            streams=tuple(streams),
        )


def _open(path: Path) -> av.container.InputContainer:
    """Containers with a header that describes every stream open without analysing packets (~10x faster).
    If that header left a video stream undescribed, or the file is not what its name says (or is broken),
    it is opened again with full analysis: that open's error is the one reported. Either way, only as
    ``reading`` allows (a local file, a container demuxer: never a playlist that opens other files)."""
    demuxer = INDEXED_CONTAINERS.get(path.suffix.lower())
    if demuxer is not None:
        try:
            container = av.open(
                str(path),
                format=demuxer,
                metadata_errors="ignore",
                options=HEADER_ONLY,
                container_options=OPTIONS,
            )
        except av.FFmpegError:
            pass
        else:
            if all(s.codec_context.name and s.width and s.height for s in container.streams.video):
                return container
            container.close()
    return av.open(str(path), metadata_errors="ignore", container_options=OPTIONS)


def _read_first_packet(container: av.container.InputContainer, index: int) -> None:
    """The video's data is there: its first packet can be read. (Whether every frame decodes is the
    encoder's verification to tell; decoding here would cost more than the whole probe.)"""
    stream = container.streams[index]
    try:
        for packet in container.demux(stream):
            if packet.size:
                return
    except av.FFmpegError as error:
        raise ProbeError(f"not a readable video: {_reason(error)}") from None
    raise ProbeError("the video stream has no data")


def _reason(error: av.FFmpegError) -> str:
    text = getattr(error, "strerror", None) or str(error)
    return str(text).split(":")[0].strip() if text.count(":") > 2 else str(text).strip()
