"""Reading questions: kind of answer, wh-clause, unit, and the figures the question states."""

from __future__ import annotations

import pytest

from kb.questions import read_question


@pytest.mark.parametrize(("question", "kind"), [
    ("Which exchange recorded the most liquidations last week?", "ranking"),
    ("How much in long positions was liquidated in a single hour?", "figure"),
    ("Why did bitcoin fall on Monday?", "explain"),
    ("What triggered the sell-off?", "explain"),
    ("On the day funds took in $500 million, how much flowed into the largest fund?", "figure"),
    ("In the report, which showed $2 billion of inflows, which country saw outflows?", "ranking"),
    ("What was the market-wide 24-hour long/short ratio for XRP?", "figure"),
])
def test_kind_is_read_from_the_asking_clause(question: str, kind: str) -> None:
    assert read_question(question).kind == kind


def test_relative_which_clause_is_skipped_for_the_real_question() -> None:
    intent = read_question("In the weekly report, which showed $2.2 billion of inflows, "
                           "which country recorded the largest outflows?")
    assert intent.clause.lower().startswith("which country")
    assert intent.entity_type == "country"


def test_stated_figures_are_context() -> None:
    intent = read_question("When Bitcoin fell to $92,000 and $1 billion was liquidated, "
                           "which exchange led?")
    assert 92000 in intent.stated_values and 1e9 in intent.stated_values


@pytest.mark.parametrize(("question", "unit"), [
    ("How many bitcoin did the company buy?", "BTC"),
    ("How many traders were liquidated?", "count"),
    ("What was Bitcoin's market-cap dominance?", "%"),
    ("At what price would the position be liquidated?", "USD"),
])
def test_unit_hint_of_figure_questions(question: str, unit: str) -> None:
    assert read_question(question).unit == unit


def test_focus_clause_stops_at_subordinate_clause() -> None:
    intent = read_question("Which platform led the liquidations when Bitcoin plunged 13%?")
    assert intent.clause == "Which platform led the liquidations"
