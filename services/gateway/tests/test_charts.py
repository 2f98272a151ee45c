"""The statistics page's SVG charts, drawn without a server: a running total, bars, and text escaped."""

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


def test_bars_are_as_long_as_their_values_and_names_are_escaped() -> None:
    svg = str(charts.bars([("<b>h264</b>", 4.0), ("mpeg4", 1.0)], lambda n: f"{n:.0f}", "Codecs"))
    widths = [float(w) for w in re.findall(r'<rect class="bar"[^>]* width="([\d.]+)"', svg)]
    assert widths[0] == 4 * widths[1]
    assert "<b>" not in svg and "&lt;b&gt;h264&lt;/b&gt;" in svg


def test_nothing_to_draw_says_so() -> None:
    assert "Nothing in this period." in str(charts.line([], str, "Saved"))
    assert "Nothing in this period." in str(charts.bars([], str, "Codecs"))
