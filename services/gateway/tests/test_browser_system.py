"""The System part of the Options page in a real browser (Playwright driving the system Chromium) against a
real gateway, scheduler and history on NATS and PostgreSQL: encoder path mappings edited in a table and saved
through the API, a refused list keeping every row as typed, and the media paths shown read-only.
"""

from __future__ import annotations

from librarrarian_contracts import topology
from playwright.async_api import Browser, expect

from .browsing import WAIT_MS, logged_in, snap
from .seeds import node
from .sites import Site


async def test_a_path_mapping_is_added_on_options_and_stored(browser: Browser, site: Site) -> None:
    nodes = await site.js.key_value(topology.NODES.name)
    await nodes.put("node-a", node("node-a", jobs=()))
    async with site.client() as client:
        kept = {"node": "old-box", "server": "/srv/media", "local": "/mnt/old"}
        assert (await client.put("/api/v1/settings/paths", json={"mappings": [kept]})).status_code == 200

    page = await logged_in(browser, site, "/options")
    form = page.locator("#paths")
    await expect(form).to_be_hidden()  # Standard view: mappings are an advanced setting
    await expect(page.locator("#media-paths")).to_be_visible()
    await expect(page.locator("#media-paths")).not_to_have_attribute("contenteditable", "true")
    await expect(page.locator("#media-paths input")).to_have_count(0)  # shown, never editable here
    await page.get_by_role("link", name="Advanced", exact=True).click()
    await expect(form).to_be_visible()
    await expect(page.locator("#live-nodes")).to_contain_text("node-a")
    rows = form.locator("tbody tr")
    await expect(rows).to_have_count(1)
    await expect(rows.nth(0).get_by_label("Node", exact=True)).to_have_value("old-box")
    await expect(rows.nth(0).get_by_label("Node", exact=True).locator("option:checked")).to_have_text(
        "old-box (offline)"
    )

    await page.get_by_role("button", name="Add a mapping").click()
    await rows.nth(1).get_by_label("Node", exact=True).select_option("node-a")
    await rows.nth(1).get_by_label("Server path").fill("/media")
    await rows.nth(1).get_by_label("Local path").fill("/mnt/nas")
    await page.get_by_role("button", name="Add a mapping").click()
    await rows.nth(2).get_by_label("Server path").fill("/media")
    await rows.nth(2).get_by_label("Local path").fill("mnt/relative")  # every node; not absolute
    await page.get_by_role("button", name="Save mappings").click()
    problem = page.locator("#paths-error")
    await expect(problem).to_be_visible(timeout=WAIT_MS)
    await expect(problem).to_contain_text("must be absolute")
    await expect(page.locator("#paths-message")).to_have_text("Not saved.")
    await expect(rows).to_have_count(3)  # nothing typed is lost
    async with site.client() as client:
        assert (await client.get("/api/v1/settings/paths")).json() == {"mappings": [kept]}

    await rows.nth(2).get_by_label("Local path").fill("/mnt/everyone")
    await page.get_by_role("button", name="Save mappings").click()
    await expect(page.locator("#paths-message")).to_contain_text("Saved", timeout=WAIT_MS)
    await expect(problem).to_be_hidden()
    await snap(page, "options-paths")
    async with site.client() as client:
        stored = (await client.get("/api/v1/settings/paths")).json()
    assert stored == {
        "mappings": [
            kept,
            {"node": "node-a", "server": "/media", "local": "/mnt/nas"},
            {"node": None, "server": "/media", "local": "/mnt/everyone"},
        ]
    }

    await rows.nth(0).get_by_role("button", name="Remove").click()
    await page.get_by_role("button", name="Save mappings").click()
    await expect(page.locator("#paths-message")).to_contain_text("Saved", timeout=WAIT_MS)
    await page.reload()
    await expect(page).to_have_url(f"{site.url}/options?view=advanced")
    await expect(rows).to_have_count(2)
    await expect(rows.nth(0).get_by_label("Node", exact=True)).to_have_value("node-a")
    await expect(rows.nth(0).get_by_label("Local path")).to_have_value("/mnt/nas")
    await expect(rows.nth(1).get_by_label("Node", exact=True)).to_have_value("")  # all nodes
    async with site.client() as client:
        assert len((await client.get("/api/v1/settings/paths")).json()["mappings"]) == 2
