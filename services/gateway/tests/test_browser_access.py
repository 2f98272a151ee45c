"""Users and API keys on the Options page in a real browser (Playwright driving the system Chromium) against
a real gateway: a key made there is shown once with its scope and works, gone from the page on the next
load, and stops working when revoked there; a user added there with a scope; and no page of the dashboard
breaks its Content-Security-Policy (no inline script, nothing from elsewhere)."""

from __future__ import annotations

from playwright.async_api import Browser, ConsoleMessage, Dialog, expect

from .browsing import WAIT_MS, logged_in, snap
from .sites import Site


async def accept(dialog: Dialog) -> None:
    await dialog.accept()


async def test_a_key_made_on_options_is_shown_once_and_dies_when_revoked(
    browser: Browser, site: Site
) -> None:
    page = await logged_in(browser, site, "/options")
    page.on("dialog", accept)
    section = page.locator("section[aria-labelledby=access]")
    await section.get_by_label("What it is for").fill("living room")
    await section.locator("#add-key").get_by_label("Scope").select_option("control")
    await section.get_by_role("button", name="Make a key").click()
    shown = page.locator("#new-key")
    await expect(shown).to_be_visible(timeout=WAIT_MS)
    await expect(shown.locator(".scope")).to_have_text("control")
    key = (await shown.locator(".key").text_content() or "").strip()
    assert len(key) > 30
    row = page.locator("#keys tbody tr", has_text="living room")
    await expect(row).to_contain_text(key[:8] + "…")
    await expect(row).to_contain_text("control")
    await snap(page, "options-access")
    async with site.client(key=key) as program:
        assert (await program.post("/api/v1/queue/pause")).status_code == 200
        assert (await program.get("/api/v1/settings/export")).status_code == 403

    await page.reload()  # once: the page never shows it again
    await expect(page.locator("#keys tbody tr", has_text="living room")).to_have_count(1)
    await expect(page.locator("#new-key")).to_be_hidden()
    assert key not in await page.content()

    await page.locator("#keys tbody tr", has_text="living room").get_by_role("button", name="Revoke").click()
    await expect(page.locator("#keys-message")).to_have_text("Revoked living room.", timeout=WAIT_MS)
    await expect(page.locator("#keys tbody tr", has_text="living room")).to_have_count(0)
    async with site.client(key=key) as program:
        assert (await program.get("/api/v1/nodes")).status_code == 401


async def test_a_user_is_added_with_a_scope_on_options(browser: Browser, site: Site) -> None:
    page = await logged_in(browser, site, "/options")
    form = page.locator("#add-user")
    await form.get_by_label("User name").fill("guest")
    await form.get_by_label("Password").fill("short")
    await form.get_by_role("button", name="Add user").click()
    await expect(page.locator("#users-problem")).to_contain_text("at least 8", timeout=WAIT_MS)
    await form.get_by_label("Password").fill("a guest password")
    await form.get_by_label("Scope").select_option("read")
    await form.get_by_role("button", name="Add user").click()
    await expect(page.locator("#users-message")).to_have_text("Added guest (read).", timeout=WAIT_MS)
    await expect(page.locator("#users-problem")).to_be_hidden()
    await page.get_by_label("Scope of guest").select_option("control")
    await expect(page.locator("#users-message")).to_contain_text("control scope", timeout=WAIT_MS)
    async with site.client() as admin:
        users = {u["name"]: u["scope"] for u in (await admin.get("/api/v1/users")).json()}
    assert users == {"admin": "admin", "guest": "control"}
    await page.get_by_label("Scope of admin").select_option("read")  # the last admin: refused, kept
    await expect(page.locator("#users-problem")).to_contain_text("last admin", timeout=WAIT_MS)
    await expect(page.get_by_label("Scope of admin")).to_have_value("admin")


async def test_no_page_breaks_its_content_security_policy(browser: Browser, site: Site) -> None:
    page = await logged_in(browser, site, "/")
    refused: list[str] = []

    def heard(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            refused.append(f"{page.url}: {message.text}")

    page.on("console", heard)
    for target in ("/", "/queue", "/failed", "/history", "/statistics", "/options", "/tools", "/api/v1/docs"):
        await page.goto(site.url + target)
        await page.wait_for_load_state("networkidle")
    await expect(page.locator(".swagger-ui .info .title")).to_contain_text("Librarrarian", timeout=WAIT_MS)
    assert refused == []
