"""A dated series of figures as inline SVG, drawn on the server.

Like the bar chart, it needs no script: the x axis is calendar time (ticks labelled with days),
the y axis starts at zero for figures that cannot be negative, each point is a link to the
passage that states it with a ``<title>`` that names the day, the figure and its source (what a
pointer shows on hover), and disputed points are drawn hollow with "disputed" in their title.
The ``<desc>`` and ``summary`` say the same in words.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from itertools import count

from markupsafe import Markup, escape

WIDTH = 640
HEIGHT = 260
SMALL_HEIGHT = 150
LEFT, RIGHT, TOP, BOTTOM = 84, 16, 14, 48
X_TICKS = 5
Y_TICKS = 4
_ids = count(1)


@dataclass(frozen=True)
class Dot:
    """One point to draw: its day, value, words for its title and where it links."""

    day: date
    value: float
    label: str
    href: str
    disputed: bool = False


@dataclass(frozen=True)
class Timeline:
    """Dots of one unit over time, with a title."""

    title: str
    unit: str
    dots: tuple[Dot, ...]

    @property
    def summary(self) -> str:
        """The chart in words: title, span of days, count and disputed count."""
        if not self.dots:
            return f"{self.title}: no dated figures."
        days = sorted(d.day for d in self.dots)
        disputed = sum(1 for d in self.dots if d.disputed)
        extra = f", {disputed} disputed" if disputed else ""
        return (
            f"{self.title}: {len(self.dots)} figures from {days[0].isoformat()} to "
            f"{days[-1].isoformat()}{extra}."
        )


def compact_number(value: float, unit: str) -> str:
    """A short axis label: ``$1.2B``, ``45%``, ``2.5K BTC``."""
    magnitude = abs(value)
    for limit, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if magnitude >= limit:
            number = f"{value / limit:.3g}{suffix}"
            break
    else:
        number = f"{value:.3g}"
    if unit == "USD":
        return ("-$" + number[1:]) if number.startswith("-") else "$" + number
    if unit == "%":
        return number + "%"
    return f"{number} {unit}" if unit not in ("count", "x") else number


def nice_ticks(low: float, high: float, wanted: int = Y_TICKS) -> list[float]:
    """Round tick values covering [low, high] (steps of 1, 2 or 5 times a power of ten)."""
    if high <= low:
        high = low + (abs(low) or 1.0)
    raw = (high - low) / wanted
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    ticks = [math.floor(low / step) * step]
    while ticks[-1] < high:
        ticks.append(ticks[-1] + step)
    return [round(t, 12) for t in ticks]


def render_timeline(chart: Timeline, small: bool = False) -> Markup:
    """The timeline as an accessible inline ``<svg>`` (safe to insert in a template)."""
    number = next(_ids)
    title_id, desc_id = f"timeline-title-{number}", f"timeline-desc-{number}"
    height = SMALL_HEIGHT if small else HEIGHT
    plot_w, plot_h = WIDTH - LEFT - RIGHT, height - TOP - BOTTOM
    days = [d.day.toordinal() for d in chart.dots]
    first, last = (min(days), max(days)) if days else (0, 1)
    if first == last:
        first, last = first - 1, last + 1
    values = [d.value for d in chart.dots] or [0.0]
    ticks = nice_ticks(min(0.0, min(values)), max(0.0, max(values)))
    low, high = ticks[0], ticks[-1]

    def x(ordinal: int) -> float:
        return round(LEFT + plot_w * (ordinal - first) / (last - first), 1)

    def y(value: float) -> float:
        return round(TOP + plot_h * (1 - (value - low) / ((high - low) or 1.0)), 1)

    parts = [
        f'<svg class="timeline{" small" if small else ""}" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" role="img" aria-labelledby="{title_id}" aria-describedby="{desc_id}" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{title_id}">{escape(chart.title)}</title>',
        f'<desc id="{desc_id}">{escape(chart.summary)}</desc>',
        '<g class="timeline-axis">',
    ]
    for tick in ticks:
        parts.append(
            f'<line class="timeline-grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(tick)}" '
            f'y2="{y(tick)}"></line><text class="timeline-label" x="{LEFT - 6}" '
            f'y="{y(tick) + 4}" text-anchor="end">{escape(compact_number(tick, chart.unit))}</text>'
        )
    day_ticks = _day_ticks(first, last, 3 if small else X_TICKS)
    for index, ordinal in enumerate(day_ticks):
        # Every other day label is minor: a phone's narrow chart shows only the major ones. The
        # end labels align inwards so they stay inside the chart.
        minor = " minor" if index % 2 else ""
        anchor = "start" if index == 0 else "end" if index == len(day_ticks) - 1 else "middle"
        parts.append(
            f'<text class="timeline-label x-tick{minor}" x="{x(ordinal)}" '
            f'y="{height - BOTTOM + 34}" text-anchor="{anchor}">'
            f"{date.fromordinal(ordinal).isoformat()}</text>"
        )
    parts.append("</g>")
    line = _daily_line(chart.dots, x, y)
    if line:
        parts.append(f'<polyline class="timeline-line" points="{line}"></polyline>')
    for dot in sorted(chart.dots, key=lambda d: (d.day, d.value)):
        kind = "timeline-dot disputed" if dot.disputed else "timeline-dot"
        parts.append(
            f'<a href="{escape(dot.href)}"><circle class="{kind}" cx="{x(dot.day.toordinal())}" '
            f'cy="{y(dot.value)}" r="{4 if small else 5}"><title>{escape(dot.label)}</title>'
            "</circle></a>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _day_ticks(first: int, last: int, wanted: int) -> list[int]:
    """Evenly spaced day ordinals from ``first`` to ``last`` (both ends included)."""
    if last - first < wanted:
        return list(range(first, last + 1))
    step = (last - first) / (wanted - 1)
    return sorted({round(first + step * i) for i in range(wanted)})


def _daily_line(
    dots: tuple[Dot, ...], x: Callable[[int], float], y: Callable[[float], float]
) -> str:
    """Polyline points through each day's median value (a day may hold several figures)."""
    by_day: dict[int, list[float]] = {}
    for dot in dots:
        by_day.setdefault(dot.day.toordinal(), []).append(dot.value)
    if len(by_day) < 2:
        return ""
    points = []
    for ordinal in sorted(by_day):
        values = sorted(by_day[ordinal])
        middle = len(values) // 2
        median = values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2
        points.append(f"{x(ordinal)},{y(median)}")
    return " ".join(points)
