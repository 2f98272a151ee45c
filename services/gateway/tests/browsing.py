"""A real browser on a test's gateway: Playwright driving Debian's Chromium, logging in through the form.

Needs ``chromium`` (``make test`` installs it as root; by hand: ``apt-get install chromium``), or another
Chromium named by ``LIBRARRARIAN_CHROMIUM``. ``LIBRARRARIAN_SKIP_BROWSER=1`` skips the browser tests on
purpose; without it a missing browser is a failure, not a silent skip. ``LIBRARRARIAN_SCREENSHOTS=1`` saves
a screenshot of each page in ``bench/out/screenshots/``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from .sites import PASSWORD, USER, Site

REPO_ROOT = Path(__file__).resolve().parents[3]
SCREENSHOTS = REPO_ROOT / "bench" / "out" / "screenshots"
WAIT_MS = 10_000  # how long a page may take to show what the test waits for


def chromium() -> str:
    """The system Chromium (Playwright cannot download its own browsers here)."""
    if os.environ.get("LIBRARRARIAN_SKIP_BROWSER") == "1":
        pytest.skip("LIBRARRARIAN_SKIP_BROWSER=1")
    named = os.environ.get("LIBRARRARIAN_CHROMIUM")
    found = named or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found or not os.access(found, os.X_OK):
        pytest.fail(
            f"no Chromium for the browser tests ({named or 'chromium not on PATH'}): install Debian's with "
            "`make chromium` or `apt-get install -y chromium` as root, name another with "
            "LIBRARRARIAN_CHROMIUM=/path/to/chromium, or set LIBRARRARIAN_SKIP_BROWSER=1 to skip these tests",
            pytrace=False,
        )
    return found


async def snap(page: Page, name: str) -> None:
    if os.environ.get("LIBRARRARIAN_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


async def log_in(page: Page, site: Site, target: str) -> Page:
    """``page`` logged in through the form, on ``target``."""
    await page.goto(f"{site.url}/login?next={target}")
    await page.get_by_label("User name").fill(USER)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page).to_have_url(f"{site.url}{target}", timeout=WAIT_MS)
    # The URL changes when the page arrives, before its deferred scripts run: a click sent then does nothing.
    await page.wait_for_load_state("load", timeout=WAIT_MS)
    return page


async def logged_in(browser: Browser, site: Site, target: str, **context: Any) -> Page:
    """A new page (in a context of its own, set up with ``context``: a time zone, say) logged in."""
    page = await (await browser.new_context(**context)).new_page()
    return await log_in(page, site, target)
