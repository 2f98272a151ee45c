"""The Queue and Failed pages show what the scheduler's record says, in a real browser with the real
scheduler: each row follows the job's ``job-state`` events without a reload (a retry waiting is pending with
its retry time, a job that failed for good is failed with its reason), an older version never sets a row
back, and after a reconnect a page reads its rows again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from librarrarian_contracts import FileIdentity, JobStarted, StaleFileFound, publish
from librarrarian_testing import eventually
from nats.aio.client import Client
from nats.js import JetStreamContext
from playwright.async_api import Browser, Page, expect

from .browsing import WAIT_MS, log_in, logged_in, snap
from .seeds import failure, queue_file, queue_files
from .sites import Site, gateway_settings, running_site

RETRIED, HOPELESS = "/m/TV/Retried.mkv", "/m/TV/Hopeless.mkv"
RECONNECT_MS = 40_000  # live.js waits longer after each failed connection (2, 4, 8, 16 s)


@pytest.fixture
async def two_attempts(
    nats_url: str, database_url: str, tmp_path: Path, bus: tuple[Client, JetStreamContext]
) -> AsyncIterator[Site]:
    """The site with a scheduler that tries each job twice, the second time ten minutes after the first."""
    settings = gateway_settings(nats_url, database_url, tmp_path)
    async with running_site(settings, bus[1], max_attempts=2, retry_delay_seconds=600) as site:
        yield site


async def started(site: Site, job_id: int, path: str, node: str = "box", attempt: int = 1) -> None:
    await publish(site.js, JobStarted(job_id=job_id, attempt=attempt, delivery=1, node=node, path=path))


async def record(site: Site, job_id: int, **wanted: object) -> dict[str, object]:
    """The scheduler's record of the job, once it says what is ``wanted``."""
    async with site.client() as api:

        async def reached() -> dict[str, object] | None:
            job: dict[str, object] = (await api.get(f"/api/v1/jobs/{job_id}")).json()
            return job if wanted.items() <= job.items() else None

        return await eventually(reached, message=f"job {job_id} with {wanted}")


async def live_queue(browser: Browser, site: Site) -> Page:
    """The queue logged in (its clock on UTC), its live feed open, and marked to tell a reload."""
    page = await logged_in(browser, site, "/queue", timezone_id="UTC")
    await expect(page.locator("#live")).to_have_attribute("data-state", "open", timeout=WAIT_MS)
    await page.evaluate("window.stillTheSamePage = true")
    return page


async def test_a_retry_waiting_and_a_job_failed_for_good_show_as_recorded(
    browser: Browser, two_attempts: Site
) -> None:
    site = two_attempts
    ids = await queue_files(site, RETRIED, HOPELESS)
    page = await live_queue(browser, site)
    retried = page.locator(f'#jobs tr[data-job="{ids[RETRIED]}"]')
    hopeless = page.locator(f'#jobs tr[data-job="{ids[HOPELESS]}"]')
    for path, job_id in ids.items():
        await started(site, job_id, path)
        await publish(site.js, failure(job_id, path, "frame 120: stalled", retryable=True, reason="stalled"))
    waiting = await record(site, ids[RETRIED], status="pending", attempts=2)
    retry_at = datetime.fromisoformat(str(waiting["retry_at"])).astimezone(UTC)
    # Its second attempt fails too, though the node would retry it: no attempt is left.
    await record(site, ids[HOPELESS], status="pending", attempts=2)
    await started(site, ids[HOPELESS], HOPELESS, attempt=2)
    await publish(
        site.js, failure(ids[HOPELESS], HOPELESS, "[matroska] invalid EBML header", retryable=True, attempt=2)
    )

    # A failed attempt with an attempt left: pending until its retry, with the failure's reason.
    await expect(retried.locator(".status")).to_have_text("pending", timeout=WAIT_MS)
    await expect(retried.locator(".retry")).to_have_text(f"retry at {retry_at:%H:%M:%S}")
    await expect(retried.locator(".attempts")).to_have_text("2")
    await expect(retried.locator(".reason")).to_contain_text("stalled")
    await expect(retried.locator(".node")).to_have_text("\u2013")  # no node holds it now
    await expect(retried.get_by_role("button", name="Delete")).to_be_visible()
    # Failed for good: failed, with its reason and its log (read when opened: events carry none).
    await expect(hopeless.locator(".status")).to_have_text("failed", timeout=WAIT_MS)
    await expect(hopeless.locator(".reason")).to_contain_text("ffmpeg exited 1")
    await expect(hopeless.locator(".retry")).to_have_count(0)
    await expect(hopeless.locator(".attempts")).to_have_text("2")
    await expect(hopeless.locator(".finished")).not_to_have_text("\u2013")
    await hopeless.locator("details.log summary").click()
    await expect(hopeless.locator("details.log pre")).to_have_text("[matroska] invalid EBML header")
    await snap(page, "queue-job-state")
    assert await page.evaluate("window.stillTheSamePage") is True


