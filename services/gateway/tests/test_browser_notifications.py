"""The Options page's notifications in a real browser against a real gateway, scheduler and history: a URL
added (and never shown again), the events and the window saved, a test received by a local server through
Apprise, the URL removed."""

from __future__ import annotations

import pytest
from librarrarian_runtime.outbound import PrivateServers
from playwright.async_api import Browser, expect

from .browsing import WAIT_MS, logged_in, snap
from .receiving import receiving
from .sites import Site

SECRET = "s3cret-token-4711"


@pytest.fixture
def private_servers() -> PrivateServers:
    return PrivateServers.ALL  # the receiving server listens on loopback


async def test_notifications_are_set_up_and_tested_on_options(browser: Browser, site: Site) -> None:
    with receiving() as receiver:
        page = await logged_in(browser, site, "/options")
        section = page.locator("section", has=page.locator("h2#notifications"))
        await expect(section.locator("#notify-targets")).to_contain_text("No URL yet.")
        await section.get_by_label("Add a URL").fill(f"json://hooks:{SECRET}@127.0.0.1:{receiver.port}/in")
        await section.get_by_role("button", name="Add", exact=True).click()
        await expect(page.locator("#notify-message")).to_have_text("Added.", timeout=WAIT_MS)
        await expect(section.locator("#notify-targets tbody tr")).to_have_count(1)
        await expect(section.locator("#notify-targets")).to_contain_text("JSON json://…")

        await section.get_by_label("the queue is empty").uncheck()
        await section.get_by_label("Gather what happens within").fill("120")
        await section.get_by_role("button", name="Save notifications").click()
        await expect(page.locator("#notify-message")).to_have_text("Saved.", timeout=WAIT_MS)
        async with site.client() as client:
            stored = (await client.get("/api/v1/notifications")).json()
        assert stored["window_seconds"] == 120 and "queue_drained" not in stored["events"]
        assert "job_failed" in stored["events"]

        await section.get_by_role("button", name="Send a test").click()
        await expect(page.locator("#notify-message")).to_have_text("Sent to 1 URL.", timeout=WAIT_MS)
        assert receiver.titles() == ["Librarrarian: a test notification"]

        await page.reload()
        await expect(section.locator("#notify-targets")).to_contain_text("JSON json://…")
        await expect(section.get_by_label("the queue is empty")).not_to_be_checked()
        assert SECRET not in await page.content()
        await snap(page, "options-notifications")
        await section.get_by_role("button", name="Remove").click()
        await expect(page.locator("#notify-message")).to_have_text("Removed.", timeout=WAIT_MS)
        await expect(section.locator("#notify-targets tbody tr")).to_have_count(0)
        async with site.client() as client:
            assert (await client.get("/api/v1/notifications")).json()["targets"] == []
