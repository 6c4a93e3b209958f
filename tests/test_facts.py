"""Tests for ingest.facts: figures, qualifiers, ranges, windows and attribution."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.facts import extract_facts as _extract_facts
from ingest.facts import load_extractor
from ingest.facts.metrics import find_cues
from ingest.gazetteer import load_gazetteer

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SEED = SHARED / "seed" / "000_e760251becf4f2f2.txt"


def extract_facts(text: str):
    """The facts of ``text`` with the shipped gazetteer, parser and models."""
    return _extract_facts(text, load_gazetteer(), load_extractor())


def only(text: str):
    """The single fact of ``text``."""
    facts = extract_facts(text)
    assert len(facts) == 1, [f.text for f in facts]
    return facts[0]


@pytest.fixture(scope="module")
def seed_facts():
    return extract_facts(SEED.read_text(encoding="utf-8"))


def find(facts, value, **fields):
    """Facts with ``value`` (within 0.5%) and the given fields."""
    return [
        f
        for f in facts
        if abs(f.value - value) <= 0.005 * value
        and all(getattr(f, k) == v for k, v in fields.items())
    ]


@pytest.mark.parametrize(
    ("value", "fields"),
    [
        (230e6, {"qualifier": "over", "side": "long", "window": "1h", "metric": "liquidations"}),
        (5e6, {"qualifier": "under", "side": "short", "metric": "liquidations"}),
        (
            36e6,
            {"qualifier": "approx", "entity": "Binance", "side": "long", "metric": "liquidations"},
        ),
        (
            59e6,
            {
                "qualifier": "over",
                "entity": "Hyperliquid",
                "side": "long",
                "metric": "liquidations",
            },
        ),
        (3.5e6, {"qualifier": "exact", "side": "short", "metric": "liquidations"}),
        (1.71e12, {"qualifier": "approx", "entity": "Bitcoin", "metric": "market_cap"}),
        (344e9, {"qualifier": "approx", "entity": "Ethereum", "metric": "market_cap"}),
    ],
)
def test_seed_page_figures(seed_facts, value, fields):
    assert find(seed_facts, value, unit="USD", **fields)


def test_seed_spans_point_into_text(seed_facts):
    text = SEED.read_text(encoding="utf-8")
    for fact in seed_facts:
        assert text[fact.start : fact.end] == fact.text
        assert fact.text in fact.sentence


@pytest.mark.parametrize(
    ("text", "value", "unit"),
    [
        ("Liquidations reached $230 million.", 230e6, "USD"),
        ("The market cap is $1.71 trillion.", 1.71e12, "USD"),
        ("Hyperliquid saw $59M in liquidations.", 59e6, "USD"),
        ("Outflows were $2.72M on Monday.", 2.72e6, "USD"),
        ("The fund raised US$22 million.", 22e6, "USD"),
        ("The bank committed €5bn to the plan.", 5e9, "EUR"),
        ("Investors withdrew 36 million dollars.", 36e6, "USD"),
        ("Bitcoin trades at $54K.", 54e3, "USD"),
        ("The firm spent ¥18.4 billion.", 18.4e9, "JPY"),
        ("The firm spent 17.26 billion yen.", 17.26e9, "JPY"),
        ("Funding rose to 0.01% on Binance.", 0.01, "%"),
        ("Longs made up 94 percent of the total.", 94, "%"),
        ("The Fed cut rates by 25 basis points.", 25, "bp"),
        ("A total of 85,494 traders were liquidated.", 85494, "count"),
        ("The company bought 4,980 BTC.", 4980, "BTC"),
        ("A whale moved 30,350,000 XRP to Binance.", 30350000, "XRP"),
        ("The long/short ratio stood at 0.47.", 0.47, "x"),
        ("Some traders used 500x leverage.", 500, "x"),
        ("The long-short account ratio is 2.67:1.", 2.67, "x"),
        ("Bybit said 65 thousand 317 accounts were liquidated.", 65317, "count"),
        ("Bitcoin lost more than $ 800 in an hour.", 800, "USD"),
    ],
)
def test_forms_of_figures(text, value, unit):
    fact = only(text)
    assert fact.unit == unit
    assert fact.value == pytest.approx(value)
    assert text[fact.start : fact.end] == fact.text


@pytest.mark.parametrize(
    ("text", "qualifier"),
    [
        ("Liquidations hit approximately $36 million.", "approx"),
        ("Liquidations hit around $36 million.", "approx"),
        ("Liquidations hit nearly $36 million.", "approx"),
        ("Liquidations hit roughly $36 million.", "approx"),
        ("Liquidations hit ~$36 million.", "approx"),
        ("Ethereum remained near $344 billion in market cap.", "approx"),
        ("Liquidations hit over $36 million.", "over"),
        ("Liquidations hit more than $36 million.", "over"),
        ("Bitcoin held above $36,000.", "over"),
        ("Liquidations hit at least $36 million.", "over"),
        ("Losses were exceeding $36 million.", "over"),
        ("Liquidations hit less than $36 million.", "under"),
        ("Bitcoin fell below $36,000.", "under"),
        ("Liquidations stayed under $36 million.", "under"),
        ("Liquidations reached up to $36 million.", "under"),
        ("Liquidations hit $36 million.", "exact"),
    ],
)
def test_qualifiers(text, qualifier):
    fact = only(text)
    assert fact.qualifier == qualifier
    assert fact.text.endswith("36 million") or fact.text.endswith("36,000") or "344" in fact.text


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("Bitcoin traded between $92,000 and $95,000.", 92000, 95000),
        ("Weekly liquidations were $5-7 billion.", 5e9, 7e9),
        ("BTC accounted for 40-60% of the total.", 40, 60),
    ],
)
def test_ranges_give_two_facts(text, low, high):
    facts = extract_facts(text)
    assert [(f.value, f.qualifier) for f in facts] == [(low, "over"), (high, "under")]


@pytest.mark.parametrize(
    ("text", "value", "direction"),
    [
        ("Bitcoin fell 3% on Monday.", 3, "down"),
        ("Ether rose 4.5% after the report.", 4.5, "up"),
        ("Sweden saw outflows (-12.7 million USD) last week.", -12.7e6, "out"),
        ("Bitcoin funds saw inflows of $920 million last week.", 920e6, "in"),
    ],
)
def test_signed_changes_and_flows(text, value, direction):
    fact = only(text)
    assert fact.value == pytest.approx(value)
    assert fact.direction == direction


@pytest.mark.parametrize(
    ("text", "window"),
    [
        ("Liquidations reached $1 billion in the past 24 hours.", "24h"),
        ("Over $230 million was liquidated in a single hour.", "1h"),
        ("Funds saw inflows of $901 million last week.", "7d"),
        ("Liquidations reached $1 billion.", None),
    ],
)
def test_windows(text, window):
    assert only(text).window == window


def test_attribution_per_exchange():
    text = (
        "Binance logged approximately $41 million of long liquidations, whereas Hyperliquid had "
        "over $53 million in long positions wiped out."
    )
    facts = extract_facts(text)
    assert [(f.entity, f.side, f.qualifier) for f in facts] == [
        ("Binance", "long", "approx"),
        ("Hyperliquid", "long", "over"),
    ]


def test_attribution_per_side():
    text = (
        "Long positions accounted for $245.55 million of the liquidations, while short positions "
        "saw $65.99 million."
    )
    assert [f.side for f in extract_facts(text)] == ["long", "short"]


def test_respectively_pairs_names_with_figures():
    text = (
        "Germany and Switzerland posted inflows of 13.1 million USD and 7.4 million USD, "
        "respectively."
    )
    assert [f.entity for f in extract_facts(text)] == ["Germany", "Switzerland"]


def test_a_figure_restated_in_a_later_sentence_is_one_fact():
    text = (
        "Kraken saw $12 million in long liquidations on Friday. Traders were caught off guard. "
        "The $12 million in long liquidations on Kraken was the most this month."
    )
    facts = extract_facts(text)
    assert [(f.value, f.entity) for f in facts] == [(12_000_000, "Kraken")]
    assert facts[0].start == text.index("$12 million")


def test_the_same_figure_for_another_name_is_another_fact():
    text = "Kraken saw $12 million in long liquidations. Bybit also saw $12 million in longs cut."
    assert [f.entity for f in extract_facts(text)] == ["Kraken", "Bybit"]


def test_a_central_bank_sets_the_rate_it_announces():
    fact = only("The Fed lowered its benchmark rate by 25 basis points on Wednesday.")
    assert (fact.metric, fact.entity) == ("interest_rate", "Federal Reserve")


def test_parenthesised_figure_belongs_to_name_before_it():
    text = "Liquidations were led by Bitcoin ($84 million) and Solana ($58 million)."
    assert [f.entity for f in extract_facts(text)] == ["Bitcoin", "Solana"]


def test_aliases_map_to_canonical_entities():
    fact = only("MicroStrategy bought 11,931 BTC last week.")
    assert (fact.entity, fact.metric, fact.unit) == ("Strategy", "purchase", "BTC")


def test_unknown_name_is_kept_and_typed_by_its_last_word():
    fact = only("Zephyrix Capital holds 1,200 BTC in reserve.")
    assert (fact.entity, fact.entity_type) == ("Zephyrix Capital", "company")


@pytest.mark.parametrize(
    "text",
    [
        "The rally began in 2024 and continued.",
        "On Jan. 29, 2026 the market opened flat.",
        "The report was filed on 2025-03-01.",
        "Trading resumed at 16:00 UTC.",
        "It was the 3rd straight week of gains.",
        "5 min read",
        "Bitcoin fell for 11 days in a row.",
        "It is among the top 10 coins.",
    ],
)
def test_not_facts(text):
    assert extract_facts(text) == []


_MONTHS = [
    "January",
    "Feb.",
    "March",
    "Apr",
    "June",
    "Jul.",
    "September",
    "Oct.",
    "Nov",
    "December",
]


@settings(max_examples=60, deadline=None)
@given(
    year=st.integers(min_value=1990, max_value=2099),
    month=st.sampled_from(_MONTHS),
    day=st.integers(min_value=1, max_value=31),
    template=st.sampled_from(
        [
            "Bitcoin rallied in {year}.",
            "On {month} {day}, {year}, outflows were reported.",
            "The filing dated {year}-{mm:02d}-{day:02d} lists the fund.",
            "As of {day}/{mm}/{year} the market was calm.",
            "Between {month} {day} and {month} {day2}, the firm bought Bitcoin.",
        ]
    ),
)
def test_years_and_dates_are_never_money(year, month, day, template):
    text = template.format(
        year=year, month=month, day=day, mm=(day % 12) + 1, day2=min(day + 1, 31)
    )
    for fact in extract_facts(text):
        assert fact.unit not in {"USD", "EUR", "JPY", "GBP"}, (text, fact)
        assert fact.value not in {year, day}, (text, fact)


@pytest.mark.parametrize(
    ("text", "metric"),
    [
        ("Longs made up 71% of total liquidations on the day.", "liquidations"),
        ("The funds drew 3.5% of total U.S. ETF volume last month.", "volume"),
        ("Short liquidation dominance held firm: Kraken (58.2%) led the table.", "liquidations"),
        ("The venue kept its dominance, capturing 41.7% of the total volume.", "dominance"),
        ("Two pools handled over 77% of all weekly flow.", "dominance"),
    ],
)
def test_share_of_a_measure_counts_as_that_measure(text, metric):
    assert only(text).metric == metric


def test_list_lead_in_gives_the_side():
    fact = only("Short liquidation dominance held firm: Kraken (58.2%) led the table.")
    assert (fact.entity, fact.side) == ("Kraken", "short")


def test_together_figure_is_about_no_single_name():
    facts = extract_facts(
        "Solana accounted for $40 million and Cardano for $12 million, together making up 35% "
        "of all liquidations."
    )
    assert find(facts, 35, metric="liquidations", entity=None)


@pytest.mark.parametrize(
    "text",
    [
        "Cardano and Avalanche both slid about 8% overnight.",
        "The likes of Cardano and Avalanche are down roughly 8%.",
    ],
)
def test_shared_move_gives_one_fact_per_asset(text):
    facts = extract_facts(text)
    assert {f.entity for f in facts if f.metric == "price_change"} == {"Cardano", "Avalanche"}


def test_headline_echo_of_body_figure_is_dropped():
    text = (
        "Exchange Reserves Fall To $12 Billion\n"
        "Reserves of stablecoins on exchanges fell to $12 billion on Monday, analysts said."
    )
    assert [f.text for f in extract_facts(text)] == ["$12 billion"]


def test_repeated_summary_line_is_counted_once():
    line = "Futures desks logged over $310 million of liquidations over the last day as ether fell."
    text = f"- {line}\n{line[:-1]} from a weekly high."
    assert len(find(extract_facts(text), 310e6, metric="liquidations")) == 1


def test_repeated_count_is_counted_once():
    text = "Regulators approved 7 spot Solana ETFs. Of those 7 spot Solana ETFs, four list in Ohio."
    assert len(find(extract_facts(text), 7, unit="count")) == 1


@pytest.mark.parametrize(
    ("text", "metric"),
    [
        # A liquidation report calls the sum "volume"; a trading report does not.
        (
            "Liquidations hit longs. Liquidations hit shorts. Liquidations everywhere. "
            "Kraken saw a volume of $41.2 million.",
            "liquidations",
        ),
        (
            "Liquidations hit longs. Liquidations hit shorts. Liquidations everywhere. "
            "Kraken saw a trading volume of $41.2 million.",
            "volume",
        ),
    ],
)
def test_article_topic_reads_bare_volume(text, metric):
    assert find(extract_facts(text), 41.2e6)[0].metric == metric


def test_protocol_holding_in_tvl_article_is_tvl():
    text = (
        "DeFi TVL rose again. Total value locked climbed. TVL is near a record. "
        "Aave, the lending giant, leads with $21.4 billion, holding 20% of the total."
    )
    assert find(extract_facts(text), 21.4e9)[0].metric == "tvl"


def test_aside_between_dashes_adds_no_distance():
    fact = only("Open interest — the money tied up in futures contracts on all venues — fell 0.4%.")
    assert fact.metric == "open_interest"


def test_company_subject_owns_unattributed_deal_figures():
    text = (
        "Strategy bought more bitcoin this week. Strategy said the deal closed Friday. "
        "Strategy plans more buys. About $140 million came from the sale of preferred shares."
    )
    assert find(extract_facts(text), 140e6)[0].entity == "Strategy"


def _by_text(text: str) -> dict[str, object]:
    """Entity of each fact of ``text``, keyed by the fact's words."""
    return {f.text: f.entity for f in extract_facts(text)}


