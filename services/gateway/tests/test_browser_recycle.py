"""The recycle folder in a real browser, with the real cleanup service and history: a transcoded file whose
original was kept shows a Restore button on the History page, with the space the recycle folder holds; one
click puts the original back under its name and the output goes."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path, PurePosixPath

import pytest
from librarrarian_cleanup import service as cleanup
from librarrarian_cleanup.settings import Settings as CleanupSettings
from librarrarian_contracts import FileIdentity, publish
from librarrarian_runtime import recycle
from librarrarian_testing import eventually
from playwright.async_api import Browser, expect

from .browsing import WAIT_MS, logged_in, snap
from .seeds import completed
from .sites import Site

JOB = 41
ORIGINAL = b"the original film, as the user had it"
OUTPUT = b"the transcoded film"


def transcoded_keeping_the_original(root: Path, film: Path) -> None:
    """What an encoder does with the recycle folder on: the original gets its second name in the recycle
    folder, then the output is renamed over it."""
    film.write_bytes(ORIGINAL)
    temp = film.with_name(".tmp_librarrarian-output.mkv")
    temp.write_bytes(OUTPUT)
    out = os.stat(temp)
    folder = os.open(film.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        recycle.keep(
            root,
            folder,
            film.name,
            os.stat(film),
            job_id=JOB,
            path=str(film),
            relative=PurePosixPath(film.relative_to(root)),
            final=film.name,
            output=FileIdentity(size=out.st_size, mtime_ns=out.st_mtime_ns, inode=out.st_ino),
        )
    finally:
        os.close(folder)
    os.rename(temp, film)


@pytest.fixture
async def kept_original(site: Site, nats_url: str) -> AsyncIterator[Path]:
    root = site.media
    (root / "Movies").mkdir(parents=True, exist_ok=True)
    film = root / "Movies" / "Film (2020).mkv"
    transcoded_keeping_the_original(root, film)
    settings = CleanupSettings(nats_url=nats_url, media_paths=(root,), node="tidy", interval_hours=0)
    stopping = asyncio.Event()
    task = asyncio.create_task(cleanup.run(settings, stopping))
    await publish(site.js, completed(job_id=JOB, path=str(film)))
    async with site.client() as api:

        async def ready() -> bool:
            history = (await api.get("/api/v1/history")).json()["items"]
            kept = await api.get("/api/v1/recycle")
            return bool(history) and kept.status_code == 200 and len(kept.json()["originals"]) == 1

        await eventually(
            ready, timeout=30, message="history recorded the job and the cleanup lists its original"
        )
    yield film
    stopping.set()
    await asyncio.wait_for(task, 30)


async def test_one_click_restores_the_original(browser: Browser, site: Site, kept_original: Path) -> None:
    async with site.client() as api:
        held = (await api.get("/api/v1/recycle")).json()
    assert held["bytes_held"] == len(ORIGINAL)
    assert held["originals"][0]["job_id"] == JOB

    page = await logged_in(browser, site, "/history")
    await expect(page.locator("#recycle-held")).to_contain_text("1 original(s)", timeout=WAIT_MS)
    row = page.locator("#history tbody tr").filter(has_text="Film (2020).mkv")
    await snap(page, "history-recycle")
    await row.get_by_role("button", name="Restore").click()
    await expect(row.locator(".restored")).to_have_text("Restored", timeout=WAIT_MS)
    await expect(page.locator("#recycle-message")).to_contain_text("Restored", timeout=WAIT_MS)

    assert await asyncio.to_thread(kept_original.read_bytes) == ORIGINAL
    assert os.listdir(site.media / recycle.FOLDER) == []
    async with site.client() as api:
        after = (await api.get("/api/v1/recycle")).json()
        assert (after["originals"], after["bytes_held"]) == ([], 0)
        again = await api.post(f"/api/v1/recycle/{JOB}/restore")
        assert again.status_code == 404  # nothing kept any more
