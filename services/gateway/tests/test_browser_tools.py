"""The Tools page in a real browser, with a real scanner: a forced scan followed live to its end, a long
scan cancelled from its row, and the settings exported and imported (a bad file changes nothing)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from librarrarian_scanner import service as scanner
from librarrarian_scanner.settings import Settings as ScannerSettings
from playwright.async_api import Browser, expect

from .browsing import WAIT_MS, logged_in, snap
from .sites import Site

CLIPS = 30_000  # hard links: enough to be still probing (~3,000 files/s) when Cancel is clicked


@pytest.fixture
async def library_scanner(
    site: Site, nats_url: str, database_url: str, tmp_path: Path, shared_media: Path
) -> AsyncIterator[Path]:
    """A scanner on the gateway's media path, which holds many hard links of a real clip."""
    root = site.media / "Library"
    clip = shutil.copy(
        shared_media / "bikes.mp4", tmp_path / ".clip.mp4"
    )  # links on our own copy, our own disk
    for i in range(CLIPS):
        folder = root / f"Show {i // 500:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        os.link(clip, folder / f"Episode {i:05d}.mp4")
    settings = ScannerSettings(
        nats_url=nats_url,
        database_url=database_url,
        media_paths=(site.media,),
        scan_on_start=False,
        scan_interval_seconds=0,
        watch=False,
    )
    stopping = asyncio.Event()
    task = asyncio.create_task(scanner.run(settings, stopping))
    yield root
    stopping.set()
    await asyncio.wait_for(task, 60)


async def test_scans_are_started_followed_live_and_cancelled(
    browser: Browser, site: Site, library_scanner: Path
) -> None:
    page = await logged_in(browser, site, "/tools")
    await expect(page.locator("#live")).to_have_attribute("data-state", "open", timeout=WAIT_MS)
    await page.evaluate("window.stillTheSamePage = true")

    # A scan of one show, forced: it appears and runs to its end without a reload.
    await page.get_by_label("Folder").fill(str(library_scanner / "Show 00"))
    await page.get_by_label("Force (probe every file again)").check()
    await page.get_by_role("button", name="Scan", exact=True).click()
    await expect(page.locator("#scan-form .message")).to_have_text("Scan requested.")
    first = page.locator("#scans tbody tr").first
    await expect(first.locator("td").nth(1)).to_have_text("request")
    await expect(first.locator("td").nth(3)).to_have_text("done (force)", timeout=60_000)
    await expect(first.locator("td").nth(4)).to_have_text("500")

    # Every folder: a long scan, cancelled from its row while it probes.
    await page.get_by_label("Folder").fill("")
    await page.get_by_label("Force (probe every file again)").uncheck()
    await page.get_by_role("button", name="Scan", exact=True).click()
    running = page.locator("#scans tbody tr").first
    await expect(running.locator("td").nth(3)).to_have_text("probing", timeout=60_000)  # not "(force)"
    await running.get_by_role("button", name="Cancel").click()
    await expect(running.locator("td").nth(3)).to_have_text("cancelled", timeout=60_000)
    probed = int((await running.locator("td").nth(5).inner_text()).split(" / ")[0])
    assert probed < CLIPS  # it stopped before the end
    await snap(page, "tools")
    assert await page.evaluate("window.stillTheSamePage") is True

    # Outside the media paths: refused, with the reason.
    await page.get_by_label("Folder").fill("/etc")
    await page.get_by_role("button", name="Scan", exact=True).click()
    await expect(page.locator("#scan-form .message")).to_contain_text("outside the media paths")


async def test_settings_are_exported_and_imported_and_a_bad_file_changes_nothing(
    browser: Browser, site: Site, tmp_path: Path
) -> None:
    async with site.client() as api:
        exported = (await api.get("/api/v1/settings/export")).json()
        every = {"transcode", "scanner.folders", "paths", "ui", "notifications", "scanner.timing", "cleanup"}
        seeded = {"scheduler.retries", "scheduler.order", "streaming"}
        assert set(exported["settings"]) == every | seeded  # no node has started
        assert exported["settings"]["transcode"]["target_codec"] == "hevc"

        page = await logged_in(browser, site, "/tools")
        async with page.expect_download() as download:
            await page.get_by_role("link", name="Export settings").click()
        saved = tmp_path / "export.json"
        await (await download.value).save_as(saved)
        assert json.loads(saved.read_text())["settings"] == exported["settings"]

        changed = {
            **exported,
            "settings": {"transcode": {**exported["settings"]["transcode"], "target_codec": "av1"}},
        }
        good = tmp_path / "good.json"
        good.write_text(json.dumps(changed))
        await page.locator("#import-file").set_input_files(good)
        await expect(page.locator("#import-message")).to_have_text("Imported: transcode", timeout=WAIT_MS)
        assert (await api.get("/api/v1/settings/transcode")).json()["target_codec"] == "av1"

        broken = {
            **changed,
            "settings": {"transcode": {"target_codec": "mpeg2"}, "scanner.folders": {"folders": []}},
        }
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps(broken))
        await page.locator("#import-file").set_input_files(bad)
        await expect(page.locator("#import-message")).to_contain_text(
            "Nothing changed: transcode", timeout=WAIT_MS
        )
        assert (await api.get("/api/v1/settings/transcode")).json()["target_codec"] == "av1"
        unknown = await api.post("/api/v1/settings/import", json={"format": 1, "settings": {"colour": {}}})
        assert unknown.status_code == 422
        # The path mappings go through the same checks as their own route: a relative local path is refused.
        relative = {"mappings": [{"server": "/media", "local": "mnt/nas"}]}
        refused = await api.post(
            "/api/v1/settings/import", json={"format": 1, "settings": {"paths": relative}}
        )
        assert refused.status_code == 422 and "must be absolute" in refused.json()["detail"]
        mapped = {"mappings": [{"server": "/media", "local": "/mnt/nas", "node": "box"}]}
        moved = await api.post(
            "/api/v1/settings/import",
            json={"format": 1, "settings": {"paths": mapped, "ui": {"theme": "dark"}}},
        )
        assert moved.json() == {"imported": ["paths", "ui"]}
        assert (await api.get("/api/v1/settings/paths")).json()["mappings"] == mapped["mappings"]
        assert (await api.get("/api/v1/settings/ui")).json()["theme"] == "dark"
    async with site.client(key=None) as anonymous:
        assert (await anonymous.get("/api/v1/settings/export")).status_code == 401
