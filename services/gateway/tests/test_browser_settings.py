"""The settings moved from the services' environment to the Options page, in a real browser: the scan
interval, the tries per job, the stale files and a node's slots saved (a bad value refused, nothing changed),
and library folders picked from the media paths' folders, never from outside them."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser, Page, expect

from .browsing import WAIT_MS, logged_in
from .seeds import node, node_alive
from .sites import Site


async def value(site: Site, route: str) -> object:
    async with site.client() as api:
        return (await api.get(route)).json()


async def test_the_service_settings_and_a_nodes_slots_are_saved_from_the_options_page(
    browser: Browser, site: Site
) -> None:
    async with node_alive(site, node(jobs=())):
        await the_settings_and_slots(browser, site)


async def the_settings_and_slots(browser: Browser, site: Site) -> None:
    page = await logged_in(browser, site, "/options")
    form = page.locator("#services")
    # The scheduler seeded its setting from its environment (MAX_ATTEMPTS, 3 by default) at its first start.
    await expect(form.get_by_label("Tries per job")).to_have_value("3")
    await form.get_by_label("Scan the folders").fill("600")
    await form.get_by_label("Tries per job").fill("5")
    await form.get_by_label("Waiting transcodes go").select_option("benefit")
    await form.get_by_role("button", name="Save scanning, retries and cleanup").click()
    await expect(page.locator("#services-message")).to_have_text("Saved: applied at once.", timeout=WAIT_MS)
    assert await value(site, "/api/v1/settings/scanner") == {"scan_interval_seconds": 600}
    assert await value(site, "/api/v1/settings/scheduler") == {"max_attempts": 5}
    assert await value(site, "/api/v1/settings/queue-order") == {"order": "benefit", "window": 3}

    pause = form.get_by_label("Pause the encodes while Plex or Jellyfin play something")
    await expect(pause).to_have_value("same_machine")  # the default
    await pause.select_option(label="Every node")
    await form.get_by_role("button", name="Save scanning, retries and cleanup").click()
    await expect(page.locator("#services-message")).to_have_text("Saved: applied at once.", timeout=WAIT_MS)
    assert await value(site, "/api/v1/settings/streaming") == {"pause_while_streaming": "all"}

    await expect(form.get_by_label("is stale after")).to_be_hidden()  # the Advanced view's
    await page.get_by_role("link", name="Advanced").click()
    await form.get_by_label("is stale after").fill("48")
    await form.get_by_label("Look for stale files every").fill("0")
    await form.get_by_label("Keep originals in the recycle folder for").fill("3")
    await form.get_by_role("button", name="Save scanning, retries and cleanup").click()
    await expect(page.locator("#services-message")).to_have_text("Saved: applied at once.", timeout=WAIT_MS)
    assert await value(site, "/api/v1/settings/cleanup") == {
        "stale_after_hours": 48,
        "interval_hours": 0,
        "recycle_days": 3,
    }

    await form.get_by_label("Tries per job").fill("0")
    await form.get_by_role("button", name="Save scanning, retries and cleanup").click()
    await expect(page.locator("#services-message")).to_have_text("Not saved.", timeout=WAIT_MS)
    await expect(page.locator("#services-error")).to_contain_text("max_attempts")
    assert await value(site, "/api/v1/settings/scheduler") == {"max_attempts": 5}

    slots = page.locator("#slots tr[data-node='node-a']")
    await expect(slots.get_by_label("node-a cpu slots")).to_have_value("1")
    await slots.get_by_label("node-a cpu slots").fill("3")
    await slots.get_by_role("button", name="Save slots").click()
    await expect(page.locator("#slots-message")).to_have_text(
        "Saved: node-a applies it at once.", timeout=WAIT_MS
    )
    assert await value(site, "/api/v1/nodes/node-a/slots") == {"slots": {"cpu": 3}}
    await slots.get_by_label("node-a cpu slots").fill("99")
    await slots.get_by_role("button", name="Save slots").click()
    await expect(page.locator("#slots-message")).to_have_text("Not saved.", timeout=WAIT_MS)
    assert await value(site, "/api/v1/nodes/node-a/slots") == {"slots": {"cpu": 3}}

    await page.reload()  # what the page shows is what is stored
    await expect(form.get_by_label("Scan the folders")).to_have_value("600")
    await expect(page.locator("#slots").get_by_label("node-a cpu slots")).to_have_value("3")


async def open_folder(page: Page, name: str) -> None:
    await page.locator("#picker-folders").get_by_role("button", name=name, exact=True).click()


async def test_library_folders_are_picked_from_the_media_paths(
    browser: Browser, site: Site, tmp_path: Path
) -> None:
    media = site.media
    (media / "TV" / "Show").mkdir(parents=True, exist_ok=True)
    (media / "Movies").mkdir()
    (tmp_path / "outside" / "private").mkdir(parents=True)
    (media / "Escape").symlink_to(tmp_path / "outside")
    page = await logged_in(browser, site, "/options")
    picker = page.locator("#folder-picker")

    await page.get_by_role("button", name="Add a folder").click()
    await expect(picker).to_be_visible()
    await expect(page.locator("#picker-path")).to_have_text("The media paths")
    await open_folder(page, str(media))
    await expect(page.locator("#picker-path")).to_have_text(str(media))
    await expect(page.locator("#picker-folders button")).to_have_text(["Movies", "TV"])  # no way out
    await open_folder(page, "TV")
    await expect(page.locator("#picker-folders button")).to_have_text(["Show"])
    await page.get_by_role("button", name="Up", exact=True).click()
    await expect(page.locator("#picker-path")).to_have_text(str(media))
    await open_folder(page, "TV")
    await page.get_by_role("button", name="Choose this folder").click()
    await expect(picker).to_be_hidden()
    row = page.locator("#folders tbody tr").last
    await expect(row.get_by_label("Folder")).to_have_value(str(media / "TV"))
    await expect(row.get_by_label("Folder")).not_to_be_editable()  # picked, not typed
    await row.get_by_label("Type").select_option("tv")
    await row.get_by_label("Languages kept").fill("eng, FRE")
    await row.get_by_label("drop commentary").check()
    await row.get_by_label("Priority").fill("3")
    await row.get_by_label("review before replace").check()
    await page.get_by_role("button", name="Save folders").click()
    await expect(page.locator("#folders-message")).to_have_text(
        "Saved: the next scan uses them.", timeout=WAIT_MS
    )
    stored = await value(site, "/api/v1/settings/folders")
    tracks = {"languages": ["eng", "fre"], "drop_commentary": True, "image_subtitles": True}
    assert stored["folders"] == [
        {"path": str(media / "TV"), "type": "tv", "tracks": tracks, "priority": 3, "review": True}
    ]
    await page.reload()
    row = page.locator("#folders tbody tr").last
    await expect(row.get_by_label("Languages kept")).to_have_value("eng, fre")
    await expect(row.get_by_label("drop commentary")).to_be_checked()
    await expect(row.get_by_label("keep image subtitles")).to_be_checked()
    await expect(row.get_by_label("review before replace")).to_be_checked()

    # A path put in the field by other means is still checked by the API: refused, nothing changed.
    await page.get_by_role("button", name="Add a folder").click()
    await page.get_by_role("button", name="Cancel").click()
    await (
        page.locator("#folders tbody tr")
        .last.get_by_label("Folder")
        .evaluate("(input) => { input.value = '/etc'; }")
    )
    await page.get_by_role("button", name="Save folders").click()
    await expect(page.locator("#folders-message")).to_contain_text("Not saved:", timeout=WAIT_MS)
    assert await value(site, "/api/v1/settings/folders") == stored
