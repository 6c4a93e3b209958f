"""Reading the publication time a question names, and leaving figures' windows alone."""

from __future__ import annotations

from datetime import date

import pytest

from kb.answer.when import TimeSpan, read_time, read_times

TODAY = date(2026, 12, 1)  # a Tuesday


def d(text: str) -> date:
    return date.fromisoformat(text)


TIMES = [
    # explicit years
    ("What moved ether in May 2025?", "2025-05-01", "2025-05-31"),
    ("Funding rates in 2021?", "2021-01-01", "2021-12-31"),
    ("Which coin led outflows during 2023?", "2023-01-01", "2023-12-31"),
    ("Who bought the dip on March 9, 2024?", "2024-03-09", "2024-03-09"),
    ("Basis trade returns on 9 March 2024", "2024-03-09", "2024-03-09"),
    ("What did the desk report on 2024-08-02?", "2024-08-02", "2024-08-02"),
    ("Why did alts bleed in Q3 2024?", "2024-07-01", "2024-09-30"),
    ("Miner selling in 3Q24", "2024-07-01", "2024-09-30"),
    ("Stablecoin growth in the second quarter of 2023", "2023-04-01", "2023-06-30"),
    ("Options volume in H1 2025", "2025-01-01", "2025-06-30"),
    ("ETF demand in the second half of 2024", "2024-07-01", "2024-12-31"),
    ("What sank the mid-2025 rally?", "2025-05-01", "2025-08-31"),
    ("Leverage in early 2022", "2022-01-01", "2022-04-30"),
    ("Exchange reserves at the end of 2023", "2023-12-01", "2023-12-31"),
    ("Why did gold spike in late March 2025?", "2025-03-21", "2025-03-31"),
    ("Inflows in mid-June 2024", "2024-06-11", "2024-06-20"),
    ("Liquidations between March and May 2024", "2024-03-01", "2024-05-31"),
    ("Fund flows from November to February 2024", "2023-11-01", "2024-02-29"),
    ("Open interest from 2021 to 2023", "2021-01-01", "2023-12-31"),
    ("Buybacks on June 3-7, 2024", "2024-06-03", "2024-06-07"),
    ("Purchases between April 2 and 8, 2025", "2025-04-02", "2025-04-08"),
    ("Outflows in the week ended May 10, 2024", "2024-05-04", "2024-05-10"),
    ("Flows in the first week of October 2025", "2025-10-01", "2025-10-07"),
    # no year: the most recent occurrence on or before today
    ("What happened on Aug. 2?", "2026-08-02", "2026-08-02"),
    ("Liquidations on December 5?", "2025-12-05", "2025-12-05"),
    ("Which token pumped in May?", "2026-05-01", "2026-05-31"),
    ("Volatility in march", "2026-03-01", "2026-03-31"),
    ("Funding in the last week of October", "2026-10-25", "2026-10-31"),
    ("Miner flows in the third quarter", "2026-07-01", "2026-09-30"),
    ("Whale moves last May", "2026-05-01", "2026-05-31"),
    # counted back from today
    ("What happened yesterday?", "2026-11-30", "2026-11-30"),
    ("Why is bitcoin down today?", "2026-12-01", "2026-12-01"),
    ("Biggest liquidations last week", "2026-11-23", "2026-11-29"),
    ("Who sold last month?", "2026-11-01", "2026-11-30"),
    ("ETF flows last year", "2025-01-01", "2025-12-31"),
    ("Stablecoin supply this year", "2026-01-01", "2026-12-01"),
    ("What moved alts on Monday?", "2026-11-30", "2026-11-30"),
    ("Friday's options expiry", "2026-11-27", "2026-11-27"),
    ("Which whale woke up two weeks ago?", "2026-11-16", "2026-11-22"),
    ("What did the fund buy 3 days ago?", "2026-11-28", "2026-11-28"),
    # open ranges
    ("Best weekly close since 2021?", "2021-01-01", "2026-12-01"),
    ("Inflows after March 2024", "2024-04-01", "2026-12-01"),
    ("Holdings before 2021", "0001-01-01", "2020-12-31"),
]


@pytest.mark.parametrize(("question", "since", "until"), TIMES)
def test_reads_the_period_a_question_names(question, since, until):
    span = read_time(question, TODAY)
    assert span is not None
    assert (span.since, span.until) == (d(since), d(until))


