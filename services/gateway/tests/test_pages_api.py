"""The REST routes behind the Queue, Failed, History and Statistics pages, on a real gateway with the real
scheduler and history (NATS, PostgreSQL): delete a job, clear the queue, one history entry, the charts."""

from __future__ import annotations

from typing import Any

import msgspec
from librarrarian_contracts import JobCompleted, JobStarted, publish
from librarrarian_contracts.quality import QualityChoice
from librarrarian_testing import eventually
from nats.aio.client import Client
from nats.js import JetStreamContext

from .seeds import queue_files
from .sites import Site


async def queued(site: Site, *names: str) -> dict[str, int]:
    """Files in the TV folder probed into pending jobs; their job ids by name."""
    ids = await queue_files(site, *(str(site.media / "TV" / name) for name in names))
    return {path.rsplit("/", 1)[-1]: job_id for path, job_id in ids.items()}


async def test_the_new_routes_need_a_key(site: Site) -> None:
    async with site.client(key=None) as anonymous:
        for method, path in (
            ("DELETE", "/api/v1/jobs/1"),
            ("DELETE", "/api/v1/jobs?status=pending"),
            ("GET", "/api/v1/history/1"),
            ("GET", "/api/v1/stats/charts"),
        ):
            assert (await anonymous.request(method, path)).status_code == 401, path
        for page in ("/failed", "/statistics", "/options", "/history/1"):
            assert (await anonymous.get(page)).status_code == 303, page
    async with site.client() as api:
        described = (await api.get("/api/v1/openapi.json")).json()["paths"]
        assert "delete" in described["/api/v1/jobs/{job_id}"] and "delete" in described["/api/v1/jobs"]
        assert "/api/v1/history/{entry_id}" in described and "/api/v1/stats/charts" in described


async def test_delete_one_job_and_clear_the_pending_ones(
    site: Site, bus: tuple[Client, JetStreamContext]
) -> None:
    _, js = bus
    ids = await queued(site, "a.mkv", "b.mkv", "c.mkv", "d.mkv")
    running = str(site.media / "TV" / "d.mkv")
    await publish(js, JobStarted(job_id=ids["d.mkv"], attempt=1, delivery=1, node="box", path=running))
    async with site.client() as api:

        async def started() -> bool:
            page = (await api.get("/api/v1/jobs", params={"status": "running"})).json()
            return [j["id"] for j in page["items"]] == [ids["d.mkv"]]

        await eventually(started, message="job d running")
        one = await api.get(f"/api/v1/jobs/{ids['d.mkv']}")
        assert one.status_code == 200 and (one.json()["status"], one.json()["node"]) == ("running", "box")
        missing = await api.get(f"/api/v1/jobs/{ids['d.mkv'] + 1000}")
        assert missing.status_code == 404 and "no job" in missing.json()["detail"]
        deleted = await api.delete(f"/api/v1/jobs/{ids['a.mkv']}")
        assert deleted.status_code == 200, deleted.text
        assert deleted.json()["job_id"] == ids["a.mkv"]
        assert (await api.delete(f"/api/v1/jobs/{ids['a.mkv']}")).status_code == 404
        refused = await api.delete(f"/api/v1/jobs/{ids['d.mkv']}")
        assert refused.status_code == 409 and "running" in refused.json()["detail"]

        assert (await api.delete("/api/v1/jobs")).status_code == 422  # status=pending must be said
        assert (await api.delete("/api/v1/jobs", params={"status": "failed"})).status_code == 422
        other_kind = await api.delete("/api/v1/jobs", params={"status": "pending", "kind": "cleanup"})
        assert other_kind.json() == {"deleted": 0}
        unknown_kind = await api.delete("/api/v1/jobs", params={"status": "pending", "kind": "nonsense"})
        assert unknown_kind.status_code == 422
        cleared = await api.delete("/api/v1/jobs", params={"status": "pending", "kind": "transcode"})
        assert cleared.status_code == 200 and cleared.json() == {"deleted": 2}
        left = (await api.get("/api/v1/jobs")).json()["items"]
        assert [j["id"] for j in left] == [ids["d.mkv"]]
        kinds = (await api.get("/api/v1/jobs", params={"kind": "transcode"})).json()["items"]
        assert [j["id"] for j in kinds] == [ids["d.mkv"]]
        assert (await api.get("/api/v1/jobs", params={"kind": "cleanup"})).json()["items"] == []