async def test_rows_follow_the_record_and_new_jobs_join_without_reloading(
    browser: Browser, site: Site
) -> None:
    job_id = await queue_file(site, "/m/TV/Live.mkv")
    page = await live_queue(browser, site)
    row = page.locator(f'#jobs tr[data-job="{job_id}"]')
    await expect(row.locator(".status")).to_have_text("pending")
    await expect(row.get_by_role("button", name="Delete")).to_be_visible()

    await started(site, job_id, "/m/TV/Live.mkv")
    await expect(row.locator(".status")).to_have_text("running", timeout=WAIT_MS)
    await expect(row.locator(".node")).to_have_text("box")
    await expect(row.locator(".started")).not_to_have_text("\u2013")
    await expect(row.get_by_role("button", name="Delete")).to_have_count(0)  # a running job is not deleted

    # A report about a job the scheduler has no record of shows nowhere.
    await started(site, job_id + 100, "/m/TV/Unknown.mkv", node="box2")
    newer = await queue_file(site, "/m/TV/New.mkv", inode=2)
    added = page.locator(f'#jobs tr[data-job="{newer}"]')
    await expect(added).to_contain_text("New.mkv", timeout=WAIT_MS)
    await expect(added.locator(".status")).to_have_text("pending")
    assert await page.locator("#jobs tr[data-job]").evaluate_all("rows => rows.map(r => r.dataset.job)") == [
        str(newer),
        str(job_id),
    ]
    assert await page.evaluate("window.stillTheSamePage") is True


async def test_an_older_version_never_sets_a_row_back(browser: Browser, site: Site) -> None:
    job_id = await queue_file(site, "/m/TV/Late.mkv")
    page = await live_queue(browser, site)
    row = page.locator(f'#jobs tr[data-job="{job_id}"]')
    await started(site, job_id, "/m/TV/Late.mkv")
    await expect(row.locator(".status")).to_have_text("running", timeout=WAIT_MS)
    running = await record(site, job_id, status="running")

    # The pending record from before the start, arriving late: the page hears it (synchronously) and keeps
    # the newer one. Then the same record one version on is shown.
    earlier = {**running, "status": "pending", "node": None, "version": int(str(running["version"])) - 1}
    later = {**running, "status": "done", "version": int(str(running["version"])) + 1}
    dispatch = "(detail) => document.dispatchEvent(new CustomEvent('live:job-state', { detail }))"
    await page.evaluate(dispatch, {"change": "queued", "job": earlier})
    assert await row.locator(".status").inner_text() == "running"
    await expect(row.locator(".node")).to_have_text("box")
    await page.evaluate(dispatch, {"change": "done", "job": later})
    assert await row.locator(".status").inner_text() == "done"


async def test_after_a_reconnect_the_queue_reads_its_rows_again(browser: Browser, site: Site) -> None:
    first = await queue_file(site, "/m/TV/First.mkv")
    context = await browser.new_context()
    # The live feed is cut from the start: what changes reaches the page only when it reads its rows again.
    await context.route("**/api/v1/events", lambda route: route.abort())
    page = await log_in(await context.new_page(), site, "/queue?status=pending")
    await page.evaluate("window.stillTheSamePage = true")
    rows = page.locator("#jobs tr[data-job]")
    await expect(rows).to_have_count(1)
    second = await queue_file(site, "/m/TV/Second.mkv", inode=2)
    async with site.client() as api:
        assert (await api.delete(f"/api/v1/jobs/{first}")).status_code == 200
    assert await rows.evaluate_all("rows => rows.map(r => r.dataset.job)") == [str(first)]  # nothing heard

    await context.unroute("**/api/v1/events")  # live.js connects again, and its snapshot has the rows read
    await expect(page.locator("#live")).to_have_attribute("data-state", "open", timeout=RECONNECT_MS)
    await expect(page.locator(f'#jobs tr[data-job="{second}"]')).to_be_visible(timeout=WAIT_MS)
    await expect(rows).to_have_count(1)
    assert await page.evaluate("window.stillTheSamePage") is True


