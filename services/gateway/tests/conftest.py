"""Fixtures of the gateway's tests: a real gateway on the test's own NATS and database, with the real
scheduler and history (``site``) or alone (``gateway``), and a real Chromium (``browser``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from librarrarian_runtime.outbound import PrivateServers
from nats.aio.client import Client
from nats.js import JetStreamContext
from playwright.async_api import Browser, async_playwright

from .browsing import chromium
from .reviewing import review_before_start
from .sites import Site, gateway_settings, running_site


@pytest.fixture
def private_servers() -> PrivateServers:
    """What the gateway's notification URLs may reach (``PRIVATE_SERVERS``): a test module whose local
    servers listen on loopback overrides it with ``all``."""
    return PrivateServers.LAN


def media_folder(tmp_path: Path) -> Path:
    """The gateway's media path, with a TV folder in it."""
    media = tmp_path / "media"
    (media / "TV").mkdir(parents=True)
    return media


@pytest.fixture
async def site(
    nats_url: str,
    database_url: str,
    tmp_path: Path,
    bus: tuple[Client, JetStreamContext],
    private_servers: PrivateServers,
) -> AsyncIterator[Site]:
    """The gateway with the scheduler and history behind it, all answering."""
    settings = gateway_settings(
        nats_url, database_url, media_folder(tmp_path), private_servers=private_servers
    )
    async with running_site(settings, bus[1]) as running:
        yield running


@pytest.fixture
async def reviewed_site(
    nats_url: str, database_url: str, tmp_path: Path, bus: tuple[Client, JetStreamContext]
) -> AsyncIterator[Site]:
    """The site with a reviewed library folder (``reviewing``), set before the scheduler starts."""
    media = media_folder(tmp_path)
    await review_before_start(bus[1], media)
    async with running_site(gateway_settings(nats_url, database_url, media), bus[1]) as running:
        yield running


@pytest.fixture
async def gateway(
    nats_url: str,
    database_url: str,
    tmp_path: Path,
    bus: tuple[Client, JetStreamContext],
    private_servers: PrivateServers,
) -> AsyncIterator[Site]:
    """The gateway alone: no service answers behind it."""
    settings = gateway_settings(
        nats_url, database_url, media_folder(tmp_path), private_servers=private_servers
    )
    async with running_site(settings, bus[1], with_services=False) as running:
        yield running


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = chromium()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=executable, headless=True)
        try:
            yield launched
        finally:
            await launched.close()
