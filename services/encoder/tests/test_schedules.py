"""A node's schedule on a real encoder with real ffmpeg: outside its windows it takes no work, a window that
opens lets it take work, one that closes lets the running job finish and takes no next one. Time is a
clock the test moves, in the node's time zone."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from librarrarian_contracts import JobCompleted, JobStarted, publish, topology
from librarrarian_contracts.settings import NodeSchedule, ScheduleWindow, schedule_key
from librarrarian_encoder.settings import Settings
from librarrarian_testing import eventually, library, transcode
from nats.aio.client import Client
from nats.js import JetStreamContext

from .encoder_client import NODE, ManualClock, Scheduler, holds, node_status, outcome, work
from .test_control import QUIET_SECONDS, control, takes_no_work

PARIS = ZoneInfo("Europe/Paris")
MONDAYS_1_TO_7 = NodeSchedule(windows=(ScheduleWindow(days=("mon",), start="01:00", end="07:00"),))


def paris(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=PARIS)


async def _state(js: JetStreamContext, wanted: str) -> bool:
    return (await node_status(js, NODE)).state == wanted


async def test_a_window_opens_the_node_and_its_end_lets_the_running_job_finish_and_takes_no_next(
    bus: tuple[Client, JetStreamContext],
    scheduler: Scheduler,
    node_starter: Callable[..., Awaitable[Settings]],
    media: library.Library,
) -> None:
    _, js = bus
    clock = ManualClock(paris("2025-03-03T00:30"))  # a Monday, half an hour before its window
    await control(js, schedule_key(NODE), MONDAYS_1_TO_7)
    await transcode.put(js, transcode.fastest(x265_preset="medium", max_output_percent=1000))
    await node_starter(clock=clock, time_zone=PARIS)
    await eventually(lambda: _state(js, "off schedule"), timeout=10, message="off schedule")
    before = (await node_status(js, NODE)).schedule
    assert before is not None and not before.open and before.time_zone == "Europe/Paris"
    assert (before.next_start, before.next_end) == (paris("2025-03-03T01:00"), paris("2025-03-03T07:00"))
    await publish(js, work(media.transcode["mp4"], job_id=1), topology.transcode_subject("cpu"))
    await holds(lambda: takes_no_work(js, 0), seconds=QUIET_SECONDS, message="no work taken before 01:00")

    clock.set(paris("2025-03-03T01:00"))
    await eventually(
        lambda: scheduler.progress and scheduler.progress[-1].percent > 0,
        timeout=60,
        message="job 1 encoding",
    )
    inside = (await node_status(js, NODE)).schedule
    assert inside is not None and inside.open and inside.open_until == paris("2025-03-03T07:00")
    assert inside.next_start == paris("2025-03-10T01:00")  # the next Monday
    # Job 2 waits behind job 1 (one slot): an open node would take it the moment job 1's encode ends.
    await publish(js, work(media.transcode["avi"], job_id=2), topology.transcode_subject("cpu"))

    assert not scheduler.of(JobCompleted)
    clock.set(paris("2025-03-03T07:00"))
    await eventually(lambda: _state(js, "off schedule"), timeout=10, message="off schedule at 07:00")
    done = await outcome(scheduler, 1)
    assert isinstance(done, JobCompleted), getattr(done, "reason", done)  # the running job finished
    await holds(lambda: takes_no_work(js, 1), seconds=QUIET_SECONDS, message="job 2 not taken after 07:00")
    assert [e.job_id for e in scheduler.of(JobStarted)] == [1]
    after = (await node_status(js, NODE)).schedule
    assert after is not None and not after.open and after.next_start == paris("2025-03-10T01:00")

    clock.set(paris("2025-03-10T01:00"))
    second = await outcome(scheduler, 2)
    assert isinstance(second, JobCompleted), getattr(second, "reason", second)


async def test_a_schedule_set_or_removed_applies_at_once(
    bus: tuple[Client, JetStreamContext],
    scheduler: Scheduler,
    node_starter: Callable[..., Awaitable[Settings]],
    media: library.Library,
) -> None:
    _, js = bus
    await transcode.put(js, transcode.fastest())
    await node_starter(clock=ManualClock(paris("2025-03-04T12:00")), time_zone=PARIS)  # a Tuesday
    assert (await node_status(js, NODE)).state == "running"

    await control(js, schedule_key(NODE), MONDAYS_1_TO_7)
    await eventually(lambda: _state(js, "off schedule"), timeout=10, message="off schedule")
    # A fetch already waiting when the schedule came may still take a message (as with a pause): let it end.
    await eventually(lambda: takes_no_work(js, 0), timeout=10, message="no fetch waiting")
    await publish(js, work(media.transcode["mp4"]), topology.transcode_subject("cpu"))
    await holds(lambda: takes_no_work(js, 0), seconds=QUIET_SECONDS, message="taking no work")

    await control(js, schedule_key(NODE), NodeSchedule())  # no window: any time
    done = await outcome(scheduler, 1)
    assert isinstance(done, JobCompleted), getattr(done, "reason", done)
    assert (await node_status(js, NODE)).schedule is None
