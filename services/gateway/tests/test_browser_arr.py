"""Sonarr in a real browser, against the real arr service and scheduler and a fake Sonarr (answering from its
OpenAPI document) over real files: its Options section (saved, tested with a wrong key then the right one,
the key never shown again, the webhook key shown once with the URLs to paste), a rename released from the
queue that the app carries out on disk, a file below its quality cutoff shown with its held transcode and
released, and scans from the Tools page followed to their end or cancelled."""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from librarrarian_arr import service as arr_service
from librarrarian_arr.settings import Settings as ArrSettings
from librarrarian_contracts import ArrApp, QualityMismatchFound, publish
from librarrarian_runtime.outbound import PrivateServers
from librarrarian_testing import eventually
from librarrarian_testing.media_servers import FakeArr, FakeFile, FakeItem, serving
from playwright.async_api import Browser, expect

from .browsing import WAIT_MS, logged_in, snap
from .seeds import HEAT, queue_file
from .sites import Site


@dataclass
class Sonarr:
    fake: FakeArr
    url: str
    series: FakeItem

    def path(self, relative: str) -> Path:
        return self.fake.local(self.series, relative)


def library(tv: Path, shared_media: Path, episodes: int = 2) -> FakeItem:
    """One series of real clips, named as a download named them; the app would name each otherwise."""
    season = tv / "Bikes" / "Season 01"
    season.mkdir(parents=True)
    files = []
    for n in range(1, episodes + 1):
        shutil.copyfile(shared_media / "bikes.mp4", season / f"bikes.s01e{n:02d}.x264.mp4")
        files.append(
            FakeFile(
                id=70 + n,
                relative=f"Season 01/bikes.s01e{n:02d}.x264.mp4",
                desired=f"Season 01/Bikes - S01E{n:02d} - Part {n} [HDTV-720p].mp4",
                quality="HDTV-720p",
            )
        )
    return FakeItem(id=7, title="Bikes", folder="Bikes", files=files)


@pytest.fixture
async def sonarr(site: Site, nats_url: str, database_url: str, shared_media: Path) -> AsyncIterator[Sonarr]:
    """A fake Sonarr whose /tv is the gateway's TV folder, and the arr service on the site's NATS and database."""
    tv = site.media / "TV"
    series = library(tv, shared_media)
    fake = FakeArr(kind="sonarr", root="/tv", local_root=tv, items=[series])
    settings = ArrSettings(
        nats_url=nats_url,
        database_url=database_url,
        media_paths=(site.media,),
        node="arr-browser",
        private_servers=PrivateServers.ALL,  # the fake app listens on loopback
        timeout_seconds=3.0,
        command_timeout_seconds=20.0,
        scan_interval_seconds=0,
    )
    stopping = asyncio.Event()
    task = asyncio.create_task(arr_service.run(settings, stopping))

    async def answering() -> bool:
        assert not task.done(), task
        async with site.client(timeout=30) as api:
            return (await api.get("/api/v1/arr")).status_code == 200

    try:
        async with serving(fake.build()) as url:
            await eventually(answering, timeout=30, message="arr service answering")
            yield Sonarr(fake, url, series)
        assert fake.rejected == []
    finally:
        stopping.set()
        await asyncio.wait_for(task, 30)


async def set_up(site: Site, sonarr: Sonarr, **options: object) -> None:
    body = {
        "url": sonarr.url,
        "api_key": sonarr.fake.api_key,
        "mappings": [{"server": "/tv", "local": str(site.media / "TV")}],
        **options,
    }
    async with site.client() as api:
        assert (await api.put("/api/v1/arr/sonarr", json=body)).status_code == 200


async def on_disk(*paths: Path) -> list[bool]:
    return await asyncio.to_thread(lambda: [p.exists() for p in paths])


