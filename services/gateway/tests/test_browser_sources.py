"""Plex and Jellyfin set up on the Options page in a real browser, against a real scanner that talks to fake
plex.tv, Plex and Jellyfin servers: the PIN link, server, library and mapping choice, Plex's Test connection
and webhook URL (shown once), a refused Jellyfin key that is not kept, and no token or API key anywhere in the
page."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from librarrarian_runtime.outbound import PrivateServers
from librarrarian_scanner import service as scanner
from librarrarian_scanner.settings import Settings as ScannerSettings
from librarrarian_testing import eventually
from librarrarian_testing.media_servers import (
    FakeJellyfin,
    FakeLibrary,
    FakePlexServer,
    FakePlexTv,
    FakeSection,
    serving,
)
from playwright.async_api import Browser, Page, expect

from .browsing import WAIT_MS, logged_in, snap
from .sites import Site


@dataclass
class Servers:
    media: Path
    tv: FakePlexTv
    pms: FakePlexServer
    jf: FakeJellyfin
    jf_url: str

    def secrets(self) -> list[str]:
        return [self.tv.account_token, self.pms.token, self.jf.api_key]


@pytest.fixture
async def servers(site: Site, nats_url: str, database_url: str) -> AsyncIterator[Servers]:
    """Fake plex.tv, Plex and Jellyfin, and a scanner on the gateway's NATS and database that uses them."""
    media = site.media / "Movies"
    media.mkdir()
    tv, pms = FakePlexTv(), FakePlexServer()
    pms.sections = [
        FakeSection("1", "Movies", "movie", ("/data/Movies",), {"A": ("/data/Movies/a.mkv",)}),
        FakeSection("2", "TV Shows", "show", ("/data/TV",)),
    ]
    jf = FakeJellyfin(
        libraries=[
            FakeLibrary("Films", "movies", ("/media/Movies",), ("/media/Movies/a.mkv",)),
            FakeLibrary("Shows", "tvshows", ("/media/TV",)),
        ]
    )
    async with serving(tv.build()) as tv_url, serving(pms.build()) as pms_url, serving(jf.build()) as jf_url:
        tv.add_server("Den", pms_url, pms.token)
        settings = ScannerSettings(
            nats_url=nats_url,
            database_url=database_url,
            media_paths=(site.media,),
            scan_on_start=False,
            scan_interval_seconds=0,
            watch=False,
            plex_tv_url=tv_url,
            private_servers=PrivateServers.ALL,  # the fake servers listen on loopback
        )
        stopping = asyncio.Event()
        task = asyncio.create_task(scanner.run(settings, stopping))

        async def answering() -> bool:
            assert not task.done(), task
            async with site.client(timeout=30) as client:
                return (await client.get("/api/v1/sources")).status_code == 200

        try:
            await eventually(answering, timeout=30, message="scanner answering")
            yield Servers(media, tv, pms, jf, jf_url)
        finally:
            stopping.set()
            await asyncio.wait_for(task, 30)


async def status(site: Site) -> dict[str, dict[str, object]]:
    async with site.client(timeout=30) as client:
        found: dict[str, dict[str, object]] = (await client.get("/api/v1/sources")).json()
        return found


async def add_mapping(page: Page, form: str, server: str, local: str) -> None:
    await page.locator(form).get_by_role("button", name="Add a mapping").click()
    row = page.locator(f"{form} .mappings tbody tr").last
    await row.get_by_label("Folder on the server").fill(server)
    await row.get_by_label("Same folder here").fill(local)


async def assert_no_secret(page: Page, servers: Servers) -> None:
    html = await page.content()
    for secret in servers.secrets():
        assert secret not in html


