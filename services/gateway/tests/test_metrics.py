"""The Prometheus scrape point, against a real gateway, scheduler, history and encoder on real NATS and
PostgreSQL: figures that move while a real clip is transcoded, and the door (bearer key, X-Api-Key, none)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from librarrarian_contracts import MediaProbed, publish
from librarrarian_contracts.enums import HwClass
from librarrarian_encoder import replace
from librarrarian_encoder import service as encoder
from librarrarian_encoder.settings import Settings as EncoderSettings
from librarrarian_media import probe
from librarrarian_testing import clips, eventually, transcode

from .scraping import Samples, scrape, value
from .sites import API_KEY, Site

NODE = "metrics-node"


@contextlib.asynccontextmanager
async def running_encoder(site: Site) -> AsyncIterator[None]:
    settings = EncoderSettings(
        nats_url=site.settings.nats_url,
        media_paths=(site.media.resolve(),),
        node=NODE,
        hw_classes=(HwClass.CPU,),
        grace_seconds=5,
    )
    stopping = asyncio.Event()
    task = asyncio.create_task(encoder.run(settings, stopping))
    try:
        yield
    finally:
        stopping.set()
        await asyncio.wait_for(task, 30)


def big_clip(folder: Path) -> Path:
    """Thirty seconds of 720p H.264 at a high bitrate: long enough to be seen encoding, and its HEVC output
    is much smaller."""
    return clips.lavfi_clip(
        folder / "Big Buck (2008).mkv",
        seconds=30,
        size="1280x720",
        extra=("-preset", "ultrafast", "-crf", "8"),
    )


async def test_figures_move_during_a_real_encode(site: Site) -> None:
    await transcode.put(site.js, transcode.fastest())
    clip = big_clip(site.media)
    async with site.client() as api, running_encoder(site):
        before = await eventually(
            lambda: _scraped(api, lambda s: value(s, "librarrarian_nodes", state="running") == 1),
            message="the node counted as running",
        )
        assert value(before, "librarrarian_scheduler_up") == 1
        assert value(before, "librarrarian_jobs_finished_total", kind="transcode", outcome="done") == 0
        assert value(before, "librarrarian_queue_jobs", status="done", kind="transcode") == 0
        assert value(before, "librarrarian_node_slots", node=NODE) == 1

        identity = replace.identity(os.stat(clip))
        await publish(site.js, MediaProbed(path=str(clip.resolve()), identity=identity, probe=probe(clip)))

        during = await eventually(
            lambda: _scraped(api, lambda s: (value(s, "librarrarian_node_encode_fps", node=NODE) or 0) > 0),
            timeout=120,
            interval=0.2,
            message="the node's encode speed scraped while it encodes",
        )
        assert value(during, "librarrarian_queue_jobs", status="running", kind="transcode") == 1
        assert (value(during, "librarrarian_node_encode_speed", node=NODE) or 0) > 0
        assert value(during, "librarrarian_node_running_jobs", node=NODE) == 1

        after = await eventually(
            lambda: _scraped(
                api,
                lambda s: value(s, "librarrarian_jobs_finished_total", kind="transcode", outcome="done") == 1,
            ),
            timeout=180,
            message="the finished transcode counted",
        )
        assert value(after, "librarrarian_queue_jobs", status="done", kind="transcode") == 1
        assert value(after, "librarrarian_queue_jobs", status="running", kind="transcode") == 0
        saved = value(after, "librarrarian_bytes_saved_total") or 0
        assert 0 < saved < identity.size
        assert value(after, "librarrarian_outbox_due_messages") is not None

        idle = await eventually(
            lambda: _scraped(api, lambda s: value(s, "librarrarian_node_running_jobs", node=NODE) == 0),
            message="the node idle again",
        )
        assert value(idle, "librarrarian_node_encode_fps", node=NODE) == 0


async def _scraped(api: httpx.AsyncClient, wanted: object) -> Samples | None:
    samples = await scrape(api)
    assert callable(wanted)
    return samples if wanted(samples) else None


async def test_a_bearer_key_scrapes_and_nobody_else(gateway: Site) -> None:
    async with gateway.client(key=None) as anonymous:
        refused = await anonymous.get("/metrics")
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith("Bearer")
        assert (
            await anonymous.get("/metrics", headers={"Authorization": "Bearer not-a-key"})
        ).status_code == 401
        samples = await scrape(anonymous, Authorization=f"Bearer {API_KEY}")
    # Nothing answers behind this gateway: its own figures still come, the scheduler's are left out.
    assert value(samples, "librarrarian_scheduler_up") == 0
    assert value(samples, "librarrarian_queue_jobs", status="pending", kind="transcode") is None
    assert value(samples, "librarrarian_nodes", state="running") == 0
    async with gateway.client() as api:
        assert value(await scrape(api), "librarrarian_gateway_info", version="0.1.0") == 1
