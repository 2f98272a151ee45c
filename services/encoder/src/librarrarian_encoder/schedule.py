"""Where a node stands in its schedule: inside a window or not, until when, and the next window, computed
from the windows (wall-clock times in the node's time zone) and an instant. Pure: the node asks its clock
for the instant, so a test can move time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from librarrarian_contracts.settings import WEEKDAYS, NodeSchedule, ScheduleWindow
from librarrarian_contracts.views import ScheduleStatus

Interval = tuple[datetime, datetime]


def _clock(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def _at(day: date, moment: time, zone: ZoneInfo) -> datetime:
    """``moment`` on ``day`` in ``zone``. A time that the clocks skip (spring forward) is taken an hour
    later, one that happens twice (fall back) the first time: a window opens once, at the latest sensible
    instant, never twice."""
    local = datetime.combine(day, moment, zone)
    there_and_back = local.astimezone(ZoneInfo("UTC")).astimezone(zone)
    return there_and_back if there_and_back.replace(tzinfo=None) != local.replace(tzinfo=None) else local


def _openings(window: ScheduleWindow, day: date, zone: ZoneInfo) -> Interval | None:
    if WEEKDAYS[day.weekday()] not in window.days:
        return None
    start, end = _clock(window.start), _clock(window.end)
    end_day = day + timedelta(days=1) if end <= start else day
    return _at(day, start, zone), _at(end_day, end, zone)


def intervals(schedule: NodeSchedule, zone: ZoneInfo, now: datetime) -> Iterator[Interval]:
    """The windows as instants from the day before ``now`` (a window opened yesterday may still be open) to
    eight days after it, overlapping or touching ones merged, in order."""
    today = now.astimezone(zone).date()
    found = sorted(
        opening
        for offset in range(-1, 9)
        for window in schedule.windows
        if (opening := _openings(window, today + timedelta(days=offset), zone)) is not None
    )
    current: Interval | None = None
    for start, end in found:
        if current is not None and start <= current[1]:
            current = (current[0], max(current[1], end))
            continue
        if current is not None:
            yield current
        current = (start, end)
    if current is not None:
        yield current


def status(schedule: NodeSchedule, zone: ZoneInfo, now: datetime) -> ScheduleStatus | None:
    """None without windows: the node takes work at any time."""
    if not schedule.windows:
        return None
    current: Interval | None = None
    upcoming: Interval | None = None
    for start, end in intervals(schedule, zone, now):
        if start <= now < end:
            current = (start, end)
        elif start > now:
            upcoming = (start, end)
            break
    return ScheduleStatus(
        time_zone=zone.key,
        windows=schedule.windows,
        open=current is not None,
        open_until=current[1] if current else None,
        next_start=upcoming[0] if upcoming else None,
        next_end=upcoming[1] if upcoming else None,
    )


def next_change(state: ScheduleStatus | None) -> datetime | None:
    """When the node next goes in or out of a window; None: never (no schedule)."""
    if state is None:
        return None
    return state.open_until if state.open else state.next_start