def test_options_on_a_list_of_assets_belong_to_the_venue():
    text = (
        "Deribit data shows the exchange lists most crypto options. "
        "Some $5 billion of Bitcoin (BTC) and Ethereum (ETH) options expire today on Deribit."
    )
    assert _by_text(text)["Some $5 billion"] == "Deribit"


def test_options_on_one_asset_stay_with_the_asset():
    text = "Deribit reports the expiry. About $3.5 billion in Bitcoin options expire on Friday."
    assert _by_text(text)["About $3.5 billion"] == "Bitcoin"


def test_combined_options_total_without_names_belongs_to_the_venue():
    text = (
        "Deribit lists the contracts. Bitcoin options lead the expiry on Deribit. "
        "Last week's options expiries came in at $3.6 billion combined."
    )
    assert _by_text(text)["$3.6 billion"] == "Deribit"


_ASSET_PIECE = (
    "Solana derivatives drew attention today. Solana traders were busy. "
    "Solana futures led the move, and Solana funding stayed positive. {}"
)


@pytest.mark.parametrize(
    ("sentence", "entity"),
    [
        ("Open interest dipped by 0.3% over the day.", "Solana"),
        ("About $8.6 million in positions were liquidated in this period.", "Solana"),
        ("Total liquidations across the crypto market reached $80 million.", None),
    ],
)
def test_dominant_asset_is_subject_of_unowned_single_asset_figures(sentence, entity):
    fact = [f for f in extract_facts(_ASSET_PIECE.format(sentence)) if f.sentence == sentence]
    assert fact[0].entity == entity


