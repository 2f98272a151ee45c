"""Where a node stands in its schedule, from its windows and an instant: weekdays, overnight windows, the
whole day, overlaps, the node's time zone and its daylight-saving changes."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import msgspec
import pytest
from librarrarian_contracts.settings import NodeSchedule, ScheduleWindow
from librarrarian_encoder import schedule

PARIS = ZoneInfo("Europe/Paris")
WEEKDAYS_1_TO_7 = NodeSchedule(
    windows=(ScheduleWindow(days=("mon", "tue", "wed", "thu", "fri"), start="01:00", end="07:00"),)
)


def at(text: str, zone: ZoneInfo = PARIS) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=zone)


def test_no_window_means_any_time() -> None:
    assert schedule.status(NodeSchedule(), PARIS, at("2025-03-03T12:00")) is None
    assert schedule.next_change(None) is None


def test_inside_a_weekday_window_until_its_end_and_the_next_one_on_the_next_day() -> None:
    state = schedule.status(WEEKDAYS_1_TO_7, PARIS, at("2025-03-03T01:00"))  # a Monday, at the opening
    assert state is not None and state.open and state.time_zone == "Europe/Paris"
    assert state.open_until == at("2025-03-03T07:00")
    assert (state.next_start, state.next_end) == (at("2025-03-04T01:00"), at("2025-03-04T07:00"))
    assert schedule.next_change(state) == at("2025-03-03T07:00")


def test_closed_at_the_end_and_over_the_weekend_until_monday() -> None:
    friday_end = schedule.status(WEEKDAYS_1_TO_7, PARIS, at("2025-03-07T07:00"))
    assert friday_end is not None and not friday_end.open and friday_end.open_until is None
    assert friday_end.next_start == at("2025-03-10T01:00")  # Monday
    assert schedule.next_change(friday_end) == at("2025-03-10T01:00")


def test_an_overnight_window_belongs_to_the_day_it_opens() -> None:
    nights = NodeSchedule(windows=(ScheduleWindow(days=("fri",), start="22:00", end="06:00"),))
    saturday_morning = schedule.status(nights, PARIS, at("2025-03-08T05:59"))
    assert saturday_morning is not None and saturday_morning.open
    assert saturday_morning.open_until == at("2025-03-08T06:00")
    thursday_night = schedule.status(nights, PARIS, at("2025-03-06T23:00"))
    assert thursday_night is not None and not thursday_night.open


def test_touching_and_overlapping_windows_are_one_and_the_whole_day_never_closes_before_its_end() -> None:
    week = NodeSchedule(
        windows=(
            ScheduleWindow(start="00:00", end="00:00"),  # every day, all day
            ScheduleWindow(days=("mon",), start="10:00", end="12:00"),
        )
    )
    state = schedule.status(week, PARIS, at("2025-03-03T12:00"))
    assert state is not None and state.open and state.next_start is None
    assert state.open_until is not None and state.open_until - at("2025-03-03T12:00") > timedelta(days=6)


def test_the_windows_are_read_in_the_nodes_time_zone() -> None:
    utc_instant = datetime.fromisoformat("2025-03-03T00:30+00:00")  # 01:30 in Paris (winter, UTC+1)
    paris = schedule.status(WEEKDAYS_1_TO_7, PARIS, utc_instant)
    utc = schedule.status(WEEKDAYS_1_TO_7, ZoneInfo("UTC"), utc_instant)
    assert paris is not None and paris.open and utc is not None and not utc.open


def test_daylight_saving_days_open_once_at_their_wall_clock_times() -> None:
    early = NodeSchedule(windows=(ScheduleWindow(days=("sun",), start="02:30", end="04:00"),))
    # 2025-03-30: Paris skips 02:00-03:00, so 02:30 is taken as 03:30 local, an hour later.
    spring = schedule.status(early, PARIS, at("2025-03-30T00:00"))
    assert spring is not None and spring.next_start is not None
    assert spring.next_start.astimezone(PARIS).hour == 3 and spring.next_end == at("2025-03-30T04:00")
    # 2025-10-26: 02:30 happens twice; the window opens the first time (UTC+2).
    autumn = schedule.status(early, PARIS, at("2025-10-26T00:00"))
    assert autumn is not None and autumn.next_start is not None
    assert autumn.next_start.utcoffset() == timedelta(hours=2)


@pytest.mark.parametrize(
    "window",
    [
        {"start": "24:00", "end": "01:00"},
        {"start": "1:00", "end": "02:00"},
        {"start": "01:00", "end": "02:00", "days": []},
        {"start": "01:00", "end": "02:00", "days": ["mon", "mon"]},
        {"start": "01:00", "end": "02:00", "days": ["monday"]},
    ],
)
def test_a_malformed_window_is_refused(window: dict[str, object]) -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"windows": [window]}, NodeSchedule)
