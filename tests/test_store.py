"""The SQLite store and the ingest decisions over it: new, unchanged, updated, duplicate, deleted.

These run without the embedding model: vectors are the knowledge base's business, not the store's.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ingest.chunking import chunk_article, passage_sentences
from ingest.dedupe import is_duplicate, overlap, shingle_hashes
from ingest.jsonl import parse_jsonl
from ingest.pagetext import parse_page_text
from ingest.records import Article
from kb.errors import KbError, NotFound
from kb.ingesting import store_article
from kb.store import SCHEMA_VERSION, Filters, Store

SHARED = Path(__file__).resolve().parents[2] / "shared"


def _corpus(limit: int) -> list[Article]:
    text = (SHARED / "corpus" / "articles.jsonl").read_text("utf-8")
    return [a for a in parse_jsonl(text) if isinstance(a, Article)][:limit]


def _seed() -> Article:
    seed = SHARED / "seed" / "000_e760251becf4f2f2.txt"
    return parse_page_text(seed.read_text("utf-8"), origin=str(seed.resolve()))


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "kb.sqlite3")


def test_new_article_is_stored_with_passages_and_facts(store):
    result = store_article(store, _seed())
    assert result.status == "new"
    stored = store.get_article(result.id)
    assert stored.article.title.startswith("Crypto traders brace")
    counts = store.counts()
    assert counts["articles"] == 1 and counts["passages"] >= 1 and counts["facts"] >= 7


def test_stored_passages_slice_back_to_the_body(store):
    result = store_article(store, _seed())
    body = store.get_article(result.id).article.body
    passages = store.get_passages(store.article_passage_ids(result.id)).values()
    assert all(body[p.passage.start : p.passage.end] == p.passage.text for p in passages)


def test_reingesting_an_unchanged_article_writes_nothing(store):
    store_article(store, _seed())
    before = store.get_article(_seed().id)
    result = store_article(store, _seed())
    assert result.status == "unchanged"
    assert not result.added_passages and not result.removed_passages
    assert store.get_article(result.id).changed_at == before.changed_at


def test_same_url_with_changed_body_replaces_the_old_version(store):
    [first] = _corpus(1)
    store_article(store, first)
    old_passages = store.article_passage_ids(first.id)
    changed = Article(
        title=first.title, body=first.body + "\n\nA new closing paragraph was added.", url=first.url
    )
    result = store_article(store, changed)
    assert result.status == "updated" and result.id == first.id
    assert set(result.removed_passages) == set(old_passages)
    assert store.get_article(first.id).article.body.endswith("closing paragraph was added.")
    assert not set(store.article_passage_ids(first.id)) & set(old_passages)


def test_an_update_keeps_every_url_the_article_is_known_by(store):
    [first] = _corpus(1)
    first.alternate_urls = ["https://mirror.example/a"]
    store_article(store, first)
    changed = Article(
        title=first.title, body=first.body + "\n\nOne more paragraph here.", url=first.url
    )
    assert store_article(store, changed).status == "updated"
    assert store.article_id_for_urls(["https://mirror.example/a"]) == first.id


def test_same_article_through_a_second_url_is_stored_once_with_both(store):
    [first] = _corpus(1)
    store_article(store, first)
    copy = Article(title=first.title, body=first.body, url="https://mirror.example/copy")
    result = store_article(store, copy)
    assert result.status == "duplicate" and result.id == first.id
    assert "https://mirror.example/copy" in store.article_urls(first.id)
    assert store.counts()["articles"] == 1


def test_a_syndicated_copy_with_extra_boilerplate_is_a_duplicate(store):
    [first] = _corpus(1)
    store_article(store, first)
    syndicated = Article(
        title="Syndicated",
        url="https://syndicate.example/a",
        body="Originally published elsewhere.\n\n" + first.body,
    )
    assert store_article(store, syndicated).status == "duplicate"


def test_different_articles_are_not_duplicates():
    a, b = _corpus(2)
    assert not is_duplicate(a.body, b.body)
    assert overlap(shingle_hashes(a.body), shingle_hashes(a.body)) == 1.0


def test_a_url_less_page_text_updated_in_place_keeps_its_id(store):
    seed = _seed()
    first = store_article(store, seed)
    edited = _seed()
    edited.body = edited.body.replace("$230 million", "$231 million")
    result = store_article(store, edited)
    assert result.status == "updated" and result.id == first.id


def test_url_less_uploads_with_the_same_name_are_different_articles(store):
    first = Article(title="One", body="Binance saw heavy long liquidations today.", origin="up-1")
    second = Article(title="Two", body="Ether funds took in new money this week.", origin="up-1")
    assert store_article(store, first).status == "new"
    assert store_article(store, second).status == "new"
    assert store.counts()["articles"] == 2


def test_delete_removes_passages_facts_and_urls(store):
    [first] = _corpus(1)
    store_article(store, first)
    removed = store.delete_article(first.id)
    assert removed
    assert store.counts() == {"articles": 0, "passages": 0, "facts": 0}
    assert store.article_id_for_urls([first.url]) is None
    with pytest.raises(NotFound):
        store.get_article(first.id)


def test_deleting_an_unknown_article_is_not_found(store):
    with pytest.raises(NotFound):
        store.delete_article("000000000000")


def test_a_failed_write_leaves_the_old_version_intact(store, monkeypatch):
    [first] = _corpus(1)
    store_article(store, first)
    before = store.counts()
    changed = Article(title="Changed", body=first.body + "\n\nMore text here.", url=first.url)

    def broken_facts(*_args, **_kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr("kb.ingesting.extract_facts", broken_facts)
    with pytest.raises(sqlite3.OperationalError):
        store_article(store, changed)
    assert store.counts() == before
    assert store.get_article(first.id).article.title == first.title


def test_a_write_that_fails_inside_the_transaction_is_rolled_back(store, monkeypatch):
    [first] = _corpus(1)
    store_article(store, first)
    before = store.counts()
    original = store._add_urls

    def fail_midway(db, article_id, urls):
        original(db, article_id, urls)
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(store, "_add_urls", fail_midway)
    changed = Article(title="Changed", body=first.body + "\n\nMore.", url=first.url)
    with pytest.raises(sqlite3.OperationalError):
        store_article(store, changed)
    assert store.counts() == before
    assert store.get_article(first.id).article.body == first.body


def test_keyword_search_finds_passages_by_their_words(store):
    store_article(store, _seed())
    hits = store.keyword_search("Hyperliquid long liquidations", 3)
    assert hits
    text = store.get_passages([hits[0][0]])[hits[0][0]].passage.text
    assert "Hyperliquid" in text


def test_keyword_search_ignores_fts_syntax_in_queries(store):
    store_article(store, _seed())
    assert store.keyword_search('"unbalanced AND (NEAR OR', 3) is not None
    assert store.keyword_search("???", 3) == []


def test_listing_filters_by_source_and_dates(store):
    for article in _corpus(5):
        article.source = "Example"
        article.published = "2024-01-02"
        store_article(store, article)
    store_article(store, _seed())
    rows, total = store.list_articles(Filters(source="ambcrypto"))
    assert total == 1 and rows[0].article.title.startswith("Crypto traders brace")
    rows, total = store.list_articles(Filters(since="2025-01-01"))
    assert total == 1
    rows, total = store.list_articles(Filters(until="2024-01-02"))
    assert total == 5
    rows, total = store.list_articles(Filters(), offset=0, limit=2)
    assert total == 6 and len(rows) == 2 and rows[0].article.published == "2026-01-29"


def test_schema_version_is_recorded(store):
    assert store.get_meta("schema_version") == str(SCHEMA_VERSION)


def test_passages_keep_their_sentence_spans(store):
    result = store_article(store, _seed())
    passages = store.get_passages(store.article_passage_ids(result.id)).values()
    assert all(p.passage.sentences for p in passages)
    assert [s for p in passages for s in p.passage.sentences] == [
        s for p in chunk_article(_seed()) for s in p.sentences
    ]


def test_a_version_1_store_gains_sentence_spans_and_keeps_its_passages(tmp_path):
    path = tmp_path / "kb.sqlite3"
    store = Store(path)
    result = store_article(store, _seed())
    store.close()
    db = sqlite3.connect(path)  # back to the layout version 1 wrote
    db.execute("ALTER TABLE passages DROP COLUMN sentences")
    db.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    reopened = Store(path)
    assert reopened.get_meta("schema_version") == str(SCHEMA_VERSION)
    passages = reopened.get_passages(reopened.article_passage_ids(result.id)).values()
    assert passages and all(p.passage.sentences == () for p in passages)
    assert all(passage_sentences(p.passage) for p in passages)


def test_a_newer_schema_is_refused(tmp_path):
    store = Store(tmp_path / "kb.sqlite3")
    store.set_meta("schema_version", str(SCHEMA_VERSION + 1))
    store.close()
    with pytest.raises(KbError, match="newer"):
        Store(tmp_path / "kb.sqlite3")


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path):
    path = tmp_path / "kb.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(KbError, match="cannot open the store"):
        Store(path)