def test_find_cues_equals_running_every_cue_pattern_on_corpus_text():
    import json

    from ingest.facts.metrics import METRIC_CUES, find_cues

    patterns = {m: re.compile(p.pattern, re.IGNORECASE | re.ASCII) for m, p in METRIC_CUES.items()}
    with open(SHARED / "corpus" / "articles.jsonl", encoding="utf-8") as handle:
        texts = [json.loads(line)["text"] for line in handle][:150]
    for text in texts:
        expected = [(m, x.span()) for m, p in patterns.items() for x in p.finditer(text)]
        assert [(c.metric, (c.start, c.end)) for c in find_cues(text)] == expected


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        (
            "Five wallets withdrew 10,000 ETH (~$30 million) from Kraken on Monday.",
            [("exchange_flow", "Kraken", "out"), ("exchange_flow", "Kraken", "out")],
        ),
        (
            "Yesterday 1,500 BTC was deposited to Binance by a dormant whale.",
            [("exchange_flow", "Binance", "in")],
        ),
        (
            "Investors withdrew $200 million from Bitcoin ETFs last week.",
            [("fund_flow", "Bitcoin", "out")],
        ),
    ],
)
def test_coins_withdrawn_from_or_deposited_to_an_exchange_are_its_flow(sentence, expected):
    facts = extract_facts(sentence)
    assert [(f.metric, f.entity, f.direction) for f in facts] == expected


