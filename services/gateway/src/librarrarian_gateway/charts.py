"""Charts as plain SVG, drawn on the server: no script, no library, and the CSS palette colours them
(light and dark alike). Every mark has a ``<title>``, so hovering it tells its exact value."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from markupsafe import Markup

# In viewBox units: a line chart spans the page, bar charts share a row three abreast.
WIDTH, HEIGHT, PAD = 960, 260, 40
BARS_WIDTH, BAR_HEIGHT, BAR_GAP, LABEL_WIDTH = 480, 24, 8, 110


def _empty(text: str) -> Markup:
    return Markup('<p class="empty">{}</p>').format(text)


# A line chart's marks at most: about one per 3.5 units of its width. Ten years of days (3,650 marks) would
# put four on each unit, none of them to be pointed at, and weigh half a megabyte of page.
MAX_MARKS = 250


def line(
    points: Sequence[tuple[str, float]],
    label: Callable[[float], str],
    name: str,
    empty: str = "Nothing in this period.",
) -> Markup:
    """A running total over time: ``points`` are (day, amount that day), oldest first. Beyond ``MAX_MARKS``
    days, each mark stands for a run of consecutive days ("first to last"), its amount their sum: the line
    still ends at the same total, and each mark's title still tells its exact values. ``empty`` says why there
    is no line."""
    if not points:
        return _empty(empty)
    first_day, last_day = points[0][0], points[-1][0]
    points = _runs(points)
    totals, running = [], 0.0
    for _, amount in points:
        running += amount
        totals.append(running)
    # A total that falls below zero (bytes a target level cost against fixed quality) is drawn below the axis.
    top, bottom = max(max(totals), 1.0), min(min(totals), 0.0)
    coords = _coords(totals, top, bottom)
    base = _y(0.0, top, bottom)
    parts = _plot(name, coords, base)
    for (day, amount), (x, y), total in zip(points, coords, totals, strict=True):
        parts.append(
            Markup(
                '<circle class="dot" cx="{:.1f}" cy="{:.1f}" r="3"><title>{}: {}{} ({} in all)</title></circle>'
            ).format(x, y, day, "" if amount < 0 else "+", label(amount), label(total))
        )
    parts += _ticks(first_day, last_day, label(top), label(bottom) if bottom < 0 else None)
    return Markup("").join(parts)


def means(
    points: Sequence[tuple[str, float, int]],
    label: Callable[[float], str],
    name: str,
    ceiling: float,
    empty: str = "Nothing measured in this period.",
) -> Markup:
    """A mean per day over time (not a running total): ``points`` are (day, the day's mean, how many values it
    is the mean of), oldest first. The scale runs from just below the lowest mean to ``ceiling``. Beyond
    ``MAX_MARKS`` days, each mark stands for a run of consecutive days, its value the mean of all their values."""
    if not points:
        return _empty(empty)
    first_day, last_day = points[0][0], points[-1][0]
    size = _run_size(len(points))
    runs = []
    for start in range(0, len(points), size):
        run = points[start : start + size]
        days = run[0][0] if len(run) == 1 else f"{run[0][0]} to {run[-1][0]}"
        count = sum(n for _, _, n in run)
        runs.append((days, sum(mean * n for _, mean, n in run) / count, count))
    lowest = min(mean for _, mean, _ in runs)
    bottom = min(ceiling - 5, 5 * ((lowest - 1) // 5))
    coords = _coords([mean for _, mean, _ in runs], ceiling, bottom)
    parts = _plot(name, coords, HEIGHT - PAD)
    for (days, mean, count), (x, y) in zip(runs, coords, strict=True):
        parts.append(
            Markup(
                '<circle class="dot" cx="{:.1f}" cy="{:.1f}" r="3"><title>{}: {} ({} file{})</title></circle>'
            ).format(x, y, days, label(mean), count, "" if count == 1 else "s")
        )
    parts += _ticks(first_day, last_day, label(ceiling), label(bottom))
    return Markup("").join(parts)


def _y(value: float, top: float, bottom: float) -> float:
    return PAD + (HEIGHT - 2 * PAD) * (top - value) / (top - bottom)


def _coords(values: Sequence[float], top: float, bottom: float) -> list[tuple[float, float]]:
    """Each value's place: spread over the width left to right (one alone in the middle), ``top`` to
    ``bottom`` from the top of the plot to its foot."""
    span, inner_w = max(len(values) - 1, 1), WIDTH - 2 * PAD
    return [
        (PAD + (inner_w * i / span if len(values) > 1 else inner_w / 2), _y(value, top, bottom))
        for i, value in enumerate(values)
    ]


def _plot(name: str, coords: Sequence[tuple[float, float]], base: float) -> list[Markup]:
    """A line chart's frame, axis at ``base``, and its line with the area between it and the axis."""
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    area = f"{coords[0][0]:.1f},{base:.1f} {path} {coords[-1][0]:.1f},{base:.1f}"
    return [
        Markup('<svg class="chart line" viewBox="0 0 {} {}" role="img" aria-label="{}">').format(
            WIDTH, HEIGHT, name
        ),
        Markup('<line class="axis" x1="{}" y1="{:g}" x2="{}" y2="{:g}"/>').format(
            PAD, base, WIDTH - PAD, base
        ),
        Markup('<polygon class="area" points="{}"/>').format(area),
        Markup('<polyline class="line" points="{}"/>').format(path),
    ]


