"""Reading questions: kind of answer, wh-clause, unit, and the figures the question states."""

from __future__ import annotations

from datetime import date

import pytest

from ingest.gazetteer import load_gazetteer
from kb.answer.question import read_question as read_with
from kb.answer.words import stem

TODAY = date(2026, 6, 15)


def read_question(question: str):
    """The question read with the shipped gazetteer on a fixed day."""
    return read_with(question, load_gazetteer(), TODAY)


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Which exchange recorded the most liquidations last week?", "ranking"),
        ("How much did long traders lose to liquidations within one hour?", "figure"),
        ("Why did bitcoin fall on Monday?", "explain"),
        ("What triggered the sell-off?", "explain"),
        ("On the day funds took in $500 million, how much flowed into the largest fund?", "figure"),
        (
            "In the report, which showed $2 billion of inflows, which country saw outflows?",
            "ranking",
        ),
        ("What was the overall daily long/short ratio for Dogecoin?", "figure"),
    ],
)
def test_kind_is_read_from_the_asking_clause(question: str, kind: str) -> None:
    assert read_question(question).kind == kind


def test_relative_which_clause_is_skipped_for_the_real_question() -> None:
    intent = read_question(
        "In the monthly fund survey, which reported $3.1 billion of new money, "
        "which country recorded the largest outflows?"
    )
    assert intent.clause.lower().startswith("which country")
    assert intent.entity_type == "country"


def test_stated_figures_are_context() -> None:
    intent = read_question(
        "When Bitcoin fell to $92,000 and $1 billion was liquidated, which exchange led?"
    )
    assert 92000 in intent.stated_values and 1e9 in intent.stated_values


@pytest.mark.parametrize(
    ("question", "unit"),
    [
        ("How many bitcoin did the company buy?", "BTC"),
        ("How many traders were liquidated?", "count"),
        ("What was Bitcoin's market-cap dominance?", "%"),
        ("At what price would the position be liquidated?", "USD"),
    ],
)
def test_unit_hint_of_figure_questions(question: str, unit: str) -> None:
    assert read_question(question).unit == unit


def test_focus_clause_stops_at_subordinate_clause() -> None:
    intent = read_question("Which platform led the liquidations when Bitcoin plunged 13%?")
    assert intent.clause == "Which platform led the liquidations"


def test_names_the_question_uses_are_known_context() -> None:
    intent = read_question("Which exchange led liquidations when Solana fell 9%?")
    assert "Solana" in intent.entities
    assert "solana" in intent.named


def test_superlative_head_words_are_read() -> None:
    intent = read_question("Which fund saw the largest outflows last week?")
    assert stem("outflows") in intent.head


@pytest.mark.parametrize(
    ("question", "causal"),
    [
        ("Why did ether fall?", True),
        ("What drove the rally in small caps?", True),
        ("Which exchange listed the token first?", False),
    ],
)
def test_cause_questions_are_marked(question: str, causal: bool) -> None:
    assert read_question(question).causal is causal


def test_a_named_month_becomes_the_time_to_search() -> None:
    intent = read_question("How much did bitcoin ETFs take in during May 2025?")
    assert intent.time is not None
    assert (intent.time.since, intent.time.until) == (date(2025, 5, 1), date(2025, 5, 31))


def test_a_window_is_not_a_time() -> None:
    assert read_question("How much was liquidated in the past 24 hours?").time is None