async def test_the_failed_page_follows_the_record(browser: Browser, site: Site) -> None:
    job_id = await queue_file(site, "/m/TV/Broken.mkv")
    # The page has no live indicator: a change before its feed opens is read with the feed's snapshot.
    page = await logged_in(browser, site, "/failed")
    await page.evaluate("window.stillTheSamePage = true")
    await expect(page.locator("#failed")).to_contain_text("No failed jobs.")
    await publish(site.js, failure(job_id, "/m/TV/Broken.mkv", "Conversion failed!"))
    item = page.locator(f'article.failed-job[data-job="{job_id}"]')
    await expect(item.locator(".reason")).to_contain_text("ffmpeg exited 1", timeout=WAIT_MS)
    await expect(item.locator("pre.log")).to_have_text("Conversion failed!")  # read with the list

    async with site.client() as api:  # retried elsewhere (the API): it leaves the page
        assert (await api.post(f"/api/v1/jobs/{job_id}/retry")).status_code == 200
    await expect(item).to_have_count(0, timeout=WAIT_MS)
    await expect(page.locator("#failed")).to_contain_text("No failed jobs.")
    assert await page.evaluate("window.stillTheSamePage") is True


async def test_a_job_awaiting_approval_that_arrives_live_can_be_released(
    browser: Browser, site: Site
) -> None:
    page = await live_queue(browser, site)
    release_all = page.get_by_role("button", name="Release all awaiting jobs")
    await expect(release_all).to_be_disabled()  # nothing awaits approval yet
    identity = FileIdentity(size=10, mtime_ns=1, inode=9)
    await publish(site.js, StaleFileFound(path=str(site.media / ".tmp_left"), identity=identity, why="old"))
    row = page.locator("#jobs tr[data-job]")
    await expect(row.locator(".status")).to_have_text("awaiting_approval", timeout=WAIT_MS)
    await expect(release_all).to_be_enabled()

    page.on("dialog", lambda dialog: dialog.accept())
    await release_all.click()
    await expect(page.locator("#queue-message")).to_have_text("1 job(s) released: they are queued.")
    await expect(row.locator(".status")).to_have_text(
        "pending", timeout=WAIT_MS
    )  # no cleanup service takes it
    await expect(release_all).to_be_disabled()
    assert await page.evaluate("window.stillTheSamePage") is True


async def test_released_rows_stay_on_the_awaiting_page_as_their_jobs_go_on(
    browser: Browser, site: Site
) -> None:
    """The page lists jobs awaiting approval; a released one leaves that filter but its row follows it,
    also when the page reads its list again (after the next release) and the list no longer holds it."""
    identity = FileIdentity(size=10, mtime_ns=1, inode=9)
    for name in (".tmp_first", ".tmp_second"):
        await publish(site.js, StaleFileFound(path=str(site.media / name), identity=identity, why="old"))
    page = await logged_in(browser, site, "/queue?status=awaiting_approval")
    rows = page.locator("#jobs tr[data-job]")
    await expect(rows).to_have_count(2, timeout=WAIT_MS)
    first, second = rows.filter(has_text=".tmp_first"), rows.filter(has_text=".tmp_second")

    await first.get_by_role("button", name="Release").click()
    await expect(first.locator(".status")).to_have_text("pending", timeout=WAIT_MS)  # no cleanup service
    await second.get_by_role("button", name="Release").click()
    await expect(second.locator(".status")).to_have_text("pending", timeout=WAIT_MS)
    await expect(page.locator("#queue-message")).to_contain_text("released: it is queued.")
    await page.wait_for_load_state("networkidle")  # the list read after the second release has come back
    await expect(first.locator(".status")).to_have_text("pending")
    await expect(rows).to_have_count(2)


async def test_a_waiting_transcode_is_moved_to_the_top_or_bottom_from_the_queue(
    browser: Browser, site: Site
) -> None:
    paths = [f"/m/TV/Wait {n}.mkv" for n in range(4)]
    ids = await queue_files(site, *paths, first_inode=10)
    page = await live_queue(browser, site)
    # Three (the default window) were handed to the encoders at once; the fourth waits in the scheduler's order.
    held = page.locator(f'#jobs tr[data-job="{ids[paths[3]]}"]')
    await held.get_by_role("button", name="Top").click()
    await expect(page.locator("#queue-message")).to_have_text(
        f"Job {ids[paths[3]]}: moved to the top.", timeout=WAIT_MS
    )
    released = page.locator(f'#jobs tr[data-job="{ids[paths[0]]}"]')
    await released.get_by_role("button", name="Bottom").click()
    await expect(page.locator("#queue-message")).to_contain_text("keeps its place there", timeout=WAIT_MS)
    await started(site, ids[paths[1]], paths[1])
    running = page.locator(f'#jobs tr[data-job="{ids[paths[1]]}"]')
    await expect(running.locator(".status")).to_have_text("running", timeout=WAIT_MS)
    await expect(running.get_by_role("button", name="Top")).to_have_count(0)  # only a waiting job moves
