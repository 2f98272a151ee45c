"""The dashboard in a real browser: Playwright driving Debian's Chromium against a real gateway, scheduler
and history on NATS and PostgreSQL. Logs in through the form, loads every page, and watches a node card and
its progress bar follow the KV buckets without the page reloading.

Needs ``chromium`` (``make test`` installs it as root; by hand: ``apt-get install chromium``), or another
Chromium named by ``LIBRARRARIAN_CHROMIUM``. ``LIBRARRARIAN_SKIP_BROWSER=1`` skips these tests on purpose;
without it a missing browser is a failure, not a silent skip. ``LIBRARRARIAN_SCREENSHOTS=1`` saves a
screenshot of each page in ``bench/out/screenshots/``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from librarrarian_contracts import (
    FileIdentity,
    JobCompleted,
    MediaProbe,
    MediaProbed,
    StreamInfo,
    encode,
    publish,
    topology,
)
from librarrarian_contracts.views import JobProgress, NodeStatus
from librarrarian_embedded.nats_server import free_port
from librarrarian_gateway import service as gateway
from librarrarian_gateway.settings import Settings
from librarrarian_history import service as history
from librarrarian_history.settings import Settings as HistorySettings
from librarrarian_scheduler import service as scheduler
from librarrarian_scheduler.settings import Settings as SchedulerSettings
from librarrarian_testing import eventually
from nats.aio.client import Client
from nats.js import JetStreamContext
from playwright.async_api import Browser, Page, async_playwright, expect

from .test_gateway import services_answering

REPO_ROOT = Path(__file__).resolve().parents[3]
SCREENSHOTS = REPO_ROOT / "bench" / "out" / "screenshots"
USER, PASSWORD, API_KEY = "admin", "correct horse battery", "browser-key-0123456789abcdef"
WAIT_MS = 10_000


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


@dataclass
class Site:
    url: str
    js: JetStreamContext


@pytest.fixture
async def site(
    nats_url: str, database_url: str, tmp_path: Path, bus: tuple[Client, JetStreamContext]
) -> AsyncIterator[Site]:
    settings = Settings(
        nats_url=nats_url,
        database_url=database_url,
        host="127.0.0.1",
        port=free_port(),
        local_user=USER,
        local_password=PASSWORD,
        api_key=API_KEY,
        media_paths=(tmp_path,),
    )
    stops = [asyncio.Event() for _ in range(3)]
    tasks = [
        asyncio.create_task(
            scheduler.run(SchedulerSettings(nats_url=nats_url, database_url=database_url), stops[0])
        ),
        asyncio.create_task(
            history.run(HistorySettings(nats_url=nats_url, database_url=database_url), stops[1])
        ),
        asyncio.create_task(gateway.run(settings, stops[2])),
    ]
    url = f"http://127.0.0.1:{settings.port}"

    async def up() -> bool:
        assert not any(task.done() for task in tasks), tasks
        try:
            async with httpx.AsyncClient() as client:
                return (await client.get(f"{url}/healthz")).status_code == 200
        except httpx.TransportError:
            return False

    await eventually(up, message="gateway up")
    await services_answering(url, API_KEY)
    yield Site(url, bus[1])
    for stop in stops:
        stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 30)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = chromium()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=executable, headless=True)
        try:
            yield launched
        finally:
            await launched.close()


async def snap(page: Page, name: str) -> None:
    if os.environ.get("LIBRARRARIAN_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


async def seed_queue_and_history(site: Site) -> None:
    """A file waiting in the queue and a finished transcode in the history, as the services record them."""
    await publish(
        site.js,
        MediaProbed(
            path="/m/Movies/Heat (1995).mp4",
            identity=FileIdentity(size=100, mtime_ns=1, inode=1),
            probe=MediaProbe(
                container="mov,mp4",
                duration=60.0,
                video_codec="h264",
                streams=(StreamInfo(index=0, kind="video", codec="h264"),),
            ),
        ),
    )
    await publish(
        site.js,
        JobCompleted(
            job_id=99,
            attempt=1,
            node="node-a",
            path="/m/TV/Show S01E01.mkv",
            output_path="/m/TV/Show S01E01.mkv",
            encoder="libx265",
            codec_before="h264",
            codec_after="hevc",
            size_before=2_000_000_000,
            size_after=800_000_000,
            duration=2700.0,
            elapsed_seconds=900.0,
        ),
    )
    async with httpx.AsyncClient(base_url=site.url, headers={"X-Api-Key": API_KEY}) as api:

        async def recorded() -> bool:
            jobs, done = await api.get("/api/v1/jobs"), await api.get("/api/v1/history")
            return jobs.status_code == done.status_code == 200 and bool(
                jobs.json()["items"] and done.json()["items"]
            )

        await eventually(recorded, message="the scheduler and history recorded the seed")


def node(name: str = "node-a", state: str = "running", jobs: tuple[int, ...] = (7,)) -> bytes:
    status = NodeStatus(
        node=name, hostname="box", version="0.1.0", classes=("cpu",), slots=1, state=state, jobs=jobs
    )
    return encode(status)


def progress(percent: float) -> bytes:
    return encode(
        JobProgress(
            job_id=7,
            node="node-a",
            path="/m/Movies/Heat (1995).mp4",
            percent=percent,
            fps=48.0,
            speed=1.9,
            eta_seconds=75.0,
        )
    )


async def test_log_in_and_load_every_page(browser: Browser, site: Site) -> None:
    await seed_queue_and_history(site)
    page = await browser.new_page()
    await page.goto(f"{site.url}/queue")
    await expect(page).to_have_url(f"{site.url}/login?next=/queue")
    await expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    await snap(page, "login")
    await page.get_by_label("User name").fill(USER)
    await page.get_by_label("Password").fill("not the password")
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("alert")).to_have_text("Wrong user name or password.")
    await page.get_by_label("User name").fill(USER)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()

    await expect(page).to_have_url(f"{site.url}/queue")
    await expect(page.get_by_role("heading", name="Queue")).to_be_visible()
    await expect(page.locator("tbody tr").first).to_contain_text("Heat (1995).mp4")
    await expect(page.locator("tbody tr").first).to_contain_text("pending")
    await snap(page, "queue")

    await page.get_by_role("link", name="History").click()
    await expect(page).to_have_url(f"{site.url}/history")
    await expect(page.locator("tbody tr").first).to_contain_text("Show S01E01.mkv")
    await expect(page.locator("tbody tr").first).to_contain_text("h264 → hevc")
    await page.get_by_label("Search").fill("nothing like this")
    await page.get_by_role("button", name="Search").click()
    await expect(page.locator("tbody")).to_contain_text("Nothing matches")
    await page.get_by_label("Search").fill("show")
    await page.get_by_role("button", name="Search").click()
    await expect(page.locator("tbody tr").first).to_contain_text("Show S01E01.mkv")
    await snap(page, "history")

    await page.get_by_role("link", name="Dashboard").click()
    await expect(page).to_have_url(f"{site.url}/")
    await expect(page.locator(".tile").first).to_contain_text("1")  # files encoded
    await expect(page.locator(".tiles")).to_contain_text("1.2 GB")  # space saved
    await expect(page.locator("#nodes")).to_contain_text("No encoder is connected.")
    await expect(page.locator("table")).to_contain_text("Show S01E01.mkv")

    await page.get_by_role("button", name=f"Log out {USER}").click()
    await expect(page).to_have_url(f"{site.url}/login")


async def test_the_dashboard_follows_nodes_and_progress_without_reloading(
    browser: Browser, site: Site
) -> None:
    nodes = await site.js.key_value(topology.NODES.name)
    running = await site.js.key_value(topology.PROGRESS.name)
    await nodes.put("node-b", node("node-b", jobs=()))  # already there: the server renders its card
    page = await browser.new_page()
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    await page.goto(f"{site.url}/login?next=/")
    await page.get_by_label("User name").fill(USER)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page).to_have_url(f"{site.url}/")
    await expect(page.locator("#live")).to_have_attribute("data-state", "open", timeout=WAIT_MS)
    await page.evaluate("window.stillTheSamePage = true")
    loaded = len(navigations)
    # The live feed takes over the server's card instead of adding a second one.
    other = page.locator('article.node[data-node="node-b"]')
    await expect(other).to_have_count(1)
    await nodes.put("node-b", node("node-b", state="draining", jobs=()))
    await expect(other.locator(".state")).to_have_text("draining", timeout=WAIT_MS)
    await expect(other).to_have_count(1)

    await nodes.put("node-a", node())
    card = page.locator('article.node[data-node="node-a"]')
    await expect(card).to_be_visible(timeout=WAIT_MS)
    await expect(card.locator(".state")).to_have_text("running")
    await expect(card.locator(".meta")).to_have_text("cpu · 1 slot(s) · v0.1.0")
    await expect(card.locator(".idle")).to_be_visible()

    await running.put("7", progress(20.0))
    bar = card.locator('.job[data-job="7"] .bar')
    await expect(bar).to_have_attribute("aria-valuenow", "20.0", timeout=WAIT_MS)
    await expect(card.locator(".job .path")).to_have_text("Heat (1995).mp4")
    await expect(card.locator(".job .numbers")).to_have_text("20.0 % · 48 fps · 1.90\u00d7 · ETA 1:15")

    async def drawn_at(share: float) -> bool:
        """Whether the bar is filled to ``share`` as the browser draws it (once its transition ends)."""
        filled, whole = await bar.evaluate("b => [b.firstElementChild.offsetWidth, b.clientWidth]")
        return abs(filled / whole - share) < 0.01

    await eventually(lambda: drawn_at(0.20), message="the bar drawn at 20 %")
    await running.put("7", progress(65.0))
    await expect(bar).to_have_attribute("aria-valuenow", "65.0", timeout=WAIT_MS)
    await expect(card.locator(".job .numbers")).to_contain_text("65.0 %")
    await eventually(lambda: drawn_at(0.65), message="the bar drawn at 65 %")
    await page.locator("#nodes").scroll_into_view_if_needed()
    await snap(page, "dashboard")

    await nodes.put("node-a", node(state="paused", jobs=()))
    await expect(page.locator("article.node")).to_have_count(2)  # still one card each, in key order
    assert await page.locator("article.node").evaluate_all("cards => cards.map(c => c.dataset.node)") == [
        "node-a",
        "node-b",
    ]
    await expect(card.locator(".state")).to_have_text("paused", timeout=WAIT_MS)
    await running.delete("7")
    await expect(card.locator(".idle")).to_be_visible(timeout=WAIT_MS)
    await expect(card.locator(".job")).to_have_count(0)
    await nodes.delete("node-a")
    await expect(card).to_have_count(0, timeout=WAIT_MS)
    await nodes.purge("node-b")
    await expect(other).to_have_count(0, timeout=WAIT_MS)
    await expect(page.locator("#nodes")).to_contain_text("No encoder is connected.")

    assert await page.evaluate("window.stillTheSamePage") is True
    assert len(navigations) == loaded, navigations  # every change arrived without a reload
