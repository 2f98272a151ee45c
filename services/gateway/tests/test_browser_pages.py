"""The Queue, Failed, History details, Statistics and Options pages in a real browser (Playwright driving the
system Chromium, ``browsing.py``) against a real gateway, scheduler and history on NATS and PostgreSQL:
filters, deleting and retrying jobs, charts, settings saved and refused, and the theme. How the queue's rows
follow the scheduler's record live is ``test_browser_job_state.py``'s."""

from __future__ import annotations

import msgspec
from librarrarian_contracts import publish, sources, topology
from librarrarian_testing import eventually
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from playwright.async_api import Browser, Page, expect

from .browsing import WAIT_MS, logged_in, snap
from .seeds import failure, queue_file, seed_queue_and_history
from .sites import Site


async def test_every_new_page_loads_from_the_navigation(browser: Browser, site: Site) -> None:
    await seed_queue_and_history(site)
    page = await logged_in(browser, site, "/")
    for link, heading in (("Failed", "Failed"), ("Statistics", "Statistics"), ("Options", "Options")):
        await page.get_by_role("navigation").get_by_role("link", name=link, exact=True).click()
        await expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
        await expect(page.locator("main > .problem")).to_have_count(0)  # every query answered
    # Options: no scanner runs here, so the integrations say so instead of showing controls.
    await expect(page.locator("#sources-problem")).to_contain_text("unavailable")

    await page.get_by_role("link", name="Failed", exact=True).click()
    await expect(page.locator("#failed")).to_contain_text("No failed jobs.")

    await page.get_by_role("link", name="Statistics", exact=True).click()
    await expect(page.locator("#chart-saved svg .dot")).to_have_count(1)
    await expect(page.locator("#chart-before svg")).to_contain_text("h264")
    await expect(page.locator("#chart-after svg")).to_contain_text("hevc")
    await expect(page.locator("#chart-nodes svg")).to_contain_text("node-a")
    await expect(page.locator("#chart-speed svg")).to_contain_text("3.00\u00d7 real time")
    await expect(page.locator("#chart-vmaf")).to_contain_text("No VMAF measured in this period")
    await expect(page.locator("#chart-vs-fixed")).to_contain_text(
        "Nothing encoded by target VMAF in this period."
    )
    await snap(page, "statistics")

    await page.get_by_role("link", name="History", exact=True).click()
    await page.get_by_role("link", name="Show S01E01.mkv").click()
    await expect(page).to_have_url(f"{site.url}/history/1")
    details = page.locator("dl.details")
    await expect(details).to_contain_text("h264 → hevc")
    await expect(details).to_contain_text("2.0 GB → 800.0 MB (60 % smaller)")
    await expect(details).to_contain_text("libx265")
    await expect(details).to_contain_text("15:00 (3.00\u00d7 real time)")  # time taken
    await page.get_by_text("ffmpeg log").click()
    await expect(page.locator(".ffmpeg-log pre")).to_have_text(
        "[matroska @ 0x55d1] Starting new cluster due to timestamp"
    )
    await snap(page, "history-details")

    await page.get_by_role("link", name="Queue", exact=True).click()
    await page.get_by_role("navigation", name="Type").get_by_role("link", name="transcode").click()
    await expect(page).to_have_url(f"{site.url}/queue?kind=transcode")
    await expect(page.locator("#jobs tbody tr[data-job]")).to_have_count(1)
    await page.get_by_role("navigation", name="Status").get_by_role("link", name="failed").click()
    await expect(page).to_have_url(f"{site.url}/queue?status=failed&kind=transcode")
    await expect(page.locator("#jobs tbody")).to_contain_text("No jobs.")


