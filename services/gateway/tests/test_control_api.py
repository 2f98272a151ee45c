"""Remote control through the REST API: node and queue controls and transcode settings land in the KV bucket
the encoders watch; a failed job is retried through the real scheduler and goes to the class of the live
nodes (real NATS, real PostgreSQL)."""

from __future__ import annotations

from datetime import datetime

import msgspec
from librarrarian_contracts import (
    FileIdentity,
    JobFailed,
    MediaProbe,
    MediaProbed,
    StreamInfo,
    Transcode,
    encode,
    publish,
    topology,
)
from librarrarian_contracts.enums import HwClass, NodeState
from librarrarian_contracts.settings import (
    QUEUE_KEY,
    TRANSCODE_KEY,
    NodeControl,
    NodeSchedule,
    QueueControl,
    ScheduleWindow,
    TranscodeSettings,
    node_key,
    schedule_key,
)
from librarrarian_contracts.views import NodeStatus, ScheduleStatus
from librarrarian_testing import eventually
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from .sites import Site


async def kv_value(js: JetStreamContext, key: str, type_: type) -> object:
    kv = await js.key_value(topology.SETTINGS.name)
    return msgspec.json.decode((await kv.get(key)).value or b"", type=type_)


async def test_node_and_queue_controls_are_written_where_nodes_watch(
    site: Site, bus: tuple[Client, JetStreamContext]
) -> None:
    _, js = bus
    async with site.client() as api, site.client(key=None) as anonymous:
        assert (await anonymous.post("/api/v1/nodes/box/pause")).status_code == 401
        response = await api.post("/api/v1/nodes/box 2/stop", params={"now": "true"})
        assert response.status_code == 200 and response.json() == {
            "node": "box 2",
            "state": "stopped",
            "now": True,
        }
        control = await kv_value(js, node_key("box 2"), NodeControl)
        assert isinstance(control, NodeControl) and (control.state, control.now) == ("stopped", True)
        await api.post("/api/v1/nodes/box 2/resume")
        assert (await kv_value(js, node_key("box 2"), NodeControl)).state == "running"  # type: ignore[attr-defined]
        assert (await api.post("/api/v1/nodes/box/explode")).status_code == 404

        assert (await api.get("/api/v1/queue")).json() == {"paused": False}
        assert (await api.post("/api/v1/queue/pause")).json() == {"paused": True}
        assert (await kv_value(js, QUEUE_KEY, QueueControl)).paused  # type: ignore[attr-defined]
        assert (await api.get("/api/v1/queue")).json() == {"paused": True}
        await api.post("/api/v1/queue/resume")
        assert (await api.get("/api/v1/queue")).json() == {"paused": False}


async def test_transcode_settings_change_partially_and_bad_values_change_nothing(
    site: Site, bus: tuple[Client, JetStreamContext]
) -> None:
    _, js = bus
    async with site.client() as api:
        defaults = (await api.get("/api/v1/settings/transcode")).json()
        assert (
            defaults["target_codec"] == "hevc"
            and defaults["quality"]["x265"]["1080p"]["level"]
            == TranscodeSettings().quality["x265"].hd1080.level
        )
        # Files a transcode could spoil are left alone unless the user says otherwise.
        assert (defaults["skip_dolby_vision"], defaults["replace_hard_links"]) == (False, False)
        changed = await api.patch(
            "/api/v1/settings/transcode",
            json={
                "target_codec": "av1",
                "skip_dolby_vision": True,
                "quality": {"svtav1": {**defaults["quality"]["svtav1"], "4k": {"level": 40, "preset": "6"}}},
            },
        )
        assert changed.status_code == 200, changed.text
        stored = await kv_value(js, TRANSCODE_KEY, TranscodeSettings)
        assert isinstance(stored, TranscodeSettings) and stored.target_codec == "av1"
        assert stored.skip_dolby_vision and not stored.replace_hard_links
        x265_default = TranscodeSettings().quality["x265"].hd1080.level
        assert (
            stored.quality["svtav1"].uhd.level == 40 and stored.quality["x265"].hd1080.level == x265_default
        )

        for bad in ({"target_codec": "mpeg2"}, {"min_size_mb": -1}, {"colour": "blue"}):
            response = await api.patch("/api/v1/settings/transcode", json=bad)
            assert response.status_code == 422, bad
        assert await kv_value(js, TRANSCODE_KEY, TranscodeSettings) == stored


