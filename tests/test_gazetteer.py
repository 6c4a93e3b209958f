"""Tests for ingest.gazetteer: alias lookup, types and mention finding."""

from __future__ import annotations

import re

import pytest

from ingest.gazetteer import (
    ENTITY_TYPES,
    canonical,
    entity_type,
    find_mentions,
    gazetteer_from_json,
    load_gazetteer,
    trie_pattern,
)


@pytest.mark.parametrize(
    ("alias", "name", "kind"),
    [
        ("BTC", "Bitcoin", "asset"),
        ("bitcoin", "Bitcoin", "asset"),
        ("ETH", "Ethereum", "asset"),
        ("Ether", "Ethereum", "asset"),
        ("OKEx", "OKX", "exchange"),
        ("okex", "OKX", "exchange"),
        ("MicroStrategy", "Strategy", "company"),
        ("IBIT", "BlackRock IBIT", "fund"),
        ("FBTC", "Fidelity FBTC", "fund"),
        ("Gate.io", "Gate", "exchange"),
        ("Huobi Global", "HTX", "exchange"),
        ("AAVE", "Aave", "protocol"),
        ("S&P 500", "S&P 500", "index"),
        ("Saylor", "Michael Saylor", "person"),
    ],
)
def test_alias_lookup(alias, name, kind):
    assert canonical(alias) == name
    assert entity_type(alias) == kind


def test_unknown_name_is_none():
    assert canonical("Zephyrix Capital") is None
    assert entity_type("Zephyrix Capital") is None


def test_each_type_has_dozens_or_more_where_the_market_has_them():
    counts = {}
    for entity in load_gazetteer().entities:
        counts[entity.type] = counts.get(entity.type, 0) + 1
    for kind in ("exchange", "asset", "fund", "company", "protocol"):
        assert counts[kind] >= 20, (kind, counts[kind])
    assert set(counts) <= set(ENTITY_TYPES)


def test_no_alias_names_two_entities():
    loose, exact = {}, {}
    for entity in load_gazetteer().entities:
        for alias in (entity.name, *entity.aliases):
            if alias in entity.exact:
                continue
            key = alias.casefold()
            assert loose.setdefault(key, entity.name) == entity.name, (
                alias,
                loose[key],
                entity.name,
            )
        for alias in entity.exact:
            assert exact.setdefault(alias, entity.name) == entity.name, (
                alias,
                exact[alias],
                entity.name,
            )


def test_mentions_have_spans_and_prefer_longest():
    text = "Ether.fi and Ethereum (ETH) beat BlackRock's IBIT."
    mentions = find_mentions(text)
    assert [(m.surface, m.name) for m in mentions] == [
        ("Ether.fi", "Ether.fi"),
        ("Ethereum", "Ethereum"),
        ("ETH", "Ethereum"),
        ("BlackRock", "BlackRock"),
        ("IBIT", "BlackRock IBIT"),
    ]
    for mention in mentions:
        assert text[mention.start : mention.end] == mention.surface


def test_common_words_match_only_as_written():
    assert [m.name for m in find_mentions("Strategy bought more; its strategy is simple.")] == [
        "Strategy"
    ]


def test_trading_pairs_are_not_mentions():
    assert [m.name for m in find_mentions("a BTC/USD trade on OKX")] == ["OKX"]


def test_unknown_type_is_refused():
    with pytest.raises(ValueError, match="accepted types"):
        gazetteer_from_json({"entities": [{"name": "X", "type": "planet"}]})


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("share of", ["share of"]),
        ("market share", ["share"]),
        ("shares", ["share"]),
        ("sha", []),
    ],
)
def test_trie_pattern_finds_the_longest_word_at_each_place(text, found):
    pattern = re.compile(trie_pattern(["share", "share of", "shift"]))
    assert [m.group(0) for m in pattern.finditer(text)] == found


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("Grayscale Bitcoin Trust and BTC", ["Grayscale GBTC", "Bitcoin"]),
        ("$TRUMP rallied", ["Official Trump"]),
        ("U.S. spot ETFs", ["United States"]),
        ("MicroStrategy's stash", ["Strategy"]),
    ],
)
def test_find_mentions_reads_multiword_ticker_and_dotted_aliases(text, names):
    assert [m.name for m in find_mentions(text)] == names


def test_a_gazetteer_without_exact_aliases_finds_its_names():
    gazetteer = gazetteer_from_json({"entities": [{"name": "Qorvex", "type": "exchange"}]})
    assert [m.name for m in gazetteer.find_mentions("Volume on Qorvex rose.")] == ["Qorvex"]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("The Fed held rates.", ["Federal Reserve"]),
        ("Orders fed into the book.", []),
        ("The FOMC meets today.", ["Federal Reserve"]),
        ("The ECB and the BoJ waited.", ["European Central Bank", "Bank of Japan"]),
    ],
)
def test_central_banks_are_institutions_and_fed_the_verb_is_not(text, names):
    mentions = find_mentions(text)
    assert [m.name for m in mentions] == names
    assert all(m.type == "institution" for m in mentions)
