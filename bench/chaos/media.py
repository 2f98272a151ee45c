"""The runs' files: copies of the shared clips, each a distinct content (a stream copy with the run in its
metadata, so none is taken for a copy of another), moved into the library whole; the bad inputs the
library holds from the start; and what the invariants need to know of a file (checksum, probe)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from librarrarian_media.probe import ProbeError, probe
from librarrarian_testing.clips import ffmpeg, truncated_copy

from .invariants import Facts

# The AES key and key id of the encrypted input (Common Encryption): nothing secret, a test vector.
CENC_KEY = "76a6c65c5ea762046bd749a2e632ccbb"
CENC_KID = "a7e61c373e219033c21091fa607bf3b8"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def facts(path: Path) -> Facts | None:
    try:
        result = probe(path)
    except ProbeError:
        return None
    kinds: dict[str, int] = {}
    for stream in result.streams:
        kinds[stream.kind] = kinds.get(stream.kind, 0) + 1
    return Facts(result.video_codec, result.duration or 0.0, tuple(sorted(kinds.items())))


def batch(shared: Path, staging: Path, library: Path, tag: str) -> list[Path]:
    """Two new videos for one run (720p H.264 + AAC in MP4; H.264 in MKV), made beside the library and
    moved in whole, so the scanner never sees one half-written."""
    folder = staging / tag
    folder.mkdir(parents=True, exist_ok=True)
    made = [folder / f"Bunny {tag}.mp4", folder / f"Bikes {tag}.mkv"]
    ffmpeg("-i", shared / "bigbuckbunny.mp4", "-c", "copy", "-metadata", f"comment={tag}", made[0])
    ffmpeg("-t", "6", "-i", shared / "bikes.mp4", "-c", "copy", "-metadata", f"comment={tag}", made[1])
    target = library / tag
    os.rename(folder, target)
    return [target / p.name for p in made]


def bad_inputs(shared: Path, folder: Path) -> list[Path]:
    """Corrupt (a zeroed middle), truncated, zero-byte and encrypted inputs: each must be left as it is."""
    folder.mkdir(parents=True, exist_ok=True)
    bunny = shared / "bigbuckbunny.mp4"
    corrupt = folder / "Corrupt.mp4"
    data = bytearray(bunny.read_bytes())
    middle = len(data) // 2
    data[middle - 100_000 : middle + 100_000] = bytes(200_000)
    corrupt.write_bytes(bytes(data))
    truncated = truncated_copy(bunny, folder / "Truncated.mp4", keep_bytes=300_000)
    empty = folder / "Empty.mkv"
    empty.write_bytes(b"")
    encrypted = folder / "Encrypted.mp4"
    ffmpeg(
        "-i", bunny, "-c", "copy", "-encryption_scheme", "cenc-aes-ctr",
        "-encryption_key", CENC_KEY, "-encryption_kid", CENC_KID, encrypted,
    )  # fmt: skip
    return [corrupt, truncated, empty, encrypted]
