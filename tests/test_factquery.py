"""Stored facts: linked to articles and passages, replaced on update, queryable and aggregated."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.pagetext import parse_page_text
from ingest.records import Article
from kb.errors import KbError
from kb.factquery import FactQuery, aggregate_by_entity, find_facts
from kb.ingesting import store_article
from kb.store import Store

SEED = Path(__file__).resolve().parents[2] / "shared" / "seed" / "000_e760251becf4f2f2.txt"


@pytest.fixture
def store(tmp_path) -> Store:
    store = Store(tmp_path / "kb.sqlite3")
    store_article(store, parse_page_text(SEED.read_text("utf-8"), origin=str(SEED.resolve())))
    return store


def test_facts_are_stored_with_article_passage_and_as_of_date(store):
    facts = find_facts(store, FactQuery(entity="Hyperliquid", metric="liquidations"))
    [fact] = [f for f in facts if f.value == 59_000_000]
    assert fact.article_id and fact.passage_id and fact.as_of == "2026-01-29"
    passage = store.get_passages([fact.passage_id])[fact.passage_id].passage
    assert fact.text in passage.text


def test_aliases_find_the_canonical_entity(store):
    assert find_facts(store, FactQuery(entity="BTC", metric="market_cap"))
    assert find_facts(store, FactQuery(entity="bitcoin", metric="market_cap"))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (FactQuery(side="short", metric="liquidations"), {5_000_000, 3_500_000}),
        (FactQuery(entity="Binance"), {36_000_000}),
        (FactQuery(metric="market_cap"), {1_710_000_000_000, 344_000_000_000}),
        (FactQuery(metric="liquidations", window="1h", side="long"), {230_000_000}),
        (FactQuery(since="2027-01-01"), set()),
        (FactQuery(until="2026-01-29", entity="Binance"), {36_000_000}),
    ],
)
def test_filters(store, query, expected):
    assert {f.value for f in find_facts(store, query)} == expected


def test_aggregation_by_entity_keeps_the_facts_behind_each_number(store):
    groups = aggregate_by_entity(find_facts(store, FactQuery(metric="liquidations", side="long")))
    named = [g for g in groups if g.entity]
    assert [g.entity for g in named] == ["Hyperliquid", "Binance"]
    assert named[0].total == 59_000_000 and named[0].count == 1
    assert named[0].facts[0].text == "over $59 million"
    assert groups[-1].entity is None  # market-wide figures come last


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (FactQuery(metric="weather"), "metric must be one of"),
        (FactQuery(side="sideways"), "side must be one of"),
        (FactQuery(direction="left"), "direction must be one of"),
        (FactQuery(limit=0), "limit must be from 1"),
        (FactQuery(window="bogus"), "window must be"),
    ],
)
def test_bad_filters_say_what_is_accepted(store, query, message):
    with pytest.raises(KbError, match=message):
        find_facts(store, query)


def test_facts_are_re_extracted_on_update_and_removed_on_delete(store):
    seed = parse_page_text(SEED.read_text("utf-8"), origin=str(SEED.resolve()))
    seed.body = seed.body.replace("over $59 million", "over $61 million")
    result = store_article(store, seed)
    assert result.status == "updated"
    values = {f.value for f in find_facts(store, FactQuery(entity="Hyperliquid"))}
    assert 61_000_000 in values and 59_000_000 not in values
    store.delete_article(result.id)
    assert find_facts(store, FactQuery()) == []


def test_an_article_without_figures_has_no_facts(tmp_path):
    store = Store(tmp_path / "kb.sqlite3")
    store_article(store, Article(title="Calm", body="Markets were calm and traders waited."))
    assert store.counts()["facts"] == 0
