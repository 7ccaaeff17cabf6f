"""Calls per day as an SVG bar chart, drawn here so that the page needs no charting library.

Days without a call are drawn as gaps (no bar), so a quiet week looks quiet. Long spans are bucketed:
one bar for several days, at most :data:`MAX_BARS` bars, so a year of activity stays a few KB.

>>> from datetime import date
>>> svg = bars([(date(2024, 8, 1), 3), (date(2024, 8, 3), 6)])
>>> svg.count("<rect"), "3 calls on 2024-08-01" in svg
(2, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from html import escape

WIDTH = 640
HEIGHT = 120
#: room below the bars for the first and last date, and above them for the peak
AXIS = 16
TOP = 14
MAX_BARS = 180


def _buckets(days: Sequence[tuple[date, int]]) -> tuple[list[tuple[date, date, int]], int]:
    """(first day, last day, calls) per bar, and how many days one bar stands for."""
    first, last = days[0][0], days[-1][0]
    span = (last - first).days + 1
    per_bar = -(-span // MAX_BARS)
    sums: dict[int, int] = {}
    for day, calls in days:
        index = (day - first).days // per_bar
        sums[index] = sums.get(index, 0) + calls
    return [
        (
            first + timedelta(days=i * per_bar),
            min(last, first + timedelta(days=i * per_bar + per_bar - 1)),
            n,
        )
        for i, n in sorted(sums.items())
    ], per_bar


def bars(days: Sequence[tuple[date, int]]) -> str:
    """An ``<svg>`` of calls per day (``days`` sorted by day, each with its calls); empty with no day."""
    if not days:
        return ""
    buckets, per_bar = _buckets(days)
    slots = -(-((days[-1][0] - days[0][0]).days + 1) // per_bar)
    peak = max(n for _, _, n in buckets)
    slot = WIDTH / slots
    plot = HEIGHT - AXIS
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'role="img" aria-label="calls per day">'
    ]
    for start, end, n in buckets:
        x = (start - days[0][0]).days // per_bar * slot
        h = max(1.0, (plot - TOP) * n / peak)
        when = start.isoformat() if start == end else f"{start.isoformat()} to {end.isoformat()}"
        parts.append(
            f'<rect x="{x:.1f}" y="{plot - h:.1f}" width="{max(1.0, slot - 1):.1f}" height="{h:.1f}">'
            f"<title>{n:,} calls on {escape(when)}</title></rect>"
        )
    parts.append(
        f'<text x="0" y="{HEIGHT - 3}">{days[0][0].isoformat()}</text>'
        f'<text x="{WIDTH}" y="{HEIGHT - 3}" text-anchor="end">{days[-1][0].isoformat()}</text>'
        f'<text x="{WIDTH}" y="10" text-anchor="end">peak {peak:,}</text></svg>'
    )
    return "".join(parts)
