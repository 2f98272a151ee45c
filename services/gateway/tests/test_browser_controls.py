"""The dashboard's controls and signals in a real browser: a real encoder paused, resumed, stopped and
started from its card and the queue paused; the banner for a node of another version; the tiles following
finished jobs. All without a reload."""

from __future__ import annotations

import asyncio
from importlib.metadata import version
from pathlib import Path

import msgspec
from librarrarian_contracts import JobCompleted, encode, publish, topology
from librarrarian_contracts.settings import QUEUE_KEY, QueueControl
from librarrarian_contracts.views import NodeStatus
from librarrarian_encoder import service as encoder
from librarrarian_encoder.settings import Settings as EncoderSettings
from playwright.async_api import Browser, expect

from .browsing import WAIT_MS, logged_in, snap
from .sites import Site


async def test_a_real_node_is_paused_resumed_stopped_and_started_from_its_card(
    browser: Browser, site: Site, nats_url: str, tmp_path: Path
) -> None:
    """The buttons write the node's control; the real encoder obeys and its new state comes back live."""
    media = tmp_path / "library"
    media.mkdir()
    stopping = asyncio.Event()
    node_task = asyncio.create_task(
        encoder.run(
            EncoderSettings(nats_url=nats_url, media_paths=(media,), node="box"),
            stopping,
        )
    )
    try:
        page = await logged_in(browser, site, "/")
        await page.evaluate("window.stillTheSamePage = true")
        card = page.locator('article.node[data-node="box"]')
        state = card.locator(".state")
        await expect(state).to_have_text("running", timeout=30_000)  # detection takes a moment

        for button, after in (
            ("Pause", "paused"),
            ("Resume", "running"),
            ("Stop", "stopped"),
            ("Start", "running"),
        ):
            await card.get_by_role("button", name=button, exact=True).click()
            await expect(state).to_have_text(after, timeout=WAIT_MS)

        queue = page.locator("#queue-toggle")
        await expect(queue).to_have_text("Pause the queue")
        await queue.click()
        await expect(queue).to_have_text("Resume the queue", timeout=WAIT_MS)
        await expect(state).to_have_text("queue paused", timeout=WAIT_MS)
        settings_kv = await site.js.key_value(topology.SETTINGS.name)
        stored = msgspec.json.decode((await settings_kv.get(QUEUE_KEY)).value or b"", type=QueueControl)
        assert stored.paused
        await queue.click()
        await expect(state).to_have_text("running", timeout=WAIT_MS)
        await snap(page, "node-controls")
        assert await page.evaluate("window.stillTheSamePage") is True
    finally:
        stopping.set()
        await asyncio.wait_for(node_task, 30)


async def test_a_node_of_another_version_gets_a_banner_and_the_tiles_follow_finished_jobs(
    browser: Browser, site: Site
) -> None:
    mine = version("librarrarian-gateway")
    nodes = await site.js.key_value(topology.NODES.name)
    page = await logged_in(browser, site, "/")
    await expect(page.locator("#live")).to_have_attribute("data-state", "open", timeout=WAIT_MS)
    await page.evaluate("window.stillTheSamePage = true")
    banner = page.locator("#version-banner")
    await expect(banner).to_be_hidden()

    same = NodeStatus(node="new", hostname="a", version=mine, classes=("cpu",), slots=1, state="running")
    old = msgspec.structs.replace(same, node="old", version="0.0.1")
    await nodes.put("new", encode(same))
    await nodes.put("old", encode(old))
    await expect(banner).to_be_visible(timeout=WAIT_MS)
    await expect(banner).to_contain_text(f"old runs another version than the dashboard ({mine})")
    await nodes.delete("old")
    await expect(banner).to_be_hidden(timeout=WAIT_MS)

    encoded = page.locator('[data-tile="files_encoded"]')
    before = int(await encoded.inner_text())
    await publish(
        site.js,
        JobCompleted(
            job_id=501,
            attempt=1,
            node="new",
            path="/m/Movies/Ran (1985).mkv",
            output_path="/m/Movies/Ran (1985).mkv",
            encoder="libx265",
            codec_before="h264",
            codec_after="hevc",
            size_before=3_000_000_000,
            size_after=1_000_000_000,
            duration=9600.0,
            elapsed_seconds=3000.0,
        ),
    )
    await expect(encoded).to_have_text(str(before + 1), timeout=WAIT_MS)
    await expect(page.locator('[data-tile="bytes_saved"]')).to_contain_text("GB")
    assert await page.evaluate("window.stillTheSamePage") is True
