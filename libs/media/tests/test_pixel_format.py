"""Pixel formats from configuration records built byte by byte: the layouts the clips do not cover."""

from __future__ import annotations

import pytest
from librarrarian_media.pixel_format import from_configuration


def hvcc(chroma: int, depth: int) -> bytes:
    """An HEVCDecoderConfigurationRecord's fixed 23 bytes (no parameter set arrays)."""
    record = bytearray(23)
    record[0] = 1  # configurationVersion
    record[16] = 0b1111_1100 | chroma
    record[17] = 0b1111_1000 | (depth - 8)
    record[18] = 0b1111_1000 | (depth - 8)
    return bytes(record)


def av1c(profile: int, high_bitdepth: bool, twelve_bit: bool, mono: bool, x: bool, y: bool) -> bytes:
    flags = high_bitdepth << 6 | twelve_bit << 5 | mono << 4 | x << 3 | y << 2
    return bytes([0x81, profile << 5 | 8, flags, 0])


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (hvcc(1, 8), "yuv420p"),
        (hvcc(1, 10), "yuv420p10le"),
        (hvcc(2, 10), "yuv422p10le"),
        (hvcc(3, 12), "yuv444p12le"),
        (hvcc(0, 8), "gray"),
        (hvcc(0, 12), "gray12le"),
        (hvcc(1, 9), "yuv420p9le"),
        (hvcc(1, 11), None),  # a depth no decoder maps
    ],
)
def test_hevc(record: bytes, expected: str | None) -> None:
    assert from_configuration("hevc", record) == expected


def test_hevc_444_with_an_rgb_matrix_is_gbr() -> None:
    assert from_configuration("hevc", hvcc(3, 10), colorspace=0) == "gbrp10le"
    assert from_configuration("hevc", hvcc(3, 10), colorspace=1) == "yuv444p10le"


@pytest.mark.parametrize(
    "record",
    [
        bytes([0, 0, 0, 1, 0x40, 0x01]) + bytes(30),  # Annex B parameter sets (MPEG-TS, raw .hevc)
        bytes([0, 0, 1, 0x40, 0x01]) + bytes(30),
        hvcc(1, 10)[:20],  # truncated
        b"",
    ],
)
def test_hevc_extradata_that_is_not_a_record(record: bytes) -> None:
    assert from_configuration("hevc", record) is None


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (av1c(0, False, False, False, True, True), "yuv420p"),
        (av1c(0, True, False, False, True, True), "yuv420p10le"),
        (av1c(0, True, False, True, True, True), "gray10le"),
        (av1c(1, True, False, False, False, False), "yuv444p10le"),
        (av1c(2, True, True, False, False, False), "yuv444p12le"),
        (av1c(2, True, True, False, True, False), "yuv422p12le"),
        (av1c(2, True, False, False, True, True), "yuv420p10le"),
        # twelve_bit counts only in the professional profile, as FFmpeg reads it.
        (av1c(0, True, True, False, True, True), "yuv420p10le"),
        (av1c(3, False, False, False, True, True), None),  # no such profile
    ],
)
def test_av1(record: bytes, expected: str | None) -> None:
    assert from_configuration("av1", record) == expected


def test_av1_extradata_that_is_not_a_record() -> None:
    sequence_header_obu = bytes([0x0A, 0x0B, 0x00, 0x00, 0x00])
    assert from_configuration("av1", sequence_header_obu) is None
    assert from_configuration("av1", bytes([0x81, 0, 0])) is None


def test_other_codecs_say_nothing() -> None:
    avcc = bytes.fromhex("0164000dffe10019")
    assert from_configuration("h264", avcc) is None
    assert from_configuration("vp9", None) is None