async def test_the_options_section_saves_tests_and_never_shows_the_key(
    browser: Browser, site: Site, sonarr: Sonarr
) -> None:
    page = await logged_in(browser, site, "/options")
    section = page.locator("#arr-sonarr")
    await expect(section.locator("[data-role=summary]")).to_have_text("not configured")
    await section.get_by_label("Enabled").check()
    await section.get_by_label("URL").fill(sonarr.url)
    await section.get_by_label("API key").fill("not-the-key")
    await section.get_by_role("button", name="Add a mapping").click()
    await section.get_by_label("Folder in the app").fill("/tv")
    await section.get_by_label("Same folder here").fill(str(site.media / "TV"))
    await section.get_by_label("Rename after a transcode").check()

    # A wrong key: saved (the test tries what is saved), and the app's refusal said in words.
    await section.get_by_role("button", name="Test connection").click()
    await expect(section.locator("[data-role=problem]")).to_contain_text(
        "Not connected: the app refused the API key", timeout=WAIT_MS
    )
    # The right one: the app's name and version; the field is emptied and the key kept.
    await section.get_by_label("API key").fill(sonarr.fake.api_key)
    await section.get_by_role("button", name="Test connection").click()
    await expect(section.locator("[data-role=message]")).to_have_text(
        f"Connected to Sonarr {sonarr.fake.version}.", timeout=WAIT_MS
    )
    await expect(section.locator("[data-role=problem]")).to_be_hidden()
    await expect(section.get_by_label("API key")).to_have_value("")
    await expect(section.locator("[data-role=summary]")).to_have_text("enabled")

    # Saved as shown; after a reload, still no key anywhere in the page, and the test still passes.
    await expect(section.get_by_label("TLS certificate")).to_have_value("")  # ARR_SSL_VERIFY decides
    await section.get_by_label("Mode").select_option("automatic")
    await section.get_by_label("TLS certificate").select_option("false")
    await section.get_by_role("button", name="Save Sonarr").click()
    await expect(section.locator("[data-role=message]")).to_have_text("Saved.", timeout=WAIT_MS)
    async with site.client() as api:
        stored = next(a for a in (await api.get("/api/v1/arr")).json()["apps"] if a["app"] == "sonarr")
    assert (stored["configured"], stored["mode"], stored["auto_rename"], stored["rename_approval"]) == (
        True,
        "automatic",
        True,
        True,
    )
    assert (stored["ssl_verify"], stored["ssl_verify_switch"]) == (False, False)
    assert stored["mappings"] == [{"server": "/tv", "local": str(site.media / "TV")}]
    await page.reload()
    assert sonarr.fake.api_key not in await page.content()
    await expect(section.get_by_label("API key")).to_have_attribute(
        "placeholder", "stored: leave empty to keep it"
    )
    await expect(section.get_by_label("Mode")).to_have_value("automatic")
    await expect(section.get_by_label("TLS certificate")).to_have_value("false")
    await section.get_by_role("button", name="Test connection").click()
    await expect(section.locator("[data-role=message]")).to_have_text(
        f"Connected to Sonarr {sonarr.fake.version}.", timeout=WAIT_MS
    )

    # The webhook key: shown once, with the URL each app calls.
    await page.get_by_role("button", name="Make a webhook key").click()
    key = page.locator("#arr-webhook-key")
    await expect(key).not_to_be_empty(timeout=WAIT_MS)
    await expect(page.locator('[data-webhook-url="sonarr"]')).to_have_text(
        f"{site.url}/api/v1/arr/sonarr/webhook"
    )
    shown = await key.inner_text()
    await snap(page, "options-arr")
    await page.reload()
    assert shown not in await page.content()
    await expect(page.locator("#arr-webhook-state")).to_contain_text("A webhook key is set")


async def test_a_rename_released_from_the_queue_is_carried_out_by_the_app(
    browser: Browser, site: Site, sonarr: Sonarr
) -> None:
    await set_up(site, sonarr, rename_approval=True)
    first, second = sonarr.series.files
    # The fake keeps each file's name as the app would: the names before and after, taken now.
    before = [sonarr.path(f.relative) for f in (first, second)]
    after = [sonarr.path(str(f.desired)) for f in (first, second)]
    async with site.client() as api:
        answer = await api.post("/api/v1/arr/sonarr/scans", json={"kind": "rename"})
        assert answer.status_code == 202

    page = await logged_in(browser, site, "/queue?kind=rename")
    await expect(page.locator("#live")).to_have_attribute("data-state", "open", timeout=WAIT_MS)
    rows = page.locator("#jobs tbody tr[data-job]")
    await expect(rows).to_have_count(2, timeout=WAIT_MS)  # they arrive live
    one = rows.filter(has_text=before[0].name)
    await expect(one.locator(".kind")).to_have_text("rename")
    await expect(one.locator(".reason .app")).to_have_text("sonarr")
    await expect(one.locator(".reason .rename")).to_have_text(f"{before[0].name} \u2192 {after[0].name}")
    await expect(one.locator(".status")).to_have_text("awaiting_approval")
    assert sonarr.fake.commands == []  # nothing renamed before a user says so
    await snap(page, "queue-renames")

    # One from its row: the app renames it on disk, and the row follows the record to done.
    await one.get_by_role("button", name="Release").click()
    await expect(one.locator(".status")).to_have_text("done", timeout=30_000)
    assert await on_disk(after[0], before[0], before[1]) == [True, False, True]
    assert sonarr.fake.commands == [{"name": "RenameFiles", "seriesId": 7, "files": [first.id]}]

    # The other ticked and released with the toolbar's button.
    other = rows.filter(has_text=before[1].name)
    release_chosen = page.get_by_role("button", name="Release the ticked jobs")
    await expect(release_chosen).to_be_disabled()
    await other.get_by_role("checkbox").check()
    await release_chosen.click()
    await expect(page.locator("#queue-message")).to_have_text("1 job(s) released: they are queued.")
    await expect(other.locator(".status")).to_have_text("done", timeout=30_000)
    assert await on_disk(after[1], before[1]) == [True, False]