async def test_one_history_entry_and_the_charts(site: Site, bus: tuple[Client, JetStreamContext]) -> None:
    _, js = bus
    await publish(
        js,
        JobCompleted(
            job_id=5,
            attempt=1,
            node="node-a",
            path="/m/TV/Show S01E01.mkv",
            output_path="/m/TV/Show S01E01.mkv",
            encoder="libx265",
            codec_before="h264",
            codec_after="hevc",
            size_before=2_000,
            size_after=800,
            duration=2700.0,
            elapsed_seconds=900.0,
            fallback_reason="nvenc failed: no capable devices found",
            vmaf=93.4,
        ),
    )
    async with site.client() as api:

        async def listed() -> list[dict[str, object]] | None:
            items = (await api.get("/api/v1/history")).json()["items"]
            return items or None

        (item,) = await eventually(listed, message="history recorded")
        entry = await api.get(f"/api/v1/history/{item['id']}")
        assert entry.status_code == 200 and entry.json() == item
        assert item["fallback_reason"] == "nvenc failed: no capable devices found"
        assert item["vmaf"] == 93.4
        page = (await api.get(f"/history/{item['id']}")).text
        assert "<dt>VMAF</dt><dd>93.4 (sampled segments)</dd>" in page
        assert (await api.get(f"/api/v1/history/{item['id'] + 1000}")).status_code == 404

        charts = (await api.get("/api/v1/stats/charts", params={"days": 7})).json()
        assert charts["days"] == 7
        assert [(d["files"], d["bytes_saved"]) for d in charts["saved_per_day"]] == [(1, 1200)]
        assert charts["codecs_before"] == [{"codec": "h264", "files": 1}]
        assert charts["codecs_after"] == [{"codec": "hevc", "files": 1}]
        assert charts["nodes"] == [
            {
                "node": "node-a",
                "files": 1,
                "bytes_before": 2000,
                "media_seconds": 2700.0,
                "busy_seconds": 900.0,
            }
        ]
        assert [
            (q["measured"], q["vmaf_mean"], q["compared"], q["bytes_saved_vs_fixed"])
            for q in charts["quality_per_day"]
        ] == [(1, 93.4, 0, 0)]
        assert (await api.get("/api/v1/stats/charts", params={"days": 0})).status_code == 422
        statistics = (await api.get("/statistics", params={"days": 7})).text
        day = charts["quality_per_day"][0]["day"]
        assert f"<title>{day}: VMAF 93.4 (1 file)</title>" in statistics
        assert "Nothing encoded by target VMAF in this period." in statistics


async def test_an_entrys_quality_choice_is_returned_and_shown(
    site: Site, bus: tuple[Client, JetStreamContext]
) -> None:
    _, js = bus
    target = QualityChoice(
        mode="target",
        level=27,
        fixed_level=24,
        target=95.0,
        predicted=95.64,
        measured=95.21,
        low=91.26,
        worst=93.47,
        samples=4,
        search_seconds=38.4,
        reused=True,
        reencoded=True,
        fixed_bytes=1_300_000_000,
    )
    hdr = QualityChoice(
        mode="fixed", level=22, fixed_level=22, note="HDR (PQ) source: VMAF cannot judge it; fixed quality"
    )
    for job_id, quality in ((6, target), (7, hdr)):
        await publish(
            js,
            JobCompleted(
                job_id=job_id,
                attempt=1,
                node="node-a",
                path=f"/m/TV/Show S01E0{job_id}.mkv",
                output_path=f"/m/TV/Show S01E0{job_id}.mkv",
                encoder="libx265",
                codec_before="h264",
                codec_after="hevc",
                size_before=2_000_000_000,
                size_after=900_000_000,
                duration=2700.0,
                elapsed_seconds=900.0,
                vmaf=95.21,
                quality=quality,
            ),
        )
    async with site.client() as api:

        async def listed() -> list[dict[str, Any]] | None:
            items = (await api.get("/api/v1/history")).json()["items"]
            return sorted(items, key=lambda i: i["job_id"]) if len(items) == 2 else None

        by_target, by_hdr = await eventually(listed, message="history recorded both")
        entry = (await api.get(f"/api/v1/history/{by_target['id']}")).json()
        assert entry["quality"] == by_target["quality"] == msgspec.to_builtins(target)
        page = (await api.get(f"/history/{by_target['id']}")).text
        assert "<dt>VMAF</dt><dd>95.2 (sampled segments)</dd>" in page  # the line it had before stays
        assert '<dd class="quality">target VMAF 95: level 27 (fixed quality: 24)</dd>' in page
        assert (
            "<dd>4 sample encodes in 0:38, predicted VMAF 95.6; started where the series' last file ended</dd>"
            in page
        )
        assert "<dd>once, one level better: the first encode missed the target</dd>" in page
        assert "<dd>mean 95.2 · 5th percentile 91.3 · worst segment 93.5</dd>" in page
        assert (
            "<dd>about 1.3 GB (estimated from the samples): 400.0 MB saved by the target level</dd>" in page
        )
        assert "Quality note" not in page

        page = (await api.get(f"/history/{by_hdr['id']}")).text
        assert '<dd class="quality">fixed: level 22</dd>' in page
        assert "<dt>Quality note</dt><dd>HDR (PQ) source: VMAF cannot judge it; fixed quality</dd>" in page
        assert "<dt>Search</dt>" not in page and "At the fixed level" not in page

        # Both scores count in the day's mean (the HDR file's is measure_vmaf's); the target file's saving.
        (day,) = (await api.get("/api/v1/stats/charts", params={"days": 7})).json()["quality_per_day"]
        assert (day["measured"], day["vmaf_mean"], day["compared"], day["bytes_saved_vs_fixed"]) == (
            2,
            95.21,
            1,
            400_000_000,
        )
        statistics = (await api.get("/statistics", params={"days": 7})).text
        assert f"<title>{day['day']}: VMAF 95.2 (2 files)</title>" in statistics
        assert f"<title>{day['day']}: +400.0 MB (400.0 MB in all)</title>" in statistics
        assert "No VMAF measured" not in statistics and "Nothing encoded by target VMAF" not in statistics
