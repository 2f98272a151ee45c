"""A video's pixel format read from its codec configuration record (the container's ``hvcC`` or ``av1C``),
so the probe learns it without decoding a frame. Pure: unit-tested on bytes as well as on real clips.

The names are FFmpeg's, as its decoders report them (``yuv420p10le``, ``gray12le``); records of other codecs,
and records that do not parse, give None.
"""

from __future__ import annotations

# chroma_format_idc (HEVC) → FFmpeg's name stem; 4:0:0 is a grey picture.
_CHROMA = {0: "gray", 1: "yuv420p", 2: "yuv422p", 3: "yuv444p"}
# AVColorSpace AVCOL_SPC_RGB: a 4:4:4 picture whose "YUV" planes are G, B, R.
_RGB_MATRIX = 0


def from_configuration(codec: str, extradata: bytes | None, colorspace: int | None = None) -> str | None:
    """The pixel format an HEVC or AV1 stream decodes to, from its configuration record; None for other
    codecs, or for a record that is missing, truncated or in another form (Annex B start codes, bare
    OBUs)."""
    if not extradata:
        return None
    if codec == "hevc":
        return _hevc(extradata, colorspace)
    if codec == "av1":
        return _av1(extradata)
    return None


def _hevc(record: bytes, colorspace: int | None) -> str | None:
    """HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 §8.3.3.1.2): byte 16 ends with the 2-bit
    chroma_format_idc, byte 17 with the 3-bit bit_depth_luma_minus8. FFmpeg takes extradata whose first
    three bytes are 0 0 0/1 for Annex B parameter sets, not a record; so does this."""
    if len(record) < 23 or (record[0] == 0 and record[1] == 0 and record[2] <= 1):
        return None
    chroma = record[16] & 0b11
    depth = 8 + (record[17] & 0b111)
    if depth not in (8, 9, 10, 12):  # the depths FFmpeg's HEVC decoder maps to a pixel format
        return None
    stem = _CHROMA[chroma]
    if chroma == 3 and colorspace == _RGB_MATRIX and depth != 9:
        stem = "gbrp"  # as the decoder does when the matrix says RGB
    return _name(stem, depth)


def _av1(record: bytes) -> str | None:
    """AV1CodecConfigurationRecord (AV1-ISOBMFF §2.3.3): byte 0 is marker 1 and version 1 (0x81); byte 1
    starts with the 3-bit seq_profile; byte 2 holds, from the top bit, seq_tier_0, high_bitdepth,
    twelve_bit, mono_chrome, chroma_subsampling_x, chroma_subsampling_y. Bit depth as FFmpeg's AV1
    decoders read it: twelve_bit counts only in the professional profile (2)."""
    if len(record) < 4 or record[0] != 0x81:
        return None
    profile = record[1] >> 5
    flags = record[2]
    high_bitdepth, twelve_bit = bool(flags & 0x40), bool(flags & 0x20)
    mono, x, y = bool(flags & 0x10), bool(flags & 0x08), bool(flags & 0x04)
    if profile > 2:
        return None
    depth = (12 if twelve_bit else 10) if high_bitdepth and profile == 2 else 10 if high_bitdepth else 8
    if mono:
        return _name("gray", depth)
    if x and y:
        return _name("yuv420p", depth)
    if x:
        return _name("yuv422p", depth)
    if not y:
        return _name("yuv444p", depth)
    return None  # subsampled vertically only: not a layout AV1 allows


def _name(stem: str, depth: int) -> str:
    return stem if depth == 8 else f"{stem}{depth}le"