async def test_app_scans_from_the_tools_page_show_their_progress_and_can_be_cancelled(
    browser: Browser, site: Site, sonarr: Sonarr
) -> None:
    await set_up(site, sonarr, rename_approval=True)
    page = await logged_in(browser, site, "/tools")
    await expect(page.locator("#live")).to_have_attribute("data-state", "open", timeout=WAIT_MS)
    row = page.locator('#arr-scans tr[data-app="sonarr"]')
    await expect(page.locator('#arr-scans tr[data-app="radarr"] button').first).to_be_disabled()

    # A rename scan followed to its end: one series looked at, its two files found.
    await row.get_by_role("button", name="Rename scan").click()
    scan = page.locator("#scans tbody tr").first
    await expect(scan.locator("td").nth(2)).to_have_text("sonarr (rename)", timeout=WAIT_MS)
    await expect(scan.locator("td").nth(3)).to_have_text("done", timeout=30_000)
    await expect(scan.locator("td").nth(5)).to_have_text("1 / 1")
    await expect(scan.locator("td").nth(6)).to_have_text("2")
    await expect(row.locator(".message")).to_have_text(
        "sonarr rename scan done: 1 item(s), 2 file(s) found. Review them in the queue", timeout=WAIT_MS
    )
    await expect(row.get_by_role("link", name="Review them in the queue")).to_have_attribute(
        "href", "/queue?kind=rename&status=awaiting_approval"
    )

    # A slow app: the scan shows it is under way, and stops when cancelled from its row.
    sonarr.fake.items += [FakeItem(id=100 + i, title=f"Show {i}", folder=f"Show {i}") for i in range(40)]
    sonarr.fake.delay_seconds = 0.2
    await row.get_by_role("button", name="Rename scan").click()
    running = page.locator("#scans tbody tr").first
    await expect(running.locator("td").nth(3)).to_have_text("probing", timeout=WAIT_MS)
    await expect(running.locator("td").nth(5)).to_have_text(re.compile(r"^[1-9]\d* / 41$"), timeout=WAIT_MS)
    await running.get_by_role("button", name="Cancel").click()
    await expect(running.locator("td").nth(3)).to_have_text("cancelled", timeout=30_000)
    seen = int((await running.locator("td").nth(5).inner_text()).split(" / ")[0])
    assert seen < 41
    await expect(row.locator(".message")).to_contain_text("sonarr rename scan cancelled", timeout=WAIT_MS)
    await snap(page, "tools-arr")


async def test_a_quality_entry_and_its_held_transcode_are_shown_and_released_from_the_queue(
    browser: Browser, site: Site
) -> None:
    transcode_id = await queue_file(site, HEAT)
    found = QualityMismatchFound(
        app=ArrApp.SONARR, path=HEAT, item_id=7, file_id=71, quality="HDTV-720p", cutoff="Bluray-1080p"
    )
    await publish(site.js, found)
    page = await logged_in(browser, site, "/queue")
    await expect(page.locator("#live")).to_have_attribute("data-state", "open", timeout=WAIT_MS)
    held = page.locator(f'#jobs tr[data-job="{transcode_id}"]')
    await expect(held.locator(".reason .held")).to_have_text("held", timeout=WAIT_MS)
    await expect(held.locator(".reason")).to_contain_text(
        "sonarr: HDTV-720p is below the cutoff Bluray-1080p; sonarr may replace it"
    )
    await expect(held.locator(".status")).to_have_text("awaiting_approval")

    # The type filter: only the quality entry, with its app, its quality and the cutoff.
    await page.get_by_role("navigation", name="Type").get_by_role("link", name="quality").click()
    await expect(page).to_have_url(f"{site.url}/queue?kind=quality_mismatch")
    rows = page.locator("#jobs tbody tr[data-job]")
    await expect(rows).to_have_count(1, timeout=WAIT_MS)
    entry = rows.first
    await expect(entry.locator(".kind")).to_have_text("quality")
    await expect(entry.locator(".reason .app")).to_have_text("sonarr")
    await expect(entry.locator(".reason")).to_contain_text("HDTV-720p is below the cutoff Bluray-1080p")
    await snap(page, "queue-quality")

    # Released: the entry is done and the file may be transcoded after all.
    await entry.get_by_role("button", name="Release").click()
    await expect(entry.locator(".status")).to_have_text("done", timeout=WAIT_MS)
    async with site.client() as api:

        async def released() -> bool:
            return (await api.get(f"/api/v1/jobs/{transcode_id}")).json()["status"] == "pending"

        await eventually(released, timeout=30, message="the held transcode released")
