"""Review before replace in a real browser, on the real cluster with real clips and real ffmpeg: the Queue
page's "ready to replace" filter lists the waiting outputs with both sizes, the saving, VMAF and a preview
frame of each file; one is accepted from its row, the other ticked and rejected, and each row follows its job
to the end live. The accepted output is in its original's place, the rejected one is gone, its original
untouched; the Options page shows the folder's review box ticked."""

from __future__ import annotations

from pathlib import Path

from librarrarian_testing import library
from playwright.async_api import Browser, expect

from .browsing import WAIT_MS, logged_in, snap
from .reviewing import reviewed_folder, reviewed_library
from .sites import Site


async def test_accept_and_reject_in_the_queue(
    browser: Browser, reviewed_site: Site, shared_media: Path
) -> None:
    site = reviewed_site
    async with reviewed_library(site, shared_media) as waiting:
        accepted, rejected = waiting["bigbuckbunny.mp4"], waiting["bikes.mp4"]
        accepted_output = library.sha256(accepted.output)

        page = await logged_in(browser, site, "/queue")
        await page.get_by_role("link", name="ready to replace (2)").click()
        await expect(page).to_have_url(f"{site.url}/queue?status=ready_to_replace")
        await expect(page.locator("#live")).to_have_attribute("data-state", "open", timeout=WAIT_MS)
        rows = page.locator("#jobs tr[data-job]")
        await expect(rows).to_have_count(2, timeout=WAIT_MS)
        for one in waiting.values():
            row = rows.filter(has_text=one.original.name)
            await expect(row.locator(".status")).to_have_text("ready_to_replace")
            await expect(row.locator(".saving")).to_contain_text("saved")
            await expect(row.locator(".vmaf")).to_contain_text(f"VMAF {one.job['vmaf']:.1f}")
            frames = row.locator(".previews img")
            await expect(frames).to_have_count(2)
            for index in range(2):
                frame = frames.nth(index)
                await frame.scroll_into_view_if_needed()
                await expect(frame).to_have_js_property("complete", True, timeout=WAIT_MS)
                assert await frame.evaluate("img => img.naturalWidth") > 0  # a real picture, served
        await snap(page, "queue-ready-to-replace")

        first = rows.filter(has_text=accepted.original.name)
        await first.get_by_role("button", name="Accept").click()
        await expect(first.locator(".status")).to_have_text("done", timeout=WAIT_MS)

        page.on("dialog", lambda dialog: dialog.accept())
        second = rows.filter(has_text=rejected.original.name)
        await second.get_by_role("checkbox").check()
        await page.get_by_role("button", name="Reject the ticked outputs").click()
        await expect(page.locator("#queue-message")).to_contain_text("1 output(s) rejected", timeout=WAIT_MS)
        await expect(second.locator(".status")).to_have_text("skipped", timeout=WAIT_MS)
        await expect(second.locator(".reason")).to_contain_text("rejected in review")
        await snap(page, "queue-reviewed")

        options = await logged_in(browser, site, "/options?view=advanced")
        folder_row = options.locator("#folders tbody tr").filter(
            has=options.locator(f"input[name=path][value='{reviewed_folder(site.media)}']")
        )
        await expect(folder_row.locator("input[name=review]")).to_be_checked(timeout=WAIT_MS)

    assert library.sha256(accepted.original) == accepted_output
    assert library.sha256(rejected.original) == rejected.digest
    assert not accepted.output.exists() and not rejected.output.exists()