@pytest.mark.parametrize(
    ("sentence", "entities"),
    [
        ("Weekly inflows to Cardano, XRP and Polygon funds amounted to $4 million.", [None]),
        ("Inflows to Cardano and XRP and multi-asset funds came to just $3 million.", [None]),
        (
            "Altcoins drew inflows, such as Solana ($2.4 million) and XRP ($700,000).",
            ["Solana", "XRP"],
        ),
        ("Avalanche and Polkadot have climbed by 22% each.", ["Avalanche", "Polkadot"]),
        (
            "XRP and ETH liquidations were 0.5% and 0.7% of the respective market totals.",
            ["XRP", "Ethereum"],
        ),
    ],
)
def test_a_sum_over_a_list_of_assets_is_about_none_of_them(sentence, entities):
    assert [f.entity for f in extract_facts(sentence)] == entities


def test_a_share_accounted_for_takes_the_measure_of_its_clause():
    text = "Liquidations reached $2 billion this week, with ETH accounting for 35%."
    share = next(f for f in extract_facts(text) if f.text == "35%")
    assert (share.metric, share.entity) == ("liquidations", "Ethereum")


def test_figures_in_crypto_at_large_are_market_wide():
    fact = only("Bitcoin's rally triggered over $500 million in crypto liquidations.")
    assert (fact.metric, fact.entity) == ("liquidations", None)