@pytest.mark.parametrize(("question", "since", "until"), TIMES)
def test_span_text_is_the_words_that_named_it(question, since, until):
    span = read_time(question, TODAY)
    assert span.text == question[span.start : span.end]
    assert span.text.strip()


NOT_TIMES = [
    "How much was liquidated in 24 hours?",
    "Longs wiped out in the past 24 hours",
    "What were the 24h liquidations on Bybit?",
    "Net flows over the past week",
    "ETF inflows over the last week",
    "Volume in the last 30 days",
    "Which exchange led the 7-day outflows?",
    "Inflows this past week",
    "Bitcoin may fall below support",
    "May bitcoin reclaim the range?",
    "Ether may 2x from here",
    "The march toward six figures stalled",
    "How far is BTC from its 2021 high?",
    "Is ether back at 2022 levels?",
    "Why is the price $2021 now?",
    "Who sold 2,021 BTC?",
    "Who moved 2021 BTC to an exchange?",
    "Notes due 2030 carry what coupon?",
    "Which token rose on the Monday the index fell?",
    "Which fund topped volume in its first half-hour?",
    "Which exchange has the deepest books?",
]


@pytest.mark.parametrize("question", NOT_TIMES)
def test_windows_figures_and_verbs_are_not_times(question):
    assert read_time(question, TODAY) is None


def test_an_explicit_year_wins_over_a_relative_time():
    span = read_time("What did desks say last week about flows in March 2024?", TODAY)
    assert (span.since, span.until) == (d("2024-03-01"), d("2024-03-31"))


def test_a_yearless_day_takes_the_year_the_question_names():
    span = read_time("In 2023, what did the fund buy on April 9?", TODAY)
    assert (span.since, span.until) == (d("2023-04-09"), d("2023-04-09"))


def test_a_since_phrase_does_not_lend_its_year():
    span = read_time("Crypto cap after the Sept. 18 cut, the first since March 2020?", TODAY)
    assert span.since >= d("2020-03-01") and span.text.startswith("since")


def test_a_yearless_month_after_today_means_last_year():
    assert read_time("Flows in December", date(2026, 11, 30)).since == d("2025-12-01")
    assert read_time("Flows in December", date(2026, 12, 15)).since == d("2026-12-01")


def test_a_period_running_past_today_ends_today():
    span = read_time("Liquidations this month", date(2026, 12, 9))
    assert (span.since, span.until) == (d("2026-12-01"), d("2026-12-09"))


def test_the_latest_closed_period_wins_over_earlier_context():
    question = "Supply fell from $40 billion in 2022 to $20 billion by the end of November 2023?"
    span = read_time(question, TODAY)
    assert (span.since, span.until) == (d("2023-11-21"), d("2023-11-30"))


def test_a_closed_period_wins_over_an_open_one():
    span = read_time("Lending TVL in early 2024 was the best since August 2022?", TODAY)
    assert (span.since, span.until) == (d("2024-01-01"), d("2024-04-30"))


def test_a_period_inside_another_wins():
    span = read_time("During 2021, which coin led in May?", TODAY)
    assert (span.since, span.until) == (d("2021-05-01"), d("2021-05-31"))


def test_read_times_lists_every_time_in_question_order():
    spans = read_times("Flows in January 2024 versus in March 2024", TODAY)
    assert [s.since for s in spans] == [d("2024-01-01"), d("2024-03-01")]
    assert all(isinstance(s, TimeSpan) for s in spans)


def test_an_impossible_day_is_not_a_time():
    assert read_time("What happened on February 30, 2024?", TODAY) is None


@pytest.mark.parametrize(
    ("question", "guessed"),
    [
        ("Which token pumped in May?", True),
        ("Liquidations on December 5?", True),
        ("Flows between March and May", True),
        ("What moved ether in May 2025?", False),
        ("In 2023, what did the fund buy on April 9?", False),
        ("Biggest liquidations last week", False),
        ("What happened yesterday?", False),
    ],
)
def test_a_yearless_time_says_its_year_was_guessed(question, guessed):
    assert read_time(question, TODAY).guessed_year is guessed


def test_a_full_month_name_leaves_the_sentence_full_stop_alone():
    assert read_time("Flows have slowed since last March.", TODAY).text == "since last March"
    assert read_time("What happened on Aug. 2?", TODAY).text == "on Aug. 2"
