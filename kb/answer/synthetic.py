"""Questions written from the stored facts, to give the sentence ranker more to learn from.

The shared question files hold under two hundred questions; the corpus holds thousands of
extracted figures. Each figure with a named entity and a known metric can be asked about the way
a trader types: "what was the <metric words> of <entity>" on the article's day. Its answer is
the figure, so every sentence stating the value is a positive. The questions are only ever
training data: cross-validation groups them with their article, and no figure is reported on
them.
"""

from __future__ import annotations

import calendar
import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from ingest.records import Fact
from kb.answer.compose import METRIC_LABELS

# Metrics stated in percent; a percentage of another metric is a share, asked differently.
_PERCENT_METRICS = frozenset(
    {"price_change", "dominance", "funding_rate", "interest_rate", "inflation"}
)


@dataclass(frozen=True)
class Source:
    """One stored article's facts and publication date, for writing questions from."""

    article_id: str
    published: str | None
    facts: tuple[Fact, ...]


def _askable(fact: Fact) -> bool:
    """Whether a question by entity and metric names this figure (answers' metric labels name
    every metric but "other", which cannot be asked by name)."""
    # A data provider is who reported a figure, never what it is about.
    if not fact.entity or fact.entity_type == "source" or fact.metric not in METRIC_LABELS:
        return False
    return (fact.unit == "%") == (fact.metric in _PERCENT_METRICS)


def _day(published: str | None) -> str | None:
    """A day as questions write it ("March 4, 2024"), from an ISO date."""
    if not published:
        return None
    try:
        day = date.fromisoformat(published[:10])
    except ValueError:
        return None
    return f"{calendar.month_name[day.month]} {day.day}, {day.year}"


def questions_for(source: Source, per_article: int, rng: random.Random) -> list[dict]:
    """Up to ``per_article`` figure questions about ``source``, one per (entity, metric) that
    the article gives a single value for, so that the question has one answer there."""
    values: dict[tuple[str, str], set[float]] = {}
    usable: dict[tuple[str, str], Fact] = {}
    for fact in source.facts:
        if not _askable(fact):
            continue
        key = (fact.entity, fact.metric)
        values.setdefault(key, set()).add(fact.value)
        usable.setdefault(key, fact)
    keys = sorted(k for k in usable if len(values[k]) == 1)
    rng.shuffle(keys)
    day = _day(source.published)
    # The day keeps a question about a much-quoted figure (a price) to one article.
    when = f" on {day}" if day else ""
    out: list[dict] = []
    for key in keys:
        if len(out) >= per_article:
            break
        fact = usable[key]
        words = METRIC_LABELS[fact.metric]
        if fact.side:
            words = f"{fact.side} {words}"
        if rng.random() < 0.5:
            question = f"What was the {words} of {fact.entity}{when}?"
        else:
            question = f"What was {fact.entity}'s {words}{when}?"
        out.append(
            {
                "id": f"syn-{source.article_id}-{len(out)}",
                "question": question,
                "type": "figure",
                "style": "synthetic",
                "gold_id": source.article_id,
                "must_include": [{"value": fact.value, "unit": fact.unit}],
            }
        )
    return out


def synthetic_questions(sources: Iterable[Source], per_article: int, seed: int = 1) -> list[dict]:
    """Figure questions written from every source's facts (reproducible for one ``seed``)."""
    rng = random.Random(seed)
    return [q for source in sources for q in questions_for(source, per_article, rng)]
