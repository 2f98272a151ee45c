"""The last backup's outcome on the dashboard, in a real browser against a real gateway: a failure is an
alert with its reason and the last good backup, a success one quiet line, and the page follows the
``backups`` bucket's ``status`` key live, as the backup duty writes it."""

from __future__ import annotations

from datetime import UTC, datetime

from librarrarian_contracts import encode, topology
from librarrarian_contracts.backups import STATUS_KEY, BackupStatus
from playwright.async_api import Browser, expect

from .browsing import WAIT_MS, logged_in, snap
from .sites import Site


async def test_a_failed_backup_is_an_alert_and_a_good_one_a_line(browser: Browser, site: Site) -> None:
    status = await site.js.key_value(topology.BACKUP_STATUS.name)
    page = await logged_in(browser, site, "/")
    failed, line = page.locator("#backup-failed"), page.locator("#backup-line")
    await expect(page.locator("#nodes")).to_be_visible()
    await expect(failed).to_be_hidden()  # no backup yet: nothing to say
    await expect(line).to_be_hidden()

    good = datetime(2026, 3, 1, 3, 0, tzinfo=UTC)
    await status.put(
        STATUS_KEY,
        encode(
            BackupStatus(
                attempted_at=datetime(2026, 3, 2, 3, 0, tzinfo=UTC),
                ok=False,
                trigger="schedule",
                error="pg_dump failed: could not connect to the server",
                last_success_at=good,
            )
        ),
    )
    alert = page.get_by_role("alert").filter(has_text="The last backup failed")
    await expect(alert).to_be_visible(timeout=WAIT_MS)  # live, without a reload
    await expect(alert).to_contain_text("pg_dump failed: could not connect to the server")
    await expect(alert).to_contain_text("The last good one is from 2026-03-0")
    await page.reload()
    await expect(alert).to_be_visible()  # and as the page is rendered
    await snap(page, "dashboard-backup-failed")

    await status.put(
        STATUS_KEY,
        encode(
            BackupStatus(
                attempted_at=datetime(2026, 3, 3, 3, 0, tzinfo=UTC),
                ok=True,
                trigger="api",
                name="librarrarian-20260303T030000Z.tar",
                size=2_500_000,
                last_success_at=datetime(2026, 3, 3, 3, 0, tzinfo=UTC),
            )
        ),
    )
    await expect(failed).to_be_hidden(timeout=WAIT_MS)
    await expect(line).to_contain_text("librarrarian-20260303T030000Z.tar, 2.5 MB")
