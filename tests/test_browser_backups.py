"""Tools → Backups in a real browser, on a real `librarrarian up`: back up now, change a setting, restore the
listed backup (up stops the services, restores, starts them), and the page comes back with the setting as the
backup had it."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from librarrarian_embedded.nats_server import free_port
from librarrarian_testing import eventually
from playwright.async_api import async_playwright, expect

from librarrarian import secrets_file

pytestmark = pytest.mark.e2e
WAIT_MS = 60_000
QUICK = {"x265": {tier: {"level": 33, "preset": "ultrafast"} for tier in ("sd", "720p", "1080p", "4k")}}


@pytest.fixture
def up(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    media, data = tmp_path / "media", tmp_path / "data"
    media.mkdir()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"NATS_URL", "DATABASE_URL"}} | {
        "AUTOSTART": "false"
    }
    argv = [sys.executable, "-m", "librarrarian", "up", "--media", str(media), "--data-dir", str(data)]
    with (tmp_path / "up.log").open("ab") as log:
        process = subprocess.Popen(
            [*argv, "--port", str(port)], env=env, stdout=log, stderr=log, start_new_session=True
        )
    try:
        yield (
            f"http://127.0.0.1:{port}",
            secrets_file.load_or_create(data) if (data / "credentials.json").exists() else {},
        )
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=90)


async def test_back_up_then_restore_from_tools(up: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    url, _ = up
    data = tmp_path / "data"

    async def answering() -> bool:
        if not (data / "credentials.json").exists():
            return False
        try:
            async with httpx.AsyncClient() as client:
                return (await client.get(f"{url}/healthz")).status_code == 200
        except httpx.TransportError:
            return False

    await eventually(answering, timeout=120, message="the gateway answers")
    creds = secrets_file.load_or_create(data)
    api = httpx.AsyncClient(base_url=url, headers={"X-Api-Key": creds["api_key"]}, timeout=30)
    chromium = os.environ.get("LIBRARRARIAN_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    try:
        before = (await api.get("/api/v1/settings/export")).json()["settings"]["transcode"]
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=chromium)
            page = await browser.new_page()
            page.on("dialog", lambda dialog: dialog.accept())
            await page.goto(f"{url}/login?next=/tools")
            await page.get_by_label("User name").fill(creds["admin_user"])
            await page.get_by_label("Password").fill(creds["admin_password"])
            await page.get_by_role("button", name="Log in").click()
            await expect(page).to_have_url(f"{url}/tools", timeout=WAIT_MS)
            await page.get_by_role("button", name="Back up now").click()
            await expect(page.locator("#backup-message")).to_contain_text("Backed up", timeout=WAIT_MS)
            await expect(page.locator("#backup-status")).to_contain_text("Last backup", timeout=WAIT_MS)
            rows = page.locator("#backups tbody tr[data-backup]")
            await expect(rows).to_have_count(1)
            assert (await api.patch("/api/v1/settings/transcode", json={"quality": QUICK})).status_code == 200
            assert (await api.get("/api/v1/settings/export")).json()["settings"]["transcode"] != before
            await rows.first.get_by_role("button", name="Restore").click()
            await expect(page.locator("#backup-message")).to_contain_text("Restoring", timeout=WAIT_MS)
            # The services stop and start again; the page reloads when the API answers again.
            await expect(page.locator("#backup-message")).to_have_text("", timeout=120_000)
            await expect(rows).to_have_count(1, timeout=WAIT_MS)

            async def restored() -> bool:
                try:
                    response = await api.get("/api/v1/settings/export")
                except httpx.TransportError:
                    return False
                return response.status_code == 200 and response.json()["settings"]["transcode"] == before

            await eventually(restored, timeout=120, message="the setting is the backup's again")
            await browser.close()
        # From a shell while up runs, a restore is refused (Tools stops the services around it) and
        # nothing changes; a backup is made.
        assert (await api.patch("/api/v1/settings/transcode", json={"quality": QUICK})).status_code == 200
        (made,) = (data / "backups").iterdir()
        env = {k: v for k, v in os.environ.items() if k not in {"NATS_URL", "DATABASE_URL"}}
        argv = [sys.executable, "-m", "librarrarian", "restore", str(made), "--data-dir", str(data)]
        refused = await asyncio.to_thread(
            subprocess.run, argv, env=env, capture_output=True, text=True, check=False, timeout=300
        )
        assert refused.returncode == 2 and "librarrarian up is running" in refused.stderr, refused.stderr
        assert (await api.get("/api/v1/settings/export")).json()["settings"]["transcode"] != before
        assert [p.name for p in (data / "backups").iterdir()] == [made.name]
    finally:
        await api.aclose()