async def test_a_setting_changed_on_options_is_stored_and_shown_after_reload(
    browser: Browser, site: Site
) -> None:
    page = await logged_in(browser, site, "/options")
    form = page.locator("#transcode")
    await expect(page.get_by_label("Minimum size (MB)")).to_be_hidden()  # Standard view
    await page.get_by_label("Target codec").select_option("av1")
    await page.get_by_label("VP9").uncheck()
    await page.get_by_role("link", name="All", exact=True).click()
    await expect(form).to_have_attribute("data-view", "all")
    await page.get_by_label("x265 1080p level").fill("19")
    await page.get_by_label("nvenc 4K 10-bit").check()
    await expect(page.get_by_label("Skip every Dolby Vision file")).not_to_be_checked()
    await page.get_by_label("Replace files that have other names (hard links)").check()
    await page.get_by_role("button", name="Save", exact=True).click()
    await expect(page.locator("#transcode-message")).to_have_text("Saved.", timeout=WAIT_MS)
    await snap(page, "options")

    async with site.client() as client:
        stored = (await client.get("/api/v1/settings/transcode")).json()
    assert (stored["target_codec"], stored["reencode_vp9"]) == ("av1", False)
    assert stored["quality"]["x265"]["1080p"]["level"] == 19  # not the default (20)
    assert stored["quality"]["nvenc"]["4k"]["ten_bit"] is True
    assert stored["quality"]["x265"]["4k"]["level"] == 26  # untouched
    assert (stored["replace_hard_links"], stored["skip_dolby_vision"]) == (True, False)

    await page.reload()
    await expect(page).to_have_url(f"{site.url}/options?view=all")
    await expect(page.get_by_label("Target codec")).to_have_value("av1")
    await expect(page.get_by_label("VP9")).not_to_be_checked()
    await expect(page.get_by_label("x265 1080p level")).to_have_value("19")
    await expect(page.get_by_label("Replace files that have other names (hard links)")).to_be_checked()


async def test_a_refused_setting_shows_the_reason_and_keeps_the_form(browser: Browser, site: Site) -> None:
    page = await logged_in(browser, site, "/options?view=advanced")
    await page.get_by_label("Target codec").select_option("av1")
    stall = page.get_by_label("Stop an encode that has not moved for (seconds)")
    await stall.fill("5")
    await page.get_by_role("button", name="Save", exact=True).click()
    error = page.locator("#transcode-error")
    await expect(error).to_be_visible(timeout=WAIT_MS)
    await expect(error).to_contain_text("stall_seconds")
    await expect(stall).to_have_attribute("aria-invalid", "true")
    await expect(stall).to_have_value("5")  # nothing typed is lost
    await expect(page.get_by_label("Target codec")).to_have_value("av1")
    await expect(page.locator("#transcode-message")).to_have_text("Not saved.")
    async with site.client() as client:
        stored = (await client.get("/api/v1/settings/transcode")).json()
    assert (stored["target_codec"], stored["stall_seconds"]) == ("hevc", 300.0)  # nothing half-applied

    await stall.fill("60")
    await page.get_by_role("button", name="Save", exact=True).click()
    await expect(page.locator("#transcode-message")).to_have_text("Saved.", timeout=WAIT_MS)
    await expect(error).to_be_hidden()
    async with site.client() as client:
        stored = (await client.get("/api/v1/settings/transcode")).json()
    assert (stored["target_codec"], stored["stall_seconds"]) == ("av1", 60.0)


async def test_quality_by_target_is_chosen_on_options_and_a_bad_target_is_refused(
    browser: Browser, site: Site
) -> None:
    page = await logged_in(browser, site, "/options")  # the Standard view has it
    choice = page.locator("#quality-choice")
    mode = choice.get_by_role("combobox", name="Quality", exact=True)
    target = choice.get_by_label("Target VMAF", exact=True)
    await expect(mode).to_have_value("fixed")
    await expect(target).to_have_value("95.0")
    await expect(choice.locator(".hint")).to_contain_text("HDR (PQ) sources stay on fixed quality")
    await mode.select_option("target")
    await target.fill("99.7")
    await page.get_by_role("button", name="Save", exact=True).click()
    error = page.locator("#transcode-error")
    await expect(error).to_contain_text("target_vmaf", timeout=WAIT_MS)
    await expect(target).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#transcode-message")).to_have_text("Not saved.")
    async with site.client() as client:
        stored = (await client.get("/api/v1/settings/transcode")).json()
    assert (stored["quality_mode"], stored["target_vmaf"]) == ("fixed", 95.0)  # nothing half-applied

    await target.fill("93.5")
    await page.get_by_role("button", name="Save", exact=True).click()
    await expect(page.locator("#transcode-message")).to_have_text("Saved.", timeout=WAIT_MS)
    await expect(error).to_be_hidden()
    async with site.client() as client:
        stored = (await client.get("/api/v1/settings/transcode")).json()
    assert (stored["quality_mode"], stored["target_vmaf"]) == ("target", 93.5)
    await page.reload()
    await expect(mode).to_have_value("target")
    await expect(target).to_have_value("93.5")


