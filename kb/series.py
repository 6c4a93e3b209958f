"""Figures over time: the dated values of one entity's metric, copies merged, disagreements marked.

A point is one figure on one day: the day the sentence states ("on March 3, 2025", "on Monday";
a day without its year only when that puts it within 45 days before publication), else the day
the article was published. Rules:

- Syndicated copies count once: figures of the same day, unit, side, direction and window whose
  values agree within 0.5% (the scorer's tolerance for "the same figure") are one point citing
  every copy.
- Two sources disagree when, for the same day, unit, side, direction and window, their values
  differ by more than 5%: each such point is marked disputed and lists the others, each with its
  citation. Two figures from one source on one day are not a dispute (an hourly and a daily
  total, say).
- Points without any date are left out of the series and counted, so nothing is silently lost.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date

from ingest.dates import DATE_FORMS, filter_date
from ingest.facts.scoring import same_value
from ingest.records import METRICS, Fact
from kb.answer.when import read_time
from kb.errors import KbError
from kb.factquery import FactQuery, find_facts
from kb.store import Store

DISPUTE = 0.05  # relative difference beyond which two sources disagree
MAX_FACTS = 10_000
RECENT_DAYS = 45  # how far before publication a day named without its year is believed


@dataclass(frozen=True)
class SeriesQuery:
    """Which figures to line up: one entity and metric, optionally narrowed."""

    entity: str
    metric: str
    side: str | None = None
    window: str | None = None
    unit: str | None = None
    since: str | None = None
    until: str | None = None

    def validate(self) -> None:
        """Raise KbError naming what is missing or out of its vocabulary."""
        if not self.entity or not self.entity.strip():
            raise KbError("entity is required, e.g. entity=Binance or entity=BTC")
        if not self.metric:
            raise KbError(f"metric is required, one of {', '.join(METRICS)}")
        self.fact_query().validate()  # metric, side and window vocabularies
        if self.unit is not None and not (0 < len(self.unit) <= 12):
            raise KbError(f"unit must be 1 to 12 characters (USD, %, BTC…); got {self.unit!r}")
        for name, value in (("since", self.since), ("until", self.until)):
            try:
                filter_date(value)
            except ValueError:
                raise KbError(f"{name} must be {DATE_FORMS}, got {value!r}") from None
        if self.since and self.until and self.since[:10] > self.until[:10]:
            raise KbError(f"since ({self.since}) is after until ({self.until}); no day could match")

    def fact_query(self) -> FactQuery:
        """The stored-fact query that finds this series' candidates."""
        return FactQuery(
            entity=self.entity.strip(),
            metric=self.metric,
            side=self.side,
            window=self.window,
            limit=MAX_FACTS,
        )


@dataclass(frozen=True)
class Citation:
    """Where a figure is stated: the article, its passage and the figure's characters in it."""

    article_id: str
    passage_id: int | None
    start: int
    end: int
    text: str
    sentence: str
    title: str | None
    url: str | None
    source: str | None
    published: str | None

    def to_dict(self) -> dict[str, object]:
        """The citation as JSON-ready data."""
        return dict(vars(self))


@dataclass
class SeriesPoint:
    """One figure on one day, with every copy that states it."""

    day: str
    day_stated: bool  # the sentence names the day (else it is the article's publication day)
    value: float
    unit: str
    qualifier: str
    side: str | None
    direction: str | None
    window: str | None
    citations: list[Citation]
    disputed: bool = False
    disputed_with: list[SeriesPoint] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str, str | None, str | None, str | None]:
        """What two points must share to be the same figure or to disagree."""
        return (self.day, self.unit, self.side, self.direction, self.window)

    @property
    def sources(self) -> set[str]:
        """The sources (publishers, else articles) that state this figure."""
        return {c.source or c.article_id for c in self.citations}

    def to_dict(self, nested: bool = True) -> dict[str, object]:
        """The point as JSON-ready data (``nested``: with the points it disagrees with)."""
        data: dict[str, object] = {
            "day": self.day,
            "day_stated": self.day_stated,
            "value": self.value,
            "unit": self.unit,
            "qualifier": self.qualifier,
            "side": self.side,
            "direction": self.direction,
            "window": self.window,
            "text": self.citations[0].text,
            "citations": [c.to_dict() for c in self.citations],
            "disputed": self.disputed,
        }
        if nested:
            data["disputed_with"] = [p.to_dict(nested=False) for p in self.disputed_with]
        return data


