"""Every file of the test's library ends as the cluster promises (the end-to-end test's expectations, read
from the host's side of the media mount): three transcoded to HEVC and replaced, the HEVC one skipped, the
corrupt one failed with a reason, the clutter and the untouched files byte-identical, no temporary left."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
from librarrarian_testing import library

EXPECTED = {
    "Big Buck Bunny.mp4": "done",
    "Bikes S01E01.mkv": "done",
    "Bikes S01E02.avi": "done",
    "Already HEVC.mkv": "skipped",
    "Broken.mp4": "failed",
}
MOUNT = "/media"  # where the compose file mounts MEDIA_DIR


def on_host(path: str, media: Path) -> Path:
    return media / Path(path).relative_to(MOUNT)


def video_codec(path: Path) -> str:
    with av.open(str(path)) as container:
        return str(container.streams.video[0].codec_context.name)


def problems(jobs: list[dict[str, Any]], lib: library.Library) -> list[str]:
    found = []
    by_name = {Path(str(j["path"])).name: j for j in jobs}
    statuses = {name: j["status"] for name, j in by_name.items()}
    if statuses != EXPECTED or len(jobs) != len(EXPECTED):
        found.append(f"jobs {statuses}, expected {EXPECTED}")
    for name, job in by_name.items():
        if job["status"] == "done":
            output = on_host(str(job.get("output_path") or job["path"]), lib.root)
            if not output.is_file() or video_codec(output) != "hevc":
                found.append(f"{name}: no HEVC output at {output}")
        elif job["status"] == "failed" and not job.get("reason"):
            found.append(f"{name}: failed without a reason")
    avi = lib.transcode["avi"]
    if avi.exists():
        found.append(f"{avi}: the AVI original should have been replaced by its MKV")
    for path, digest in lib.checksums.items():
        if not path.exists() or library.sha256(path) != digest:
            found.append(f"{path}: changed, but it should be untouched")
    found += [f"left behind: {p}" for p in lib.root.rglob(".tmp_librarrarian*")]
    return found
