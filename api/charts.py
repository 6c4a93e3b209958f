"""A horizontal bar chart of figures as inline SVG, drawn on the server.

The chart needs no script and no external file: each bar carries its label and its value as text,
the SVG has a ``<title>``, a ``<desc>`` and ``role="img"``, and ``BarChart.summary`` is the same
content in words for a caption. Colours come from the page's CSS so light and dark schemes apply.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from itertools import count

from markupsafe import Markup, escape

# Layout in SVG user units; the SVG scales to its container's width.
WIDTH = 360
ROW_HEIGHT = 42
LABEL_BASELINE = 15
BAR_TOP = 21
BAR_HEIGHT = 14
MAX_BARS = 8
_ids = count(1)


@dataclass
class Bar:
    """One labelled value; ``text`` is the value as the source wrote it (``$59 million``)."""

    label: str
    value: float
    text: str


@dataclass
class BarChart:
    """Bars measuring one thing in one unit, largest first."""

    title: str
    unit: str
    bars: list[Bar] = field(default_factory=list)

    @property
    def summary(self) -> str:
        """The chart in words: its title, then each label with its value."""
        values = "; ".join(f"{bar.label}: {bar.text}" for bar in self.bars)
        return f"{self.title}. {values}."


def metric_label(metric: str | None, side: str | None = None, direction: str | None = None) -> str:
    """``long liquidations`` or ``fund flow (in)``: what a fact measures, in words."""
    words = (metric or "figure").replace("_", " ")
    if side:
        words = f"{side} {words}"
    if direction:
        words = f"{words} ({direction})"
    return words


def chart_from_facts(facts: list[dict[str, object]], title: str | None = None) -> BarChart | None:
    """A chart of the most common comparable kind of figure among ``facts``, one bar per entity.

    Facts are compared only within one (metric, side, direction, unit); an entity stated twice
    keeps its largest figure. None when no two facts, or no named entity, can be compared.
    """
    kinds = Counter(
        (f.get("metric"), f.get("side"), f.get("direction"), f.get("unit"))
        for f in facts
        if f.get("entity")
    )
    if not kinds:
        return None
    (metric, side, direction, unit), _ = kinds.most_common(1)[0]
    best: dict[str, Bar] = {}
    for fact in facts:
        kind = (fact.get("metric"), fact.get("side"), fact.get("direction"), fact.get("unit"))
        entity = fact.get("entity")
        if kind != (metric, side, direction, unit) or not entity:
            continue
        value = float(fact.get("value") or 0.0)
        if entity not in best or value > best[entity].value:
            best[str(entity)] = Bar(str(entity), value, str(fact.get("text") or value))
    bars = sorted(best.values(), key=lambda bar: bar.value, reverse=True)[:MAX_BARS]
    label = metric_label(str(metric) if metric else None, side, direction)  # type: ignore[arg-type]
    heading = title or f"{label[:1].upper()}{label[1:]} by entity ({unit})"
    return BarChart(heading, str(unit), bars)


def render_svg(chart: BarChart) -> Markup:
    """The chart as an accessible inline ``<svg>`` element (safe to insert in a template)."""
    number = next(_ids)
    title_id, desc_id = f"chart-title-{number}", f"chart-desc-{number}"
    height = ROW_HEIGHT * len(chart.bars) + 4
    top = max((bar.value for bar in chart.bars), default=0.0)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" width="100%" '
        f'role="img" aria-label="{escape(chart.title)}" '
        f'aria-labelledby="{title_id}" aria-describedby="{desc_id}" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{title_id}">{escape(chart.title)}</title>',
        f'<desc id="{desc_id}">{escape(chart.summary)}</desc>',
    ]
    for row, bar in enumerate(chart.bars):
        y = row * ROW_HEIGHT
        # A zero or negative value still shows a sliver so the row does not look missing.
        share = bar.value / top if top > 0 else 0.0
        bar_width = max(2.0, round(WIDTH * max(share, 0.0), 1))
        parts.append(
            f'<g class="chart-row">'
            f'<text class="chart-label" x="0" y="{y + LABEL_BASELINE}">{escape(bar.label)}</text>'
            f'<text class="chart-value" x="{WIDTH}" y="{y + LABEL_BASELINE}" '
            f'text-anchor="end">{escape(bar.text)}</text>'
            f'<rect class="chart-bar" x="0" y="{y + BAR_TOP}" width="{bar_width}" '
            f'height="{BAR_HEIGHT}" rx="3"></rect></g>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
