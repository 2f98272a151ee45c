"""The backup routes' own work on a real gateway: a download is the file on disk byte for byte, never cached
and for admins only; an upload is handed to the backup duty (a real one, on the test's NATS) and deleted when
it is refused or cannot be restored now, leaving the folder as it was. Restoring itself is tested with
``librarrarian up`` (tests/test_backups.py, tests/test_browser_backups.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from librarrarian.backups.duty import Duty, Schedule
from librarrarian.backups.operations import Target

from .conftest import media_folder
from .sites import Site, gateway_settings, running_site

NAME = "librarrarian-20260101T030000Z.tar"


@dataclasses.dataclass
class Backups:
    site: Site
    folder: Path
    restores: list[str]  # what the duty was asked to restore, in order


@pytest.fixture
def restorable() -> bool:
    """Whether the duty can stop the services around a restore (``up``'s can; a cluster's cannot)."""
    return True


@pytest.fixture
async def backups(
    nats_url: str,
    database_url: str,
    tmp_path: Path,
    bus: tuple[Client, JetStreamContext],
    restorable: bool,
) -> AsyncIterator[Backups]:
    """The gateway serving ``folder``, and the backup duty answering for it. Stopping the services around a
    restore is ``up``'s supervisor's work: here it only records what it was given."""
    folder = tmp_path / "backups"
    folder.mkdir(mode=0o700)
    restores: list[str] = []

    async def around(restore: Callable[[], Awaitable[None]]) -> None:
        restores.append("restore")

    nc, js = bus
    duty = Duty(
        nc,
        Target(database_url, js, None),
        Schedule(directory=folder, hour=None),
        around=around if restorable else None,
    )
    stopping = asyncio.Event()
    duty_task = asyncio.create_task(duty.run(stopping))
    settings = dataclasses.replace(
        gateway_settings(nats_url, database_url, media_folder(tmp_path)), backup_dir=folder
    )
    try:
        async with running_site(settings, js, with_services=False) as site:
            yield Backups(site, folder, restores)
    finally:
        stopping.set()
        await asyncio.wait_for(duty_task, 30)


async def test_a_download_is_the_file_on_disk_not_cached_and_for_admins_only(backups: Backups) -> None:
    content = os.urandom(300_000) + b"\0" * 1000
    (backups.folder / NAME).write_bytes(content)
    async with backups.site.client() as admin:
        got = await admin.get(f"/api/v1/backups/{NAME}")
        assert got.status_code == 200 and got.content == content
        assert got.headers["cache-control"] == "no-store"
        assert got.headers["content-type"] == "application/x-tar"
        assert NAME in got.headers["content-disposition"]
        for missing in ("librarrarian-20990101T000000Z.tar", "..%2Fsecrets.tar", "x.json"):
            assert (await admin.get(f"/api/v1/backups/{missing}")).status_code == 404, missing
        made = await admin.post("/api/v1/keys", json={"name": "controller", "scope": "control"})
        key = made.json()["key"]
    async with backups.site.client(key=key) as controller:
        refused = await controller.get(f"/api/v1/backups/{NAME}")
        assert refused.status_code == 403 and content[:100] not in refused.content
    async with backups.site.client(key=None) as anonymous:
        assert (await anonymous.get(f"/api/v1/backups/{NAME}")).status_code == 401


async def test_a_refused_upload_is_deleted_and_nothing_changes(backups: Backups) -> None:
    (backups.folder / NAME).write_bytes(b"an earlier backup")
    before = sorted(p.name for p in backups.folder.iterdir())
    async with backups.site.client() as admin:
        refused = await admin.post("/api/v1/backups/upload", content=b"not a tar file at all" * 100)
        assert refused.status_code == 400, refused.text
        assert refused.json()["detail"].endswith("is not a readable backup file: invalid header")
        assert sorted(p.name for p in backups.folder.iterdir()) == before
        assert backups.restores == []
        made = await admin.post("/api/v1/keys", json={"name": "controller", "scope": "control"})
        key = made.json()["key"]
    async with backups.site.client(key=key) as controller:
        assert (await controller.post("/api/v1/backups/upload", content=b"x")).status_code == 403
    assert sorted(p.name for p in backups.folder.iterdir()) == before


@pytest.mark.parametrize("restorable", [False])
async def test_an_upload_no_restore_can_take_now_is_deleted(backups: Backups) -> None:
    """A cluster's duty (``librarrarian backup --daily``) cannot stop the services: the upload is answered
    with the reason and not left in the folder."""
    async with backups.site.client() as admin:
        refused = await admin.post("/api/v1/backups/upload", content=b"whatever it holds")
        assert refused.status_code == 503, refused.text
        assert "librarrarian restore" in refused.json()["detail"]
    assert list(backups.folder.iterdir()) == []
