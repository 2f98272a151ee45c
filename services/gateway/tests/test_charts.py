"""The statistics page's SVG charts, drawn without a server: a running total (below zero too), a mean per day,
bars, and text escaped."""

from __future__ import annotations

import re

from librarrarian_gateway import charts


def test_the_line_is_a_running_total_rising_left_to_right() -> None:
    svg = str(charts.line([("2026-01-01", 100.0), ("2026-01-02", 0.0), ("2026-01-03", 300.0)], str, "Saved"))
    (points,) = re.findall(r'<polyline class="line" points="([^"]+)"', svg)
    coords = [tuple(map(float, p.split(","))) for p in points.split()]
    assert len(coords) == 3 and coords[0][0] < coords[1][0] < coords[2][0]
    assert coords[0][1] > coords[2][1] and coords[0][1] == coords[1][1]  # flat on a day that saved nothing
    assert "2026-01-03: +300.0 (400.0 in all)" in svg


def test_ten_years_of_days_are_drawn_as_runs_of_days_ending_at_the_same_total() -> None:
    days = [(f"day {n:04d}", 1.0) for n in range(3650)]
    svg = str(charts.line(days, lambda v: f"{v:g}", "Saved"))
    marks = re.findall(r"<title>([^<]+)</title>", svg)
    assert len(marks) <= charts.MAX_MARKS
    # Consecutive runs covering every day once, the last ending at the total of all days.
    assert marks[0].startswith("day 0000 to ") and marks[-1].endswith("(3650 in all)")
    assert "day 3649" in marks[-1]
    assert ">day 0000</text>" in svg and ">day 3649</text>" in svg  # the axis names the first and last day
    # A short period keeps a mark a day.
    assert len(re.findall("<title>", str(charts.line(days[:90], str, "Saved")))) == 90


def test_bars_are_as_long_as_their_values_and_names_are_escaped() -> None:
    svg = str(charts.bars([("<b>h264</b>", 4.0), ("mpeg4", 1.0)], lambda n: f"{n:.0f}", "Codecs"))
    widths = [float(w) for w in re.findall(r'<rect class="bar"[^>]* width="([\d.]+)"', svg)]
    assert widths[0] == 4 * widths[1]
    assert "<b>" not in svg and "&lt;b&gt;h264&lt;/b&gt;" in svg


def test_nothing_to_draw_says_so() -> None:
    assert "Nothing in this period." in str(charts.line([], str, "Saved"))
    assert "Nothing in this period." in str(charts.bars([], str, "Codecs"))


def test_a_running_total_below_zero_is_drawn_below_the_axis() -> None:
    svg = str(charts.line([("2026-01-01", -100.0), ("2026-01-02", 300.0)], lambda v: f"{v:g}", "Saved"))
    (axis,) = re.findall(r'<line class="axis" x1="[\d.]+" y1="([\d.]+)"', svg)
    (points,) = re.findall(r'<polyline class="line" points="([^"]+)"', svg)
    (_, first), (_, last) = (tuple(map(float, p.split(","))) for p in points.split())
    assert first > float(axis) > last  # below the axis, then above it
    assert "2026-01-01: -100 (-100 in all)" in svg and "2026-01-02: +300 (200 in all)" in svg
    assert ">-100</text>" in svg  # the scale's foot is named


def test_a_mean_per_day_is_each_days_own_and_runs_of_days_are_weighted() -> None:
    svg = str(charts.means([("d1", 93.0, 1), ("d2", 96.0, 3)], lambda v: f"{v:.2f}", "VMAF", ceiling=100.0))
    (points,) = re.findall(r'<polyline class="line" points="([^"]+)"', svg)
    (_, y1), (_, y2) = (tuple(map(float, p.split(","))) for p in points.split())
    # The scale runs from 90 to 100 over the plot's 180 units: 93 is 126 below its top (at 40), 96 72.
    assert (y1, y2) == (166.0, 112.0)
    assert "d1: 93.00 (1 file)" in svg and "d2: 96.00 (3 files)" in svg
    assert ">100.00</text>" in svg and ">90.00</text>" in svg
    days = [(f"day {n:04d}", 90.0 + n % 2 * 8, 1 + n % 2) for n in range(3650)]  # 90 once, 98 twice, ...
    marks = re.findall(r"<title>([^<]+)</title>", str(charts.means(days, lambda v: f"{v:.2f}", "V", 100.0)))
    assert len(marks) <= charts.MAX_MARKS
    # The first run of 15 days: 8 days of 90 (one file each) and 7 of 98 (two each), weighted by files.
    assert marks[0] == f"day 0000 to day 0014: {(8 * 90 + 14 * 98) / 22:.2f} (22 files)"
    assert "No VMAF measured." in str(charts.means([], str, "V", 100.0, empty="No VMAF measured."))
