"""The dashboard in a real browser: Playwright driving Debian's Chromium (``browsing.py``) against a real
gateway, scheduler and history on NATS and PostgreSQL. Logs in through the form, loads every page, and
watches a node card and its progress bar follow the KV buckets without the page reloading."""

from __future__ import annotations

from datetime import datetime

import msgspec
from librarrarian_contracts import encode, topology
from librarrarian_contracts.enums import FfmpegOrigin, HwClass, NodeState
from librarrarian_contracts.settings import NodeSchedule, ScheduleWindow, schedule_key
from librarrarian_contracts.views import FfmpegUse, NodeStatus, ScheduleStatus
from librarrarian_gateway import formatting
from librarrarian_testing import eventually
from playwright.async_api import Browser, expect

from .browsing import WAIT_MS, log_in, logged_in, snap
from .seeds import node, progress, seed_queue_and_history
from .sites import PASSWORD, USER, Site

SYSTEM, BUNDLED = FfmpegOrigin.SYSTEM, FfmpegOrigin.BUNDLED


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
    await nodes.put("node-b", node("node-b", jobs=()))  # already there: the page is rendered with it
    page = await browser.new_page()
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    await log_in(page, site, "/")
    await expect(page.locator("#live")).to_have_attribute("data-state", "open", timeout=WAIT_MS)
    await page.evaluate("window.stillTheSamePage = true")
    loaded = len(navigations)
    # The live feed's snapshot takes over the card drawn from the page's own nodes instead of adding one.
    other = page.locator('article.node[data-node="node-b"]')
    await expect(other).to_have_count(1)
    await nodes.put("node-b", node("node-b", state="draining", jobs=(), library=False))
    await expect(other.locator(".state")).to_have_text("draining", timeout=WAIT_MS)
    await expect(other.locator(".meta")).to_have_text("cpu · 1 slot(s) · v0.1.0 · no library: segments only")
    await expect(other).to_have_count(1)

    await nodes.put("node-a", node())
    card = page.locator('article.node[data-node="node-a"]')
    await expect(card).to_be_visible(timeout=WAIT_MS)
    await expect(card.locator(".state")).to_have_text("running")
    await expect(card.locator(".meta")).to_have_text("cpu · 1 slot(s) · v0.1.0")
    await expect(card.locator(".idle")).to_be_visible()

    # A target-VMAF job first searches its level: the search's own percent, no fps or ETA.
    await running.put("7", progress(30.0, phase="searching"))
    bar = card.locator('.job[data-job="7"] .bar')
    await expect(bar).to_have_attribute("aria-valuenow", "30.0", timeout=WAIT_MS)
    await expect(card.locator(".job .numbers")).to_have_text("searching quality · 30.0 %")
    await expect(card.locator(".job")).to_have_class("job searching")

    await running.put("7", progress(20.0))
    await expect(bar).to_have_attribute("aria-valuenow", "20.0", timeout=WAIT_MS)
    await expect(card.locator(".job .path")).to_have_text("Heat (1995).mp4")
    await expect(card.locator(".job .numbers")).to_have_text("20.0 % · 48 fps · 1.90\u00d7 · ETA 1:15")
    await expect(card.locator(".job")).to_have_class("job")

    async def drawn_at(share: float) -> bool:
        """Whether the bar is filled to ``share`` as the browser draws it (once its transition ends)."""
        filled, whole = await bar.evaluate("b => [b.firstElementChild.offsetWidth, b.clientWidth]")
        return abs(filled / whole - share) < 0.01

    await eventually(lambda: drawn_at(0.20), message="the bar drawn at 20 %")
    # A file in segments across nodes: the segments done and who encoded them, no one ffmpeg's fps.
    await running.put("7", progress(40.0, segments_done=2, segments=5, nodes=("node-a", "node-b")))
    await expect(card.locator(".job .numbers")).to_have_text(
        "40.0 % · segments 2/5 by node-a, node-b · 1.90\u00d7 · ETA 1:15", timeout=WAIT_MS
    )
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
    watched = NodeStatus(
        node="node-a",
        hostname="box",
        version="0.1.0",
        classes=(HwClass.CPU,),
        slots=1,
        state=NodeState.PAUSED_FOR_PLAYBACK,
        jobs=(7,),
        paused_for="someone is watching on Plex",
    )
    await nodes.put("node-a", encode(watched))
    await expect(card.locator(".state")).to_have_text("paused: someone is watching on Plex", timeout=WAIT_MS)
    # Its own pause, not the user's: the user may still pause it (no Resume: it resumes by itself).
    await expect(card.locator(".controls button")).to_have_text(["Pause", "Stop", "Stop now"])
    async with site.client() as api:
        (listed,) = [n for n in (await api.get("/api/v1/nodes")).json() if n["node"] == "node-a"]
    assert (listed["state"], listed["paused_for"]) == ("paused for playback", "someone is watching on Plex")
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