@pytest.mark.parametrize(
    ("text", "metric"),
    [
        # A flow an exchange records, with no fund in sight, is an exchange flow.
        ("Kraken saw net outflows of $310 million over the week.", "exchange_flow"),
        # A move of a policy rate is a rate, not a price move.
        ("The central bank raised its benchmark rate by 25 basis points.", "interest_rate"),
        # "traded N% higher" states a price move, not an amount traded.
        ("Litecoin traded 3.5% higher on Friday.", "price_change"),
        # "losses of N%" is a move down.
        ("Smaller tokens posted losses of up to 12% on the day.", "price_change"),
        ("Ether kept a market domination of 17.5% this week.", "dominance"),
    ],
)
def test_metric_read_from_general_cues(text, metric):
    assert only(text).metric == metric


def test_extractor_parses_only_when_its_models_were_fit_on_parses():
    extractor = load_extractor()
    assert (extractor.parser is not None) == bool(extractor.models.manifest.get("parsed"))


def test_a_list_of_names_takes_a_list_of_figures_in_order():
    facts = extract_facts("Binance and Bybit saw $40 million and $25 million in liquidations.")
    assert [(f.value, f.entity) for f in facts] == [(40e6, "Binance"), (25e6, "Bybit")]


def test_holdings_and_purchases_belong_to_the_holder_not_the_coin_held():
    facts = extract_facts(
        "Metaplanet said on Monday that it bought another 500 bitcoin, lifting its bitcoin "
        "holdings to 5,000 BTC."
    )
    assert [(f.value, f.metric, f.entity) for f in facts] == [
        (500, "purchase", "Metaplanet"),
        (5000, "holdings", "Metaplanet"),
    ]


def test_a_put_call_ratio_is_the_asset_named_before_it():
    facts = extract_facts(
        "About 20,000 Ethereum options expire on Friday. The put/call ratio stands at 0.8."
    )
    ratio = next(f for f in facts if f.metric == "put_call_ratio")
    assert (ratio.value, ratio.entity) == (0.8, "Ethereum")


def test_an_option_strike_is_read_as_a_price_level():
    sentence = "Put options gather at $85,000 and $90,000 strikes."
    cues = [c for c in find_cues(sentence) if c.metric == "price"]
    assert [sentence[c.start : c.end] for c in cues] == ["strikes"]
