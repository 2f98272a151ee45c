"""Review before replace through the API, on the real cluster (gateway, scheduler, history, an encoder) with
real clips and real ffmpeg: a reviewed folder's outputs wait as ready_to_replace with both sizes and a
preview frame of each file; accepting one puts that very output in place of its original, rejecting the
other deletes its output and keeps the original byte for byte. Decisions need the control scope; the list
and the previews the read scope."""

from __future__ import annotations

from pathlib import Path

from librarrarian_testing import eventually, library

from .reviewing import reviewed_library
from .sites import Site

JPEG = b"\xff\xd8\xff"


async def test_accept_and_reject_through_the_api(reviewed_site: Site, shared_media: Path) -> None:
    site = reviewed_site
    async with reviewed_library(site, shared_media) as waiting, site.client() as api:
        accepted, rejected = waiting["bigbuckbunny.mp4"], waiting["bikes.mp4"]
        for one in waiting.values():
            job = one.job
            # Still the original, with the output beside it under its review name, holding no slot.
            assert library.sha256(one.original) == one.digest
            assert one.output.parent == one.original.parent and one.output.name.startswith(
                ".tmp_librarrarian-review-"
            )
            assert job["size_before"] == one.original.stat().st_size
            assert job["size_after"] == one.output.stat().st_size
            assert job["previews"] is True
            assert isinstance(job["vmaf"], float) and 0 < job["vmaf"] <= 100  # measure_vmaf is on
            frames = {}
            for of in ("original", "output"):
                answer = await api.get(f"/api/v1/jobs/{job['id']}/preview/{of}")
                assert answer.status_code == 200 and answer.headers["content-type"] == "image/jpeg"
                assert answer.content.startswith(JPEG)
                frames[of] = answer.content
            assert frames["original"] != frames["output"]
        accepted_output = library.sha256(accepted.output)

        # Deciding is for the control scope; nothing happens without it.
        async with site.client(key="not-a-key") as stranger:
            assert (await stranger.post(f"/api/v1/jobs/{accepted.job['id']}/accept")).status_code == 401
        not_ready = await api.post("/api/v1/jobs/accept", json={"job_ids": [accepted.job["id"], 10**9]})
        assert not_ready.status_code == 404  # one unknown job: nothing queued for the other either
        assert (await api.get(f"/api/v1/jobs/{accepted.job['id']}")).json()["status"] == "ready_to_replace"

        answer = await api.post(f"/api/v1/jobs/{accepted.job['id']}/accept")
        assert answer.status_code == 200, answer.text
        assert answer.json()["job_ids"] == [accepted.job["id"]]
        answer = await api.post("/api/v1/jobs/reject", json={"job_ids": [rejected.job["id"]]})
        assert answer.status_code == 200 and answer.json()["job_ids"] == [rejected.job["id"]]

        async def decided() -> dict[str, dict[str, object]] | None:
            jobs = {
                name: (await api.get(f"/api/v1/jobs/{one.job['id']}")).json() for name, one in waiting.items()
            }
            return jobs if all(j["status"] in ("done", "skipped", "failed") for j in jobs.values()) else None

        jobs = await eventually(decided, timeout=120, message="both decisions carried out")
        assert jobs["bigbuckbunny.mp4"]["status"] == "done", jobs
        assert jobs["bikes.mp4"]["status"] == "skipped", jobs
        assert "rejected in review" in str(jobs["bikes.mp4"]["reason"])
        again = await api.post(f"/api/v1/jobs/{accepted.job['id']}/reject")
        assert again.status_code == 409  # decided already
        gone = await api.get(f"/api/v1/jobs/{accepted.job['id']}/preview/output")
        assert gone.status_code == 404  # the previews have served

    assert library.sha256(accepted.original) == accepted_output  # that very output, in place
    assert library.sha256(rejected.original) == rejected.digest  # untouched
    assert not accepted.output.exists() and not rejected.output.exists()
    assert sorted(p.name for p in accepted.original.parent.iterdir()) == ["bigbuckbunny.mp4", "bikes.mp4"]