def _ticks(first_day: str, last_day: str, top: str, bottom: str | None) -> list[Markup]:
    """The first and last day under the plot, the top of the scale above it and, when given, its foot (inside
    the plot, above the days)."""
    ticks = [
        Markup('<text class="tick" x="{}" y="{}">{}</text>').format(PAD, HEIGHT - 12, first_day),
        Markup('<text class="tick end" x="{}" y="{}">{}</text>').format(WIDTH - PAD, HEIGHT - 12, last_day),
        Markup('<text class="tick" x="{}" y="{}">{}</text>').format(PAD, PAD - 10, top),
    ]
    if bottom is not None:
        ticks.append(
            Markup('<text class="tick" x="{}" y="{}">{}</text>').format(PAD, HEIGHT - PAD - 6, bottom)
        )
    return [*ticks, Markup("</svg>")]


def _run_size(days: int) -> int:
    """How many consecutive days each mark stands for, so that there are at most ``MAX_MARKS``."""
    return max(-(-days // MAX_MARKS), 1)


def _runs(points: Sequence[tuple[str, float]]) -> Sequence[tuple[str, float]]:
    """``points`` as at most ``MAX_MARKS`` runs of consecutive days, each named by its first and last day."""
    size = _run_size(len(points))
    if size <= 1:
        return points
    runs = []
    for start in range(0, len(points), size):
        run = points[start : start + size]
        days = run[0][0] if len(run) == 1 else f"{run[0][0]} to {run[-1][0]}"
        runs.append((days, sum(amount for _, amount in run)))
    return runs


def bars(items: Sequence[tuple[str, float]], label: Callable[[float], str], name: str) -> Markup:
    """Horizontal bars, one per item, longest first as given."""
    if not items:
        return _empty("Nothing in this period.")
    top = max(max(value for _, value in items), 1e-9)
    height = len(items) * (BAR_HEIGHT + BAR_GAP) + BAR_GAP
    room = BARS_WIDTH - LABEL_WIDTH - 150
    parts = [
        Markup('<svg class="chart bars" viewBox="0 0 {} {}" role="img" aria-label="{}">').format(
            BARS_WIDTH, height, name
        )
    ]
    for i, (key, value) in enumerate(items):
        y = BAR_GAP + i * (BAR_HEIGHT + BAR_GAP)
        length = max(room * value / top, 1.0)
        parts.append(
            Markup(
                '<g class="row"><text class="key" x="{}" y="{}">{}</text>'
                '<rect class="bar" x="{}" y="{}" width="{:.1f}" height="{}" rx="3"><title>{}: {}</title></rect>'
                '<text class="value" x="{:.1f}" y="{}">{}</text></g>'
            ).format(
                LABEL_WIDTH - 8,
                y + BAR_HEIGHT * 0.7,
                key,
                LABEL_WIDTH,
                y,
                length,
                BAR_HEIGHT,
                key,
                label(value),
                LABEL_WIDTH + length + 6,
                y + BAR_HEIGHT * 0.7,
                label(value),
            )
        )
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)
