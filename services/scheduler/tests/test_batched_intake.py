"""The scheduler takes what the scanner found in batches (one transaction for all a fetch brought): every file
still becomes exactly one job, in the order reported, and a message that cannot be handled holds back only
itself (the batch is handled again one by one, the others acknowledged)."""

from __future__ import annotations

import logging
from collections import Counter

import asyncpg
import pytest
from librarrarian_contracts import publish
from librarrarian_scheduler import intake
from librarrarian_scheduler.settings import Settings
from librarrarian_testing import eventually
from nats.aio.client import Client
from nats.js import JetStreamContext

from .scheduler_client import probed, running_scheduler

FILES = 2 * intake.BATCH + 50


async def job_paths(database_url: str) -> Counter[str]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT path FROM scheduler.jobs")
    finally:
        await conn.close()
    return Counter(r["path"] for r in rows)


async def test_a_backlog_becomes_one_job_per_file_and_a_bad_message_holds_back_only_itself(
    bus: tuple[Client, JetStreamContext],
    nats_url: str,
    database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    nc, js = bus
    paths = [f"/m/Show/Episode {n:04d}.mp4" for n in range(FILES)]
    # Waiting before the scheduler starts, as after a first scan: its fetches come full.
    for n, path in enumerate(paths):
        await publish(js, probed(path))
        if n % 100 == 7:
            await publish(js, probed(path))  # reported twice (a rescan): still one job
        if n == 300:
            await publish(js, probed("/m/Show/Bad\x00name.mp4"))  # PostgreSQL refuses a NUL in text

    settings = Settings(nats_url=nats_url, database_url=database_url)
    with caplog.at_level(logging.INFO):
        async with running_scheduler(nc, settings):

            async def all_jobs() -> Counter[str] | None:
                found = await job_paths(database_url)
                return found if len(found) >= FILES else None

            found = await eventually(all_jobs, timeout=120, message=f"{FILES} jobs")

    assert found == Counter(paths)  # each once, the bad one not at all
    fallbacks = [r.getMessage() for r in caplog.records if "one by one" in r.getMessage()]
    assert fallbacks and all("handling a batch of" in m for m in fallbacks)
    # Batches, not one event at a time: the one the bad message was in held many.
    assert max(int(m.split("batch of ")[1].split()[0]) for m in fallbacks) > 1
