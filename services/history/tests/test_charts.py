"""History's details and statistics endpoints: one entry by id (with the CPU fallback's reason) and the
aggregates of the statistics page (the measured VMAF and what quality by target saved among them), against real
NATS and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from librarrarian_contracts import JobCompleted, JobSkipped, publish, topology
from librarrarian_contracts.quality import QualityChoice
from librarrarian_contracts.views import (
    Charts,
    ChartsQuery,
    HistoryEntry,
    HistoryLookup,
    HistoryPage,
    HistoryQuery,
)
from librarrarian_runtime.errors import ServiceError
from librarrarian_runtime.queries import ask
from librarrarian_testing import eventually
from nats.aio.client import Client
from nats.js import JetStreamContext


def done(job_id: int, node: str, before: int, after: int, codec: str, **extra: object) -> JobCompleted:
    return JobCompleted(
        job_id=job_id,
        attempt=1,
        node=node,
        path=f"/m/{job_id}.mkv",
        output_path=f"/m/{job_id}.mkv",
        encoder="libx265",
        codec_before=codec,
        codec_after="hevc",
        size_before=before,
        size_after=after,
        duration=100.0,
        elapsed_seconds=50.0,
        **extra,  # type: ignore[arg-type]
    )


async def test_one_entry_has_its_details_and_fallback_reason(
    bus: tuple[Client, JetStreamContext], history: Client
) -> None:
    _, js = bus
    await publish(js, done(1, "n1", 1000, 400, "h264", fallback_reason="nvenc: out of sessions"))

    async def listed() -> HistoryPage | None:
        page = await ask(history, topology.HISTORY_LIST, HistoryQuery(), HistoryPage)
        return page if page.items else None

    (item,) = (await eventually(listed)).items
    assert item.fallback_reason == "nvenc: out of sessions"
    entry = await ask(history, topology.HISTORY_ENTRY, HistoryLookup(id=item.id), HistoryEntry)
    assert entry == item
    assert (entry.codec_before, entry.codec_after, entry.encoder, entry.node) == (
        "h264",
        "hevc",
        "libx265",
        "n1",
    )
    reply = await history.request(topology.HISTORY_ENTRY, msgspec.json.encode(HistoryLookup(id=item.id + 99)))
    assert reply.headers and reply.headers.get("Nats-Service-Error-Code") == "404"


async def test_charts_add_up_per_day_codec_and_node(
    bus: tuple[Client, JetStreamContext], history: Client
) -> None:
    _, js = bus
    old = datetime.now(UTC) - timedelta(days=3)
    await publish(js, done(1, "n1", 1000, 400, "h264", occurred_at=old))
    await publish(js, done(2, "n1", 2000, 1000, "h264"))
    await publish(js, done(3, "n2", 500, 200, "mpeg4"))
    await publish(js, done(4, "n2", 500, 200, "vp9", occurred_at=old - timedelta(days=60)))  # outside 30 d
    await publish(js, JobSkipped(job_id=5, attempt=1, node="n2", path="/m/5.mkv", reason="already HEVC"))

    async def five() -> bool:
        page = await ask(history, topology.HISTORY_LIST, HistoryQuery(), HistoryPage)
        return len(page.items) == 5

    await eventually(five)
    charts = await ask(history, topology.HISTORY_CHARTS, ChartsQuery(days=30), Charts)
    assert [(d.day, d.files, d.bytes_saved) for d in charts.saved_per_day] == [
        (old.date(), 1, 600),
        (datetime.now(UTC).date(), 2, 1300),
    ]
    assert [(c.codec, c.files) for c in charts.codecs_before] == [("h264", 2), ("mpeg4", 1)]
    assert [(c.codec, c.files) for c in charts.codecs_after] == [("hevc", 3)]
    assert [(n.node, n.files, n.bytes_before, n.media_seconds, n.busy_seconds) for n in charts.nodes] == [
        ("n1", 2, 3000, 200.0, 100.0),
        ("n2", 1, 500, 100.0, 50.0),
    ]
    everything = await ask(history, topology.HISTORY_CHARTS, ChartsQuery(days=365), Charts)
    assert sum(c.files for c in everything.codecs_before) == 4
    with pytest.raises(ServiceError, match="days"):
        await ask(history, topology.HISTORY_CHARTS, ChartsQuery(days=0), Charts)


async def test_charts_have_each_days_measured_vmaf_and_what_target_mode_saved_against_fixed(
    bus: tuple[Client, JetStreamContext], history: Client
) -> None:
    _, js = bus
    old = datetime.now(UTC) - timedelta(days=3)

    def target(measured: float | None, fixed_bytes: int | None) -> QualityChoice:
        return QualityChoice(
            mode="target", level=27, fixed_level=24, target=95.0, measured=measured, fixed_bytes=fixed_bytes
        )

    await publish(js, done(1, "n1", 2000, 1000, "h264", occurred_at=old, quality=target(94.0, 1500)))
    await publish(js, done(2, "n1", 2000, 1000, "h264", occurred_at=old, vmaf=91.0))  # measure_vmaf's score
    await publish(js, done(3, "n2", 2000, 1000, "h264", quality=target(96.5, 900)))  # the target cost 100 B
    await publish(js, done(4, "n2", 2000, 1000, "h264", quality=target(None, 1200)))  # not measured
    await publish(js, done(5, "n2", 2000, 1000, "h264"))  # neither
    hdr = QualityChoice(mode="fixed", level=22, fixed_level=22, fixed_bytes=5000, note="HDR (PQ) source")
    await publish(js, done(6, "n2", 2000, 1000, "h264", quality=hdr))  # fixed: nothing saved against itself
    await publish(js, done(7, "n2", 2000, 1000, "h264", occurred_at=old - timedelta(days=60), vmaf=80.0))

    async def seven() -> bool:
        page = await ask(history, topology.HISTORY_LIST, HistoryQuery(), HistoryPage)
        return len(page.items) == 7

    await eventually(seven)
    charts = await ask(history, topology.HISTORY_CHARTS, ChartsQuery(days=30), Charts)
    assert [
        (q.day, q.measured, q.vmaf_mean, q.compared, q.bytes_saved_vs_fixed) for q in charts.quality_per_day
    ] == [
        (old.date(), 2, 92.5, 1, 500),
        (datetime.now(UTC).date(), 1, 96.5, 2, 100),
    ]
    today = await ask(history, topology.HISTORY_CHARTS, ChartsQuery(days=1), Charts)
    assert [(q.measured, q.compared) for q in today.quality_per_day] == [(1, 2)]