async def test_quality_by_target_is_chosen_and_bad_targets_change_nothing(
    site: Site, bus: tuple[Client, JetStreamContext]
) -> None:
    _, js = bus
    async with site.client() as api:
        defaults = (await api.get("/api/v1/settings/transcode")).json()
        assert (defaults["quality_mode"], defaults["target_vmaf"]) == ("fixed", 95.0)
        assert defaults["target_levels"]["x265"] == {"best": 16, "worst": 34}
        changed = await api.patch(
            "/api/v1/settings/transcode",
            json={
                "quality_mode": "target",
                "target_vmaf": 93.5,
                "target_levels": {"x265": {"best": 18, "worst": 30}},
            },
        )
        assert changed.status_code == 200, changed.text
        stored = await kv_value(js, TRANSCODE_KEY, TranscodeSettings)
        assert isinstance(stored, TranscodeSettings)
        assert (stored.quality_mode, stored.target_vmaf) == ("target", 93.5)
        # One family's range changed; the others keep theirs.
        assert (stored.target_levels["x265"].best, stored.target_levels["x265"].worst) == (18, 30)
        assert (stored.target_levels["nvenc"].best, stored.target_levels["nvenc"].worst) == (18, 38)
        assert changed.json()["target_levels"]["svtav1"] == {"best": 20, "worst": 50}

        for bad, named in (
            ({"quality_mode": "best"}, "quality_mode"),
            ({"target_vmaf": 99.6}, "target_vmaf"),
            ({"target_vmaf": 49.5}, "target_vmaf"),
            ({"target_vmaf": "high"}, "target_vmaf"),
            ({"quality_mode": "fixed", "target_vmaf": 120}, "target_vmaf"),  # nothing half-applied
            ({"target_levels": {"x265": {"best": 18}}}, "worst"),
            ({"target_levels": {"x265": {"best": -1, "worst": 30}}}, "best"),
        ):
            response = await api.patch("/api/v1/settings/transcode", json=bad)
            assert response.status_code == 422, bad
            assert named in response.json()["detail"], response.text
        assert await kv_value(js, TRANSCODE_KEY, TranscodeSettings) == stored


async def test_a_failed_job_is_retried_on_the_class_of_the_live_nodes(
    site: Site, bus: tuple[Client, JetStreamContext]
) -> None:
    probe = MediaProbe(
        container="matroska",
        duration=60.0,
        video_codec="h264",
        streams=(StreamInfo(index=0, kind="video", codec="h264"),),
    )
    nc, js = bus
    # An NVENC node is live: with encoder priority "auto" the work goes to it.
    nodes = await js.key_value(topology.NODES.name)
    gpu = NodeStatus(
        node="gpu",
        hostname="gpu",
        version="1",
        classes=("nvenc",),
        slots=1,
        state="running",
        codecs={"nvenc": ("hevc",)},
    )
    await nodes.put("gpu", encode(gpu))
    dispatched: list[tuple[str, Transcode]] = []

    async def on_work(msg: Msg) -> None:
        dispatched.append((msg.subject, msgspec.json.decode(msg.data, type=Transcode)))

    await nc.subscribe("work.transcode.>", cb=on_work)  # sees what the scheduler publishes to the stream
    path = str(site.media / "TV" / "Show S01E02.mkv")
    await publish(
        js, MediaProbed(path=path, identity=FileIdentity(size=100, mtime_ns=1, inode=1), probe=probe)
    )
    await eventually(lambda: dispatched, timeout=30, message="first attempt dispatched")
    request = dispatched[0][1]
    await publish(
        js,
        JobFailed(
            job_id=request.job_id,
            attempt=1,
            node="gpu",
            path=path,
            reason="boom",
            detail="log",
            retryable=False,
        ),
    )
    async with site.client() as api:

        async def failed() -> bool:
            page = (await api.get("/api/v1/jobs", params={"status": "failed"})).json()
            return any(j["id"] == request.job_id for j in page["items"])

        await eventually(failed, timeout=30, message="job failed")
        response = await api.post(f"/api/v1/jobs/{request.job_id}/retry")
        assert response.status_code == 200, response.text
        await eventually(lambda: len(dispatched) == 2, timeout=30, message="retry dispatched")
        subject, retry = dispatched[1]
        assert (retry.job_id, retry.attempt, retry.hw_class) == (request.job_id, 2, "nvenc")
        assert subject == topology.transcode_subject("nvenc")
        response = await api.post(f"/api/v1/jobs/{request.job_id}/retry")
        assert response.status_code == 409 and "pending" in response.json()["detail"]
        assert (await api.post("/api/v1/jobs/999999/retry")).status_code == 404
        # Moved by hand: released already (its class's window had room), so it says it keeps its place.
        moved = await api.post(f"/api/v1/jobs/{request.job_id}/move", json={"to": "top"})
        assert moved.status_code == 200 and "keeps its place" in moved.json()["detail"], moved.text
        assert (await api.post(f"/api/v1/jobs/{request.job_id}/move", json={"to": "up"})).status_code == 422
        assert (await api.post("/api/v1/jobs/999999/move", json={"to": "top"})).status_code == 404


