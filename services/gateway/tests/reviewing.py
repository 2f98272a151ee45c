"""A reviewed library folder with the real cluster behind the gateway (scheduler, history and an encoder on
real clips, real ffmpeg): each clip's transcode ends ready to replace, its output waiting beside it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import msgspec
from librarrarian_contracts import FileIdentity, MediaProbed, publish, topology
from librarrarian_contracts.settings import FOLDERS_KEY, LibraryFolder, ScannerFolders
from librarrarian_encoder import service as encoder
from librarrarian_encoder.settings import Settings as EncoderSettings
from librarrarian_media import probe
from librarrarian_testing import eventually, library, transcode
from nats.js import JetStreamContext

from .sites import Site

CLIPS = ("bigbuckbunny.mp4", "bikes.mp4")


@dataclass
class Waiting:
    """One clip whose output waits for review: the job, its original's path and checksum, the output."""

    job: dict[str, object]
    original: Path
    digest: str
    output: Path


def scanned(path: Path, library_folder: Path) -> MediaProbed:
    st = os.stat(path)
    identity = FileIdentity(size=st.st_size, mtime_ns=st.st_mtime_ns, inode=st.st_ino, links=st.st_nlink)
    return MediaProbed(path=str(path), identity=identity, probe=probe(path), library=str(library_folder))


def reviewed_folder(media: Path) -> Path:
    return (media / "Movies").resolve()


async def review_before_start(js: JetStreamContext, media: Path) -> None:
    """The reviewed folder set before the scheduler starts (as the Options page saves it), so that it
    decides every job of the test with it; the API shows it afterwards."""
    folder = reviewed_folder(media)
    folder.mkdir(parents=True, exist_ok=True)
    kv = await js.key_value(topology.SETTINGS.name)
    value = ScannerFolders(folders=(LibraryFolder(path=str(folder), review=True),))
    await kv.put(FOLDERS_KEY, msgspec.json.encode(value))


@contextlib.asynccontextmanager
async def reviewed_library(site: Site, shared_media: Path) -> AsyncIterator[dict[str, Waiting]]:
    """Both clips in the reviewed folder (``review_before_start``), transcoded by a real encoder; yields each
    once its output waits (by clip name), the encoder running until the block ends."""
    folder = reviewed_folder(site.media)
    async with site.client() as api:
        shown = (await api.get("/api/v1/settings/folders")).json()
        assert shown["folders"] == [
            {"path": str(folder), "type": "mixed", "tracks": None, "priority": 0, "review": True}
        ]
    await transcode.put(site.js, transcode.fastest(max_output_percent=1000, measure_vmaf=True))
    stopping = asyncio.Event()
    node = EncoderSettings(
        nats_url=site.settings.nats_url, media_paths=(site.media.resolve(),), node="reviewer"
    )
    task = asyncio.create_task(encoder.run(node, stopping))
    try:
        originals = {}
        for name in CLIPS:
            original = folder / name
            shutil.copyfile(shared_media / name, original)
            originals[name] = original
        async with site.client() as api:
            for original in originals.values():
                await publish(site.js, scanned(original, folder))

            async def ready() -> dict[str, Waiting] | None:
                page = (await api.get("/api/v1/jobs", params={"status": "ready_to_replace"})).json()
                jobs = {Path(str(j["path"])).name: j for j in page["items"]}
                if set(jobs) != set(CLIPS):
                    return None
                return {
                    name: Waiting(
                        job=job,
                        original=originals[name],
                        digest=library.sha256(originals[name]),
                        output=Path(str(job["output_path"])),
                    )
                    for name, job in jobs.items()
                }

            waiting = await eventually(ready, timeout=240, message="both outputs waiting for review")
        yield waiting
    finally:
        stopping.set()
        await asyncio.wait_for(task, 60)