@dataclass
class Series:
    """The dated points of one entity's metric, oldest first."""

    query: SeriesQuery
    entity: str
    points: list[SeriesPoint]
    units: dict[str, int]  # points per unit before the unit filter, so other units are visible
    undated: int  # figures that matched but carry no date

    def to_dict(self) -> dict[str, object]:
        """The series as JSON-ready data."""
        return {
            "entity": self.entity,
            "metric": self.query.metric,
            "side": self.query.side,
            "window": self.query.window,
            "unit": self.query.unit,
            "units": self.units,
            "since": self.query.since,
            "until": self.query.until,
            "count": len(self.points),
            "disputed": sum(1 for p in self.points if p.disputed),
            "undated": self.undated,
            "points": [p.to_dict() for p in self.points],
        }


def fact_series(store: Store, query: SeriesQuery) -> Series:
    """The series ``query`` asks for, built from the stored facts."""
    query.validate()
    facts = find_facts(store, query.fact_query())
    passages = store.get_passages({f.passage_id for f in facts if f.passage_id is not None})
    dated: list[tuple[str, bool, Fact, Citation]] = []
    undated = 0
    for fact in facts:
        stored = passages.get(fact.passage_id) if fact.passage_id is not None else None
        published = stored.published if stored else None
        day, stated = fact_day(fact.sentence, fact.as_of)
        if day is None:
            undated += 1
            continue
        citation = Citation(
            article_id=fact.article_id or "",
            passage_id=fact.passage_id,
            start=fact.start,
            end=fact.end,
            text=fact.text,
            sentence=fact.sentence,
            title=stored.title if stored else None,
            url=stored.url if stored else None,
            source=stored.source if stored else None,
            published=published,
        )
        dated.append((day, stated, fact, citation))
    in_range = [
        row
        for row in dated
        if (query.since is None or row[0] >= query.since[:10])
        and (query.until is None or row[0] <= query.until[:10])
    ]
    points = mark_disputes(merge_copies(in_range))
    units = Counter(point.unit for point in points)
    if query.unit is not None:
        points = [point for point in points if point.unit == query.unit]
    entity = facts[0].entity if facts else query.entity.strip()
    return Series(query, entity or query.entity, points, dict(units.most_common()), undated)


def fact_day(sentence: str, published_day: str | None) -> tuple[str | None, bool]:
    """The day a figure belongs to and whether its sentence states it: a single day the
    sentence names (on or before publication), else the publication day."""
    if not published_day:
        return None, False
    try:
        today = date.fromisoformat(published_day)
    except ValueError:
        return None, False
    span = read_time(sentence, today)
    if span is None or span.since != span.until:
        return published_day, False
    # A day named without its year ("on May 6") is its latest occurrence before publication;
    # commentary names recent days that way, so the guess is kept only when it is recent.
    if span.guessed_year and (today - span.since).days > RECENT_DAYS:
        return published_day, False
    return span.since.isoformat(), True


def merge_copies(rows: list[tuple[str, bool, Fact, Citation]]) -> list[SeriesPoint]:
    """One point per figure per day: copies (the same ``key``, values within 0.5%) fold into the
    first, in order of publication (then source, then article, so the order is stable)."""
    points: list[SeriesPoint] = []

    def order(row: tuple[str, bool, Fact, Citation]) -> tuple:
        citation = row[3]
        return (row[0], citation.published or "", citation.source or "", citation.article_id)

    for day, stated, fact, citation in sorted(rows, key=order):
        same = next(
            (
                p
                for p in points
                if p.key == (day, fact.unit, fact.side, fact.direction, fact.window)
                and same_value(p.value, fact.value)
            ),
            None,
        )
        if same is not None:
            same.citations.append(citation)
            same.day_stated = same.day_stated or stated
            continue
        points.append(
            SeriesPoint(
                day=day,
                day_stated=stated,
                value=fact.value,
                unit=fact.unit,
                qualifier=fact.qualifier,
                side=fact.side,
                direction=fact.direction,
                window=fact.window,
                citations=[citation],
            )
        )
    return points


def mark_disputes(points: list[SeriesPoint]) -> list[SeriesPoint]:
    """Copies of the points, marked disputed where a different source gives the same ``key``
    (day, unit, side, direction, window) a value more than 5% away."""
    marked = []
    for point in points:
        others = [
            other
            for other in points
            if other is not point
            and other.key == point.key
            and _relative_gap(other.value, point.value) > DISPUTE
            and other.sources.isdisjoint(point.sources)
        ]
        marked.append(replace(point, disputed=bool(others), disputed_with=others))
    return marked


def _relative_gap(a: float, b: float) -> float:
    """|a - b| relative to the larger magnitude (0 when both are 0)."""
    scale = max(abs(a), abs(b))
    return abs(a - b) / scale if scale else 0.0
