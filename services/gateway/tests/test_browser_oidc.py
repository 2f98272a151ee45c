"""Sign-in with an OpenID provider in a real browser (Playwright driving the system Chromium, ``browsing.py``):
the login page's button, the real provider's login and consent pages (``oidc-provider``, on ``localhost``:
another site than the gateway's ``127.0.0.1``), and back on the dashboard; a user outside the required group
refused; the password form gone when local login is off. The attacks on the callback are ``test_oidc.py``'s."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from librarrarian_testing.openid_provider import ACCOUNTS
from nats.js import JetStreamContext
from playwright.async_api import Browser, Page, expect

from .browsing import WAIT_MS, snap
from .signing_in import OidcSite, oidc_site


@pytest.fixture
async def oidc(
    nats_url: str, database_url: str, tmp_path: Path, bus: tuple[object, JetStreamContext]
) -> AsyncIterator[OidcSite]:
    async with oidc_site(nats_url, database_url, tmp_path, bus[1]) as running:
        yield running


async def sign_in_at_provider(page: Page, oidc: OidcSite, login: str) -> None:
    await page.get_by_role("link", name="Sign in with Test ID").click()
    await expect(page.get_by_role("heading", name="Sign in to the test provider")).to_be_visible(
        timeout=WAIT_MS
    )
    assert page.url.startswith(f"{oidc.provider.issuer}/interaction/")
    await page.get_by_label("Login").fill(login)
    await page.get_by_label("Password").fill(ACCOUNTS[login])
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Allow access")).to_be_visible(timeout=WAIT_MS)
    await expect(page.locator("body")).to_contain_text("groups")
    await page.get_by_role("button", name="Allow").click()


async def test_a_member_signs_in_with_the_button_and_lands_on_the_dashboard(
    browser: Browser, oidc: OidcSite
) -> None:
    page = await (await browser.new_context()).new_page()
    await page.goto(f"{oidc.site.url}/")  # not logged in: off to the login page
    await expect(page).to_have_url(f"{oidc.site.url}/login?next=/", timeout=WAIT_MS)
    await expect(page.get_by_label("User name")).to_be_visible()  # the form is there too
    await snap(page, "login-oidc")
    await sign_in_at_provider(page, oidc, "alice")
    await expect(page).to_have_url(f"{oidc.site.url}/", timeout=WAIT_MS)
    await expect(page.get_by_role("button", name="Log out alice")).to_be_visible()
    await expect(page.get_by_role("navigation").get_by_role("link", name="Queue")).to_be_visible()
    await snap(page, "dashboard-after-oidc")

    await page.get_by_role("button", name="Log out alice").click()
    await expect(page).to_have_url(f"{oidc.site.url}/login", timeout=WAIT_MS)
    await page.goto(f"{oidc.site.url}/queue")
    await expect(page).to_have_url(f"{oidc.site.url}/login?next=/queue", timeout=WAIT_MS)
    # The provider remembers alice: the button signs her in again without its forms (consent was given).
    await page.get_by_role("link", name="Sign in with Test ID").click()
    await expect(page).to_have_url(f"{oidc.site.url}/queue", timeout=WAIT_MS)


async def test_a_user_outside_the_required_group_gets_a_clear_refusal(
    browser: Browser, oidc: OidcSite
) -> None:
    page = await (await browser.new_context()).new_page()
    await page.goto(f"{oidc.site.url}/login")
    await sign_in_at_provider(page, oidc, "bob")
    await expect(page.get_by_role("heading", name="Sign-in refused")).to_be_visible(timeout=WAIT_MS)
    await expect(page.get_by_role("alert")).to_contain_text(
        "You signed in at Test ID as bob, but this dashboard only lets in members of the group "
        "'librarrarian-admins'"
    )
    await snap(page, "oidc-refused")
    await page.goto(f"{oidc.site.url}/")
    await expect(page).to_have_url(f"{oidc.site.url}/login?next=/", timeout=WAIT_MS)


async def test_without_local_login_only_the_button_is_shown(
    browser: Browser, nats_url: str, database_url: str, tmp_path: Path, bus: tuple[object, JetStreamContext]
) -> None:
    async with oidc_site(nats_url, database_url, tmp_path, bus[1], local_login_enabled=False) as oidc:
        page = await (await browser.new_context()).new_page()
        await page.goto(f"{oidc.site.url}/login")
        await expect(page.get_by_role("link", name="Sign in with Test ID")).to_be_visible()
        await expect(page.get_by_label("User name")).to_have_count(0)
        await expect(page.get_by_label("Password")).to_have_count(0)
        await sign_in_at_provider(page, oidc, "alice")
        await expect(page.get_by_role("button", name="Log out alice")).to_be_visible(timeout=WAIT_MS)