async def test_segments_are_set_on_options_and_a_bad_length_is_refused(browser: Browser, site: Site) -> None:
    page = await logged_in(browser, site, "/options?view=advanced")
    box = page.locator("#segments")
    longer = box.get_by_label("Encode in segments files at least this long (minutes; 0: never)")
    length = box.get_by_label("Segment length (seconds)")
    await expect(longer).to_have_value("0.0")  # off unless chosen
    await longer.fill("45")
    await length.fill("5")
    await page.get_by_role("button", name="Save", exact=True).click()
    await expect(page.locator("#transcode-error")).to_contain_text("segment_seconds", timeout=WAIT_MS)
    await expect(length).to_have_attribute("aria-invalid", "true")
    async with site.client() as client:
        stored = (await client.get("/api/v1/settings/transcode")).json()
    assert (stored["segment_min_minutes"], stored["segment_seconds"]) == (0.0, 60.0)  # nothing half-applied

    await length.fill("90")
    await page.get_by_role("button", name="Save", exact=True).click()
    await expect(page.locator("#transcode-message")).to_have_text("Saved.", timeout=WAIT_MS)
    async with site.client() as client:
        stored = (await client.get("/api/v1/settings/transcode")).json()
    assert (stored["segment_min_minutes"], stored["segment_seconds"]) == (45.0, 90.0)
    await page.reload()
    await expect(longer).to_have_value("45.0")


async def background(page: Page) -> str:
    return str(await page.evaluate("getComputedStyle(document.body).backgroundColor"))


async def test_the_theme_switches_at_once_and_is_one_setting_for_every_browser(
    browser: Browser, site: Site
) -> None:
    page = await logged_in(browser, site, "/options")
    html = page.locator("html")
    await expect(html).to_have_class("theme-system")
    await page.emulate_media(color_scheme="light")
    assert await background(page) == "rgb(247, 247, 245)"

    await page.evaluate("window.sameDocument = true")
    await page.get_by_label("Dark").check()
    await expect(html).to_have_class("theme-dark")
    assert await background(page) == "rgb(20, 20, 22)"
    await expect(page.locator("#theme-message")).to_have_text("Saved.", timeout=WAIT_MS)
    assert await page.evaluate("window.sameDocument") is True  # switched without a reload
    async with site.client() as client:
        assert (await client.get("/api/v1/settings/ui")).json() == {"theme": "dark"}
    await snap(page, "options-dark")
    await page.goto(f"{site.url}/queue")
    await expect(html).to_have_class("theme-dark")

    # Another browser (its own cookies and storage) gets the same theme, rendered by the server itself in
    # the page's class, so no page ever shows the light palette first.
    other = await logged_in(browser, site, "/history")
    await expect(other.locator("html")).to_have_class("theme-dark")
    served = await other.context.request.get(f"{site.url}/history")
    assert '<html lang="en" class="theme-dark">' in await served.text()

    await page.goto(f"{site.url}/options")
    await expect(page.get_by_label("Dark")).to_be_checked()
    await page.emulate_media(color_scheme="dark")
    await page.get_by_label("Light").check()
    await expect(html).to_have_class("theme-light")
    assert await background(page) == "rgb(247, 247, 245)"  # light although the system is dark
    await expect(page.locator("#theme-message")).to_have_text("Saved.", timeout=WAIT_MS)
    await page.reload()
    await expect(html).to_have_class("theme-light")
    assert await background(page) == "rgb(247, 247, 245)"
    await page.get_by_label("Follow the system").check()
    await expect(html).to_have_class("theme-system")
    assert await background(page) == "rgb(20, 20, 22)"
    await expect(page.locator("#theme-message")).to_have_text("Saved.", timeout=WAIT_MS)
    await other.reload()
    await expect(other.locator("html")).to_have_class("theme-system")


