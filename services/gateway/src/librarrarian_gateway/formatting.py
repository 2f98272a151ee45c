"""Numbers as people read them on the server-rendered pages: sizes, durations, percentages, moments.
``static/lib.js`` formats the same way in the browser (a browser test holds the two to each other)."""

from __future__ import annotations

import math
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

NONE = "\u2013"  # an en dash: how tables show "no value"


def fixed(value: float, digits: int) -> str:
    """``value`` with ``digits`` decimals, a tie rounded away from zero: what JavaScript's ``toFixed`` does
    with the same number (Python's own formatting rounds a tie to even)."""
    return str(Decimal(value).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


def size(value: int | None) -> str:
    if value is None:
        return NONE
    amount = float(value)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(amount) < 1000 or unit == "TB":
            return f"{fixed(amount, 0 if unit == 'B' else 1)} {unit}"
        amount /= 1000
    return NONE


def duration(seconds: float | None) -> str:
    if seconds is None:
        return NONE
    whole = math.floor(seconds + 0.5)  # JavaScript's Math.round
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def percent(fraction: float | None) -> str:
    return NONE if fraction is None else f"{fixed(fraction * 100, 0)} %"


def when(moment: datetime | None) -> str:
    return NONE if moment is None else moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


FILTERS = {"size": size, "duration": duration, "percent": percent, "when": when}
