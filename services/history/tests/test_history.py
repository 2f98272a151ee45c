"""The history service against real NATS and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

import asyncpg
import msgspec
import pytest
from librarrarian_contracts import (
    ArrApp,
    FileRenamed,
    JobCompleted,
    JobFailed,
    JobSkipped,
    encode,
    publish,
    topology,
)
from librarrarian_contracts.quality import QualityChoice
from librarrarian_contracts.views import HistoryEntry, HistoryLookup, HistoryPage, HistoryQuery, Stats
from librarrarian_runtime.errors import ServiceError
from librarrarian_runtime.queries import ask
from librarrarian_testing import eventually
from nats.aio.client import Client
from nats.js import JetStreamContext


def completed(job_id: int, path: str, before: int, after: int) -> JobCompleted:
    return JobCompleted(
        job_id=job_id,
        attempt=1,
        node="n1",
        path=path,
        output_path=path,
        encoder="libx265",
        codec_before="h264",
        codec_after="hevc",
        size_before=before,
        size_after=after,
        duration=60.0,
        elapsed_seconds=12.5,
    )


async def test_finished_transcodes_are_recorded_once_and_searchable(
    bus: tuple[Client, JetStreamContext], history: Client
) -> None:
    nc, js = bus
    first = completed(1, "/m/Movies/Alien (1979).mkv", 1000, 400)
    await publish(js, first)
    await js.publish(topology.JOB_COMPLETED, encode(first))  # the same event again, past de-duplication
    await publish(js, completed(2, "/m/TV/Show S01E01.mp4", 2000, 1000))
    await publish(
        js,
        JobSkipped(
            job_id=3,
            attempt=1,
            node="n1",
            path="/m/TV/Show S01E02.mp4",
            reason="output larger",
            size_before=10,
            size_after=20,
        ),
    )
    await publish(js, JobFailed(job_id=4, attempt=1, node="n1", path="/m/x.mkv", reason="ffmpeg exited 1"))

    async def three() -> HistoryPage | None:
        page = await ask(nc, topology.HISTORY_LIST, HistoryQuery(), HistoryPage)
        return page if len(page.items) >= 3 else None

    page = await eventually(three)
    assert [e.job_id for e in page.items] == [3, 2, 1]
    stats = await ask(nc, topology.HISTORY_STATS, HistoryQuery(), Stats)
    assert (stats.files_encoded, stats.files_skipped, stats.bytes_saved) == (2, 1, 1600)
    assert stats.average_reduction == pytest.approx((0.6 + 0.5) / 2)

    found = await ask(nc, topology.HISTORY_LIST, HistoryQuery(search="alien"), HistoryPage)
    assert [e.job_id for e in found.items] == [1]
    assert (await ask(nc, topology.HISTORY_LIST, HistoryQuery(search="%"), HistoryPage)).items == ()
    # Words and word beginnings, any case, through the words index; the exact phrase still counts.
    for search, expected in (
        ("Alien (1979)", [1]),
        ("ali 197", []),  # both words begin words of the path, but the phrase is not in it
        ("show s01e", [3, 2]),
        ("S01E01.mp4", [2]),
        ("movies/alien", [1]),
        ("ien", []),  # the middle of a word: not a word beginning
        ("alien (19", [1]),  # a whole word, then a short beginning the substring alone decides
        ("alie (1979)", []),  # a word followed by a separator is a whole word: "alie" is not one
    ):
        found = await ask(nc, topology.HISTORY_LIST, HistoryQuery(search=search), HistoryPage)
        assert [e.job_id for e in found.items] == expected, search

    first_page = await ask(nc, topology.HISTORY_LIST, HistoryQuery(limit=2), HistoryPage)
    assert [e.job_id for e in first_page.items] == [3, 2] and first_page.next_before_id is not None
    rest = await ask(
        nc, topology.HISTORY_LIST, HistoryQuery(limit=2, before_id=first_page.next_before_id), HistoryPage
    )
    assert [e.job_id for e in rest.items] == [1] and rest.next_before_id is None


async def test_a_bad_query_is_refused(history: Client) -> None:
    with pytest.raises(ServiceError, match="limit"):
        await ask(history, topology.HISTORY_LIST, HistoryQuery(limit=10_000), HistoryPage)


async def test_a_finished_transcode_keeps_ffmpegs_log_in_its_details_not_in_pages(
    bus: tuple[Client, JetStreamContext], history: Client
) -> None:
    nc, js = bus
    log = "[matroska @ 0x1] Starting new cluster due to timestamp\nNon-monotonic DTS; correcting"
    await publish(js, msgspec.structs.replace(completed(1, "/m/a.mkv", 1000, 400), ffmpeg_log=log))
    page = await eventually(lambda: _listed(nc), message="the entry in the history")
    (listed,) = page.items
    assert listed.ffmpeg_log is None
    details = await ask(nc, topology.HISTORY_ENTRY, HistoryLookup(id=listed.id), HistoryEntry)
    assert details.ffmpeg_log == log


async def test_what_an_output_could_not_keep_is_its_entrys_reason(
    bus: tuple[Client, JetStreamContext], history: Client
) -> None:
    nc, js = bus
    notes = (
        "Dolby Vision profile 8 dropped (hevc_nvenc cannot write it); the HDR10 layer is kept",
        "replaced 1 of 2 links: the other names keep the old file (no space saved)",
    )
    await publish(js, msgspec.structs.replace(completed(1, "/m/a.mkv", 1000, 400), notes=notes))
    page = await eventually(lambda: _listed(nc), message="the entry in the history")
    (listed,) = page.items
    assert (listed.status, listed.reason) == ("done", "; ".join(notes))


async def _listed(nc: Client) -> HistoryPage | None:
    page = await ask(nc, topology.HISTORY_LIST, HistoryQuery(), HistoryPage)
    return page if page.items else None


async def test_a_file_an_arr_app_renamed_keeps_its_history(
    bus: tuple[Client, JetStreamContext], history: Client
) -> None:
    nc, js = bus
    await publish(js, completed(1, "/m/TV/Show S01E01 x264.mkv", 2000, 1000))
    await publish(
        js,
        JobSkipped(job_id=2, attempt=1, node="n1", path="/m/TV/Show S01E02 x264.mkv", reason="already small"),
    )

    async def both() -> HistoryPage | None:
        page = await ask(nc, topology.HISTORY_LIST, HistoryQuery(), HistoryPage)
        return page if len(page.items) == 2 else None

    await eventually(both)
    for episode in ("01", "02"):
        renamed = FileRenamed(
            app=ArrApp.SONARR,
            path=f"/m/TV/Show S01E{episode} x264.mkv",
            new_path=f"/m/TV/Show S01E{episode} x265.mkv",
        )
        await publish(js, renamed)

    async def followed() -> HistoryPage | None:
        page = await ask(nc, topology.HISTORY_LIST, HistoryQuery(search="x265"), HistoryPage)
        return page if len(page.items) == 2 else None

    page = await eventually(followed, message="both entries found by their new names")
    done, skipped = sorted(page.items, key=lambda e: e.job_id)
    # The transcode's output moved; the name it was transcoded under stays as its source.
    assert (done.path, done.output_path) == ("/m/TV/Show S01E01 x264.mkv", "/m/TV/Show S01E01 x265.mkv")
    assert skipped.path == "/m/TV/Show S01E02 x265.mkv" and skipped.output_path is None
    stats = await ask(nc, topology.HISTORY_STATS, HistoryQuery(), Stats)
    assert (stats.files_encoded, stats.files_skipped) == (1, 1)  # followed, not counted again


async def test_where_the_original_was_kept_is_recorded(
    bus: tuple[Client, JetStreamContext], history: Client
) -> None:
    nc, js = bus
    kept = "/m/.librarrarian-recycle/1-0123456789abcdef"
    await publish(js, msgspec.structs.replace(completed(1, "/m/a.mkv", 1000, 400), recycled=kept))
    page = await eventually(lambda: _listed(nc), message="the entry in the history")
    (listed,) = page.items
    assert listed.recycled == kept


async def test_how_the_quality_was_chosen_is_kept_in_the_entry_and_its_page(
    bus: tuple[Client, JetStreamContext], history: Client, database_url: str
) -> None:
    nc, js = bus
    chosen = QualityChoice(
        mode="target",
        level=27,
        fixed_level=24,
        target=95.0,
        predicted=95.6,
        measured=95.2,
        low=91.25,
        worst=93.5,
        samples=4,
        search_seconds=38.5,
        reused=True,
        fixed_bytes=1_300,
        note="",
    )
    await publish(js, msgspec.structs.replace(completed(1, "/m/a.mkv", 2000, 900), quality=chosen))
    await publish(js, completed(2, "/m/b.mkv", 1000, 400))  # from before quality by target: none

    async def both() -> HistoryPage | None:
        page = await ask(nc, topology.HISTORY_LIST, HistoryQuery(), HistoryPage)
        return page if len(page.items) == 2 else None

    page = await eventually(both, message="both entries in the history")
    target, plain = sorted(page.items, key=lambda e: e.job_id)
    assert (target.job_id, target.quality) == (1, chosen) and (plain.job_id, plain.quality) == (2, None)
    details = await ask(nc, topology.HISTORY_ENTRY, HistoryLookup(id=target.id), HistoryEntry)
    assert details.quality == chosen
    # The day's summary has its score and the bytes it saved against the fixed level (1,300 - 900).
    conn = await asyncpg.connect(database_url, server_settings={"search_path": "history"})
    try:
        day = await conn.fetchrow(
            "SELECT sum(files) AS files, sum(measured) AS measured, sum(vmaf_sum) AS vmaf_sum,"
            " sum(compared) AS compared, sum(saved_vs_fixed) AS saved FROM transcode_days"
        )
    finally:
        await conn.close()
    assert day is not None
    assert (day["files"], day["measured"], day["vmaf_sum"], day["compared"], day["saved"]) == (
        2,
        1,
        Decimal("95.2"),
        1,
        400,
    )