async def test_failed_jobs_are_retried_and_deleted_from_the_failed_page(browser: Browser, site: Site) -> None:
    job_id = await queue_file(site, "/m/TV/Broken.mkv", inode=1)
    other = await queue_file(site, "/m/TV/Hopeless.mkv", inode=2)
    await publish(
        site.js, failure(job_id, "/m/TV/Broken.mkv", "[matroska] invalid EBML header\nConversion failed!")
    )
    await publish(site.js, failure(other, "/m/TV/Hopeless.mkv", "truncated"))
    async with site.client() as client:

        async def failed() -> bool:
            items = (await client.get("/api/v1/jobs", params={"status": "failed"})).json()["items"]
            return {j["id"] for j in items} == {job_id, other}

        await eventually(failed, message="jobs failed")
    page = await logged_in(browser, site, "/failed")
    item = page.locator(f'article.failed-job[data-job="{job_id}"]')
    await expect(item).to_contain_text("Broken.mkv", timeout=WAIT_MS)
    await expect(item.locator(".reason")).to_contain_text("ffmpeg exited 1")
    await expect(item.locator("pre.log")).to_have_text("[matroska] invalid EBML header\nConversion failed!")
    await snap(page, "failed")
    await item.get_by_role("button", name="Retry").click()
    await expect(item).to_have_count(0, timeout=WAIT_MS)
    await expect(page.locator("#queue-message")).to_have_text(f"Job {job_id} queued again.")
    hopeless = page.locator(f'article.failed-job[data-job="{other}"]')
    await hopeless.get_by_role("button", name="Delete").click()
    await expect(hopeless).to_have_count(0, timeout=WAIT_MS)
    await expect(page.locator("#queue-message")).to_have_text(f"Job {other} deleted.")
    await expect(page.locator("#failed")).to_contain_text("No failed jobs.")
    async with site.client() as client:
        (job,) = (await client.get("/api/v1/jobs")).json()["items"]
    assert (job["id"], job["status"], job["attempts"]) == (job_id, "pending", 2)


async def test_a_pending_job_is_deleted_from_the_queue_page(browser: Browser, site: Site) -> None:
    keep = await queue_file(site, "/m/TV/Keep.mkv", inode=1)
    gone = await queue_file(site, "/m/TV/Gone.mkv", inode=2)
    page = await logged_in(browser, site, "/queue?status=pending")
    row = page.locator(f'#jobs tr[data-job="{gone}"]')
    await expect(row).to_contain_text("Gone.mkv")
    await row.get_by_role("button", name="Delete").click()
    await expect(row).to_have_count(0, timeout=WAIT_MS)
    await expect(page.locator("#queue-message")).to_have_text(f"Job {gone} deleted.")
    async with site.client() as client:
        items = (await client.get("/api/v1/jobs")).json()["items"]
    assert [j["id"] for j in items] == [keep]
    await page.reload()
    await expect(page.locator("#jobs tr[data-job]")).to_have_count(1)

    page.on("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name="Clear all pending jobs").click()
    await expect(page.locator("#queue-message")).to_have_text("1 pending job(s) deleted.", timeout=WAIT_MS)
    await expect(page.locator("#jobs tbody")).to_contain_text("No jobs.")
    async with site.client() as client:
        assert (await client.get("/api/v1/jobs")).json()["items"] == []


async def test_options_show_what_the_scanner_reports_about_the_integrations(
    browser: Browser, site: Site, bus: tuple[Client, JetStreamContext]
) -> None:
    """What the scanner reports about Plex and Jellyfin (here a stand-in answering its status subject),
    rendered on the server; setting them up is ``test_browser_sources.py``'s."""
    nc, _ = bus
    status = sources.SourcesStatus(
        plex=sources.PlexStatus(configured=True, server_name="Living room", sections=("1", "2")),
        jellyfin=sources.JellyfinStatus(configured=False),
    )

    async def answer(msg: Msg) -> None:
        await msg.respond(msgspec.json.encode(status))

    await nc.subscribe(topology.SOURCES_STATUS, cb=answer)
    page = await logged_in(browser, site, "/options")
    plex, jellyfin = page.locator("#plex-summary"), page.locator("#jellyfin-summary")
    await expect(plex.locator(".status")).to_have_text("linked")
    await expect(plex).to_contain_text("server Living room, 2 libraries")
    await expect(jellyfin.locator(".status")).to_have_text("not configured")
    await expect(page.locator("#plex-form")).to_be_visible()  # linked: the server choice, not the PIN step
    await expect(page.get_by_role("button", name="Link Plex account")).to_be_hidden()
