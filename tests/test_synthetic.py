"""Tests for kb.answer.synthetic: training questions written from stored facts."""

from __future__ import annotations

import random

from ingest.records import Fact
from kb.answer.synthetic import Source, questions_for, synthetic_questions


def fact(value: float, unit: str, metric: str, entity: str | None, **extra) -> Fact:
    """A stored fact with only the fields the writer reads."""
    text = f"{value:g} {unit}"
    return Fact(value, unit, metric, text, 0, len(text), f"It was {text}.", entity, **extra)


def source(*facts: Fact, published: str | None = "2025-03-04") -> Source:
    return Source("a1", published, facts)


def test_a_question_names_the_entity_the_metric_and_the_day_and_wants_the_value() -> None:
    [q] = questions_for(source(fact(12e6, "USD", "liquidations", "Kraken")), 3, random.Random(1))
    assert "Kraken" in q["question"] and "liquidations" in q["question"]
    assert "March 4, 2025" in q["question"]
    assert q["must_include"] == [{"value": 12e6, "unit": "USD"}]
    assert (q["gold_id"], q["type"]) == ("a1", "figure")


def test_no_question_where_the_article_gives_two_values_for_one_entity_and_metric() -> None:
    facts = (
        fact(5e6, "USD", "fund_flow", "Solana"),
        fact(9e6, "USD", "fund_flow", "Solana"),
        fact(80.0, "%", "dominance", "Binance"),
    )
    asked = [
        q["must_include"][0]["value"] for q in questions_for(source(*facts), 5, random.Random(1))
    ]
    assert asked == [80.0]


def test_market_wide_unnamed_provider_and_mismatched_unit_figures_are_not_asked() -> None:
    facts = (
        fact(1e9, "USD", "liquidations", None),
        fact(3.0, "%", "other", "Bitcoin"),
        fact(2e6, "USD", "price_change", "Bitcoin"),
        fact(4e6, "USD", "volume", "CoinGlass", entity_type="source"),
    )
    assert questions_for(source(*facts), 5, random.Random(1)) == []


def test_the_side_is_asked_with_the_metric_and_an_undated_article_gets_no_day() -> None:
    facts = (fact(7e6, "USD", "liquidations", "OKX", side="short"),)
    [q] = questions_for(source(*facts, published=None), 1, random.Random(1))
    assert "short liquidations" in q["question"] and " on " not in q["question"]


def test_questions_are_capped_per_article_and_reproducible() -> None:
    facts = tuple(fact(float(n + 1), "BTC", "holdings", name) for n, name in enumerate("ABCDE"))
    sources = [source(*facts)]
    first = synthetic_questions(sources, 2, seed=7)
    assert len(first) == 2
    assert first == synthetic_questions(sources, 2, seed=7)


def test_written_questions_are_never_scored() -> None:
    import numpy as np

    from kb.answer.training import SYNTHETIC_FILE, Example, summary

    def example(file: str) -> Example:
        question = {"_file": file, "type": "figure", "style": "terse"}
        return Example(question, "g", False, None, np.zeros((0, 0)), np.zeros(0))  # type: ignore[arg-type]

    examples = [example("dev.jsonl"), example(SYNTHETIC_FILE)]
    assert summary(examples, [{"correct": True}, {}])["all"] == {"n": 1, "accuracy": 1.0}


def test_none_are_written_when_none_are_asked_for() -> None:
    facts = (fact(7e6, "USD", "liquidations", "OKX"),)
    assert synthetic_questions([source(*facts)], 0) == []
