"""Approval jobs in a real browser, with the real cleanup service and scheduler: stale files found from the
Tools page wait in the queue, one is released from its row and the rest with "Release all", and each row
follows its job to the end live, while the user's video beside them stays."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from librarrarian_cleanup import service as cleanup
from librarrarian_cleanup.settings import Settings as CleanupSettings
from librarrarian_testing import eventually
from playwright.async_api import Browser, expect

from .browsing import WAIT_MS, logged_in, snap
from .sites import Site

DAYS = 3 * 86_400


@pytest.fixture
async def stale_files(site: Site, nats_url: str) -> AsyncIterator[list[Path]]:
    """Two stale files beside a video under the gateway's media path, and a cleanup service for them."""
    folder = site.media / "Movies" / "Film (2020)"
    folder.mkdir(parents=True)
    (folder / "Film (2020).mkv").write_bytes(b"the user's film")
    stale = [folder / ".tmp_librarrarian-Film (2020).mkv", folder / "Film (2020).mkv.lock"]
    for path in stale:
        path.write_bytes(b"left behind")
        os.utime(path, (time.time() - DAYS, time.time() - DAYS))
    settings = CleanupSettings(nats_url=nats_url, media_paths=(site.media,), node="tidy", interval_hours=0)
    stopping = asyncio.Event()
    task = asyncio.create_task(cleanup.run(settings, stopping))
    yield stale
    stopping.set()
    await asyncio.wait_for(task, 30)


async def test_stale_files_are_found_then_released_from_the_queue(
    browser: Browser, site: Site, stale_files: list[Path]
) -> None:
    page = await logged_in(browser, site, "/tools")
    await expect(page.locator("#live")).to_have_attribute("data-state", "open", timeout=WAIT_MS)
    await page.get_by_role("button", name="Find stale files").click()
    message = page.locator("#cleanup-message")
    await expect(message).to_contain_text("Found 2 stale file(s), 22 B.", timeout=WAIT_MS)
    await snap(page, "tools-stale-files")
    await message.get_by_role("link", name="Review them in the queue").click()

    await expect(page).to_have_url(f"{site.url}/queue?kind=cleanup&status=awaiting_approval")
    rows = page.locator("#jobs tr[data-job]")
    await expect(rows).to_have_count(2, timeout=WAIT_MS)
    assert all(path.exists() for path in stale_files)  # found is not approved
    await page.evaluate("window.stillTheSamePage = true")
    await snap(page, "queue-awaiting-approval")

    lock = rows.filter(has_text="Film (2020).mkv.lock")
    await lock.get_by_role("button", name="Release").click()
    # Released, then removed by the cleanup service: the row follows live.
    await expect(lock.locator(".status")).to_have_text("done", timeout=WAIT_MS)
    assert not stale_files[1].exists() and stale_files[0].exists()

    page.on("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name="Release all awaiting cleanup jobs").click()
    temporary = rows.filter(has_text=".tmp_librarrarian-Film (2020).mkv")
    await expect(temporary.locator(".status")).to_have_text("done", timeout=WAIT_MS)
    assert not stale_files[0].exists()
    assert (stale_files[0].parent / "Film (2020).mkv").read_bytes() == b"the user's film"
    assert await page.evaluate("window.stillTheSamePage") is True

    async with site.client() as api:

        async def recorded() -> list[dict[str, object]]:
            jobs: list[dict[str, object]] = (
                await api.get("/api/v1/jobs", params={"kind": "cleanup"})
            ).json()["items"]
            return jobs if all((j["status"], j["node"]) == ("done", "tidy") for j in jobs) else []

        # The page hears the outcome as it happens; the scheduler records it a moment later.
        jobs = await eventually(recorded, message="both jobs recorded done")
        assert len(jobs) == 2
        again = await api.post(f"/api/v1/jobs/{jobs[0]['id']}/release")
        assert again.status_code == 409 and "not awaiting approval" in again.json()["detail"]