async def test_plex_is_linked_and_chosen_on_the_options_page(
    browser: Browser, site: Site, servers: Servers
) -> None:
    page = await logged_in(browser, site, "/options")
    plex = page.locator("#plex")
    await expect(plex.locator("#plex-summary")).to_contain_text("not linked")

    await page.get_by_role("button", name="Link Plex account").click()
    code = page.locator("#plex-code")
    await expect(code).not_to_be_empty(timeout=WAIT_MS)
    await expect(page.locator("#plex-link-url")).to_have_attribute("href", "https://plex.tv/link")
    await page.get_by_role("button", name="I entered the code").click()  # too early: asked once, not yet
    await expect(page.locator("#plex-message")).to_contain_text("not been entered yet", timeout=WAIT_MS)
    servers.tv.link(await code.inner_text())
    await page.get_by_role("button", name="I entered the code").click()

    form = page.locator("#plex-form")
    await expect(form).to_be_visible(timeout=WAIT_MS)
    await expect(form.get_by_label("Plex server")).to_have_value(servers.tv.servers[0]["clientIdentifier"])
    await form.get_by_role("button", name="Use this server").click()
    await form.get_by_label("Movies (movie)").check(timeout=WAIT_MS)
    await add_mapping(page, "#plex-form", "/data/Movies", str(servers.media))
    await form.get_by_role("button", name="Save Plex").click()
    await expect(page.locator("#plex-message")).to_have_text("Saved.", timeout=WAIT_MS)

    stored = (await status(site))["plex"]
    assert stored["server_name"] == "Den" and stored["sections"] == ["1"]
    assert stored["mappings"] == [{"server": "/data/Movies", "local": str(servers.media)}]

    await page.reload()
    await expect(page.locator("#plex-summary")).to_contain_text("server Den, 1 library")
    await expect(form.get_by_label("Movies (movie)")).to_be_checked(timeout=WAIT_MS)
    await expect(form.get_by_label("TV Shows (show)")).not_to_be_checked()
    await expect(form.get_by_label("Folder on the server")).to_have_value("/data/Movies")
    await expect(page.locator("#plex-problem")).to_be_hidden()
    await snap(page, "options-plex")
    await assert_no_secret(page, servers)

    await page.get_by_role("button", name="Sync now").click()
    await expect(page.locator("#sync-message")).to_contain_text("plex", timeout=WAIT_MS)
    await eventually(
        lambda: any(s.path == "/library/sections/1/all" for s in servers.pms.seen), message="Plex synced"
    )

    # Test connection: the server's name and version, then the reason in our words.
    await form.get_by_role("button", name="Test connection").click()
    await expect(page.locator("#plex-message")).to_have_text(
        "Connected to Fake Plex 1.41.0.0.", timeout=WAIT_MS
    )
    servers.pms.token = "changed on the server"
    await form.get_by_role("button", name="Test connection").click()
    await expect(page.locator("#plex-problem")).to_contain_text("refused the token", timeout=WAIT_MS)
    await expect(page.locator("#plex-problem")).not_to_contain_text("Unauthorized")

    # The webhook's URL: shown once, then only whether it exists.
    hook = page.locator("#plex-webhook")
    await expect(hook.locator("#plex-webhook-state")).to_contain_text("Off")
    await hook.get_by_role("button", name="Make a webhook URL").click()
    shown = hook.get_by_label("Paste it in Plex")
    await expect(shown).to_have_value(
        re.compile(re.escape(site.url) + r"/hooks/plex/\S{40,}"), timeout=WAIT_MS
    )
    url = await shown.input_value()
    await page.reload()
    await expect(hook.locator("#plex-webhook-state")).to_contain_text("On since")
    await expect(hook.get_by_label("Paste it in Plex")).to_be_hidden()
    assert url.rsplit("/", 1)[1] not in await page.content()
    await hook.get_by_role("button", name="Turn off").click()
    await expect(hook.locator("#plex-webhook-state")).to_contain_text("Off", timeout=WAIT_MS)
    async with site.client(timeout=30) as client:
        assert (await client.get("/api/v1/sources/plex/webhook")).json()["configured"] is False


async def test_jellyfin_is_set_up_and_a_refused_key_is_not_kept(
    browser: Browser, site: Site, servers: Servers
) -> None:
    page = await logged_in(browser, site, "/options")
    form = page.locator("#jellyfin-form")
    await expect(page.locator("#jellyfin-summary")).to_contain_text("not configured")

    await form.get_by_label("URL").fill(servers.jf_url)
    await form.get_by_label("API key").fill("not-the-key")
    await form.get_by_role("button", name="Test").click()
    await expect(page.locator("#jellyfin-problem")).to_contain_text("refused the API key", timeout=WAIT_MS)
    assert (await status(site))["jellyfin"]["configured"] is False

    await form.get_by_label("API key").fill(servers.jf.api_key)
    await form.get_by_role("button", name="Test").click()
    await expect(page.locator("#jellyfin-message")).to_contain_text(
        "Connected to Fake Jellyfin", timeout=WAIT_MS
    )
    await expect(page.locator("#jellyfin-problem")).to_be_hidden()
    await expect(form.get_by_label("API key")).to_have_value("")
    await form.get_by_label("Films (movies)").check()
    await add_mapping(page, "#jellyfin-form", "/media/Movies", str(servers.media))
    await form.get_by_role("button", name="Save Jellyfin").click()
    await expect(page.locator("#jellyfin-message")).to_have_text("Saved.", timeout=WAIT_MS)

    stored = (await status(site))["jellyfin"]
    assert stored["configured"] is True and stored["url"] == servers.jf_url
    assert stored["libraries"] == [servers.jf.libraries[0].item_id]
    assert stored["mappings"] == [{"server": "/media/Movies", "local": str(servers.media)}]

    await page.reload()
    await expect(page.locator("#jellyfin-summary .status")).to_have_text("configured")
    await expect(form.get_by_label("Films (movies)")).to_be_checked(timeout=WAIT_MS)
    await expect(form.get_by_label("Shows (tvshows)")).not_to_be_checked()
    await expect(form.get_by_label("API key")).to_have_attribute(
        "placeholder", "stored: leave empty to keep it"
    )
    await snap(page, "options-jellyfin")
    await assert_no_secret(page, servers)