async def test_the_browser_formats_numbers_as_the_server_does(browser: Browser, site: Site) -> None:
    """Pages drawn on the server (formatting.py) and in the browser (lib.js) read the same numbers alike."""
    samples = {
        "size": [0, 1, 999, 1000, 1250, 999_950, 1_249_999, 1_200_000_000, 10**13, 1.5e15, -1500, None],
        "percent": [0, 0.6, 0.125, 0.005, 1 / 3, 1, None],
        "duration": [0, 0.5, 59.5, 61, 900, 3599.5, 3725.5, 86_400, None],
    }
    page = await browser.new_page()
    await page.goto(f"{site.url}/login")
    for name, values in samples.items():
        shown = await page.evaluate(
            "([name, values]) => values.map((v) => window.librarrarian.format[name](v))", [name, values]
        )
        assert shown == [getattr(formatting, name)(v) for v in values], name


async def test_a_node_card_says_which_ffmpeg_each_purpose_runs_and_why(browser: Browser, site: Site) -> None:
    status = NodeStatus(
        node="node-a",
        hostname="box",
        version="0.1.0",
        classes=("nvenc", "cpu"),
        slots=1,
        state="running",
        ffmpeg=(
            FfmpegUse(
                purpose="nvenc", path="/usr/bin/ffmpeg", version="7.1", origin=SYSTEM, why="has hevc_nvenc"
            ),
            FfmpegUse(purpose="vmaf", path="/opt/ffmpeg", version="7.0.2", origin=BUNDLED, why="libvmaf"),
        ),
    )
    await (await site.js.key_value(topology.NODES.name)).put("node-a", encode(status))
    page = await logged_in(browser, site, "/")
    lines = page.locator('article.node[data-node="node-a"] .ffmpeg li')
    await expect(lines).to_have_text(
        ["nvenc: ffmpeg 7.1 (system) — has hevc_nvenc", "vmaf: ffmpeg 7.0.2 (bundled) — libvmaf"],
        timeout=WAIT_MS,
    )
    await expect(lines.first).to_have_attribute("title", "/usr/bin/ffmpeg")


async def test_a_node_card_shows_its_schedule_its_unusable_classes_and_edits_its_windows(
    browser: Browser, site: Site
) -> None:
    status = NodeStatus(
        node="night",
        hostname="box",
        version="0.1.0",
        classes=(HwClass.CPU,),
        slots=1,
        state=NodeState.OFF_SCHEDULE,
        unusable={HwClass.NVENC: "hevc_nvenc: Cannot load libcuda.so.1", HwClass.QSV: "no device"},
        schedule=ScheduleStatus(
            time_zone="Europe/Paris",
            windows=(ScheduleWindow(days=("mon", "tue", "wed", "thu", "fri"), start="22:00", end="06:00"),),
            open=False,
            next_start=datetime.fromisoformat("2025-03-07T22:00+01:00"),
            next_end=datetime.fromisoformat("2025-03-08T06:00+01:00"),
        ),
    )
    await (await site.js.key_value(topology.NODES.name)).put("night", encode(status))
    # The browser is in another time zone than the node: the card speaks the node's.
    page = await logged_in(browser, site, "/", timezone_id="America/New_York")
    card = page.locator('article.node[data-node="night"]')
    await expect(card.locator(".state")).to_have_text("off schedule", timeout=WAIT_MS)
    await expect(card.locator(".schedule-line")).to_have_text(
        "Schedule (Europe/Paris): Mon\N{EN DASH}Fri 22:00\N{EN DASH}06:00 · next window Fri 7 Mar "
        "22:00\N{EN DASH}Sat 8 Mar 06:00"
    )
    await expect(
        card.get_by_role("list", name="Hardware classes not usable here").locator("li")
    ).to_have_text(["nvenc: hevc_nvenc: Cannot load libcuda.so.1", "qsv: no device"])
    await expect(card.get_by_role("button", name="Stop", exact=True)).to_be_visible()

    await card.locator("summary", has_text="Schedule").click()
    await card.get_by_role("button", name="Add a window").click()
    window = card.locator(".schedule-edit .window")
    await expect(window).to_have_count(1)
    for day in ("Sat", "Sun"):
        await window.get_by_label(day).uncheck()
    await window.get_by_label("from").fill("01:30")
    await window.get_by_label("to").fill("07:00")
    await card.get_by_role("button", name="Save the schedule").click()
    await expect(card.get_by_role("status")).to_have_text("Saved.")
    stored = await eventually(lambda: _schedule(site, "night"), message="the schedule stored")
    assert stored.windows == (
        ScheduleWindow(days=("mon", "tue", "wed", "thu", "fri"), start="01:30", end="07:00"),
    )

    # A bad window is refused with the reason and changes nothing.
    await window.get_by_label("Mon").uncheck()
    for day in ("Tue", "Wed", "Thu", "Fri"):
        await window.get_by_label(day).uncheck()
    await card.get_by_role("button", name="Save the schedule").click()
    await expect(card.get_by_role("status")).to_contain_text("Not saved: invalid schedule")
    assert (await _schedule(site, "night")).windows == stored.windows


async def _schedule(site: Site, node: str) -> NodeSchedule:
    entry = await (await site.js.key_value(topology.SETTINGS.name)).get(schedule_key(node))
    return msgspec.json.decode(entry.value or b"", type=NodeSchedule)
