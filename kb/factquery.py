"""Querying stored facts: validated filters, and aggregation by entity with the facts behind it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ingest.gazetteer import canonical
from ingest.records import METRICS, Fact
from kb.errors import KbError
from kb.store import Filters, Store

SIDES = ("long", "short")
DIRECTIONS = ("in", "out", "up", "down")
# The windows facts usually carry; any number and unit (as the extractor writes "2h" or "3w")
# is accepted, by the API, the CLI and queries alike.
WINDOWS = ("1h", "4h", "12h", "24h", "7d", "30d", "1y")
WINDOW_PATTERN = r"^\d{1,4}[hdwy]$"
_WINDOW = re.compile(WINDOW_PATTERN)


@dataclass
class FactQuery:
    """What to look for among stored facts; every field optional."""

    entity: str | None = None
    metric: str | None = None
    side: str | None = None
    direction: str | None = None
    window: str | None = None
    since: str | None = None
    until: str | None = None
    source: str | None = None
    article_id: str | None = None
    limit: int = 1000

    def validate(self) -> None:
        """Raise KbError naming the accepted values for any field out of its vocabulary."""
        for name, value, allowed in (
            ("metric", self.metric, METRICS),
            ("side", self.side, SIDES),
            ("direction", self.direction, DIRECTIONS),
        ):
            if value is not None and value not in allowed:
                raise KbError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")
        if self.window is not None and not _WINDOW.match(self.window):
            raise KbError(
                f"window must be a number and a unit (h, d, w or y), such as "
                f"{', '.join(WINDOWS)}; got {self.window!r}"
            )
        if not 1 <= self.limit <= 10_000:
            raise KbError(f"limit must be from 1 to 10000, got {self.limit}")


@dataclass
class EntityAggregate:
    """The facts of one entity (and unit) summed and maxed, with the facts behind the numbers."""

    entity: str | None
    unit: str
    total: float
    maximum: float
    count: int
    facts: list[Fact] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        """The aggregate as JSON-ready data."""
        return {
            "entity": self.entity,
            "unit": self.unit,
            "sum": self.total,
            "max": self.maximum,
            "count": self.count,
            "facts": [fact.to_dict() for fact in self.facts],
        }


def find_facts(store: Store, query: FactQuery) -> list[Fact]:
    """Stored facts matching ``query`` (entity aliases resolved: BTC finds Bitcoin)."""
    query.validate()
    entity = (canonical(query.entity) or query.entity) if query.entity else None
    filters = Filters(
        since=query.since,
        until=query.until,
        source=query.source,
        article_id=query.article_id,
        entity=entity,
        metric=query.metric,
    )
    return store.query_facts(
        filters, side=query.side, direction=query.direction, window=query.window, limit=query.limit
    )


def aggregate_by_entity(facts: list[Fact]) -> list[EntityAggregate]:
    """Group facts by (entity, unit); largest total first. Market-wide facts group as None."""
    groups: dict[tuple[str | None, str], EntityAggregate] = {}
    for fact in facts:
        key = (fact.entity, fact.unit)
        group = groups.get(key)
        if group is None:
            group = groups[key] = EntityAggregate(fact.entity, fact.unit, 0.0, fact.value, 0)
        group.total += fact.value
        group.maximum = max(group.maximum, fact.value)
        group.count += 1
        group.facts.append(fact)
    return sorted(groups.values(), key=lambda g: (g.entity is None, -g.total))
