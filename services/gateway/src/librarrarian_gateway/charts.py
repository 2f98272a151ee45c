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


def line(points: Sequence[tuple[str, float]], label: Callable[[float], str], name: str) -> Markup:
    """A running total over time: ``points`` are (day, amount that day), oldest first. Beyond ``MAX_MARKS``
    days, each mark stands for a run of consecutive days ("first to last"), its amount their sum: the line
    still ends at the same total, and each mark's title still tells its exact values."""
    if not points:
        return _empty("Nothing in this period.")
    first_day, last_day = points[0][0], points[-1][0]
    points = _runs(points)
    totals, running = [], 0.0
    for _, amount in points:
        running += amount
        totals.append(running)
    top = max(max(totals), 1.0)
    span = max(len(points) - 1, 1)
    inner_w, inner_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD

    def xy(i: int, total: float) -> tuple[float, float]:
        x = PAD + (inner_w * i / span if len(points) > 1 else inner_w / 2)
        return x, PAD + inner_h * (1 - total / top)

    coords = [xy(i, t) for i, t in enumerate(totals)]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    base = HEIGHT - PAD
    area = f"{coords[0][0]:.1f},{base} {path} {coords[-1][0]:.1f},{base}"
    parts = [
        Markup('<svg class="chart line" viewBox="0 0 {} {}" role="img" aria-label="{}">').format(
            WIDTH, HEIGHT, name
        ),
        Markup('<line class="axis" x1="{}" y1="{}" x2="{}" y2="{}"/>').format(PAD, base, WIDTH - PAD, base),
        Markup('<polygon class="area" points="{}"/>').format(area),
        Markup('<polyline class="line" points="{}"/>').format(path),
    ]
    for (day, amount), (x, y), total in zip(points, coords, totals, strict=True):
        parts.append(
            Markup(
                '<circle class="dot" cx="{:.1f}" cy="{:.1f}" r="3"><title>{}: +{} ({} in all)</title></circle>'
            ).format(x, y, day, label(amount), label(total))
        )
    parts += [
        Markup('<text class="tick" x="{}" y="{}">{}</text>').format(PAD, HEIGHT - 12, first_day),
        Markup('<text class="tick end" x="{}" y="{}">{}</text>').format(WIDTH - PAD, HEIGHT - 12, last_day),
        Markup('<text class="tick" x="{}" y="{}">{}</text>').format(PAD, PAD - 10, label(top)),
        Markup("</svg>"),
    ]
    return Markup("").join(parts)


def _runs(points: Sequence[tuple[str, float]]) -> Sequence[tuple[str, float]]:
    """``points`` as at most ``MAX_MARKS`` runs of consecutive days, each named by its first and last day."""
    size = -(-len(points) // MAX_MARKS)
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