async def test_a_nodes_schedule_is_written_where_it_watches_and_bad_windows_change_nothing(
    site: Site, bus: tuple[Client, JetStreamContext]
) -> None:
    _, js = bus
    weekdays = {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "01:00", "end": "07:00"}
    async with site.client() as api, site.client(key=None) as anonymous:
        assert (await anonymous.put("/api/v1/nodes/box/schedule", json={"windows": []})).status_code == 401
        assert (await api.get("/api/v1/nodes/box 2/schedule")).json()["windows"] == []  # none: any time
        saved = await api.put("/api/v1/nodes/box 2/schedule", json={"windows": [weekdays]})
        assert saved.status_code == 200 and saved.json()["windows"] == [weekdays]
        stored = await kv_value(js, schedule_key("box 2"), NodeSchedule)
        assert isinstance(stored, NodeSchedule) and stored.windows == (
            msgspec.convert(weekdays, ScheduleWindow),
        )
        # Starting or stopping the node leaves its schedule alone: they are different keys.
        await api.post("/api/v1/nodes/box 2/stop")
        assert (await api.get("/api/v1/nodes/box 2/schedule")).json()["windows"] == [weekdays]

        for bad in (
            {"windows": [{**weekdays, "start": "25:00"}]},
            {"windows": [{**weekdays, "days": []}]},
            {"windows": [{**weekdays, "days": ["someday"]}]},
            {"windows": [weekdays], "enabled": True},
        ):
            refused = await api.put("/api/v1/nodes/box 2/schedule", json=bad)
            assert refused.status_code == 422, bad
        assert (await api.get("/api/v1/nodes/box 2/schedule")).json()["windows"] == [weekdays]

        assert (await api.put("/api/v1/nodes/box 2/schedule", json={"windows": []})).status_code == 200
        assert (await kv_value(js, schedule_key("box 2"), NodeSchedule)).windows == ()  # type: ignore[attr-defined]


async def test_the_nodes_list_says_where_a_node_stands_in_its_schedule_and_what_it_cannot_use(
    site: Site, bus: tuple[Client, JetStreamContext]
) -> None:
    _, js = bus
    window = ScheduleWindow(days=("mon",), start="01:00", end="07:00")
    status = NodeStatus(
        node="night",
        hostname="box",
        version="0.1.0",
        classes=(HwClass.CPU,),
        slots=1,
        state=NodeState.OFF_SCHEDULE,
        unusable={HwClass.NVENC: "hevc_nvenc: Cannot load libcuda.so.1"},
        schedule=ScheduleStatus(
            time_zone="Europe/Paris",
            windows=(window,),
            open=False,
            next_start=datetime.fromisoformat("2025-03-10T01:00+01:00"),
            next_end=datetime.fromisoformat("2025-03-10T07:00+01:00"),
        ),
    )
    await (await js.key_value(topology.NODES.name)).put("night", encode(status))
    async with site.client() as api:
        (listed,) = [n for n in (await api.get("/api/v1/nodes")).json() if n["node"] == "night"]
    assert listed["state"] == "off schedule"
    assert listed["unusable"] == {"nvenc": "hevc_nvenc: Cannot load libcuda.so.1"}
    assert listed["schedule"]["open"] is False and listed["schedule"]["time_zone"] == "Europe/Paris"
    assert listed["schedule"]["windows"] == [{"days": ["mon"], "start": "01:00", "end": "07:00"}]
    assert datetime.fromisoformat(listed["schedule"]["next_start"]) == status.schedule.next_start  # type: ignore[union-attr]
