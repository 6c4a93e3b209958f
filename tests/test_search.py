"""Tests for kb.search: hybrid, dense and keyword retrieval, filters, and related articles.

Uses the session fixtures of conftest.py (one loaded model); the searched data directory is built
once per module from a few articles of ../shared/corpus/articles.jsonl, with sources and dates set.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from conftest import copy_data_dir, copy_model_into
from support.corpus import articles_of, build_data_dir, corpus_records

from kb.embedding import Embedder
from kb.errors import KbError, NotFound
from kb.knowledge import KnowledgeBase, article_vector_id
from kb.search import MODES, Hit, _fuse, related, search
from kb.store import Filters, StoredArticle

pytestmark = pytest.mark.slow

ARTICLES = 10


def own_words(body: str, skip: int = 0, words: int = 14) -> str:
    """A run of words from inside a body, to search an article by what it says."""
    return " ".join(body.split()[skip : skip + words])


@pytest.fixture(scope="module")
def search_dir(tmp_path_factory: pytest.TempPathFactory, model_data_dir: Path,
               embedder: Embedder) -> Path:
    """A data directory with ARTICLES corpus articles; copy it before writing."""
    data_dir = tmp_path_factory.mktemp("kb-search")
    copy_model_into(model_data_dir, data_dir)
    return build_data_dir(data_dir, embedder, ARTICLES)


@pytest.fixture(scope="module")
def kb(search_dir: Path, embedder: Embedder) -> KnowledgeBase:
    """The module's knowledge base; tests must not write to it."""
    return KnowledgeBase(search_dir, embedder=embedder)


@pytest.fixture
def writable_kb(search_dir: Path, tmp_path: Path, embedder: Embedder) -> KnowledgeBase:
    """A knowledge base over a writable copy of the module's data directory."""
    return KnowledgeBase(copy_data_dir(search_dir, tmp_path / "data"), embedder=embedder)


def stored(kb: KnowledgeBase, number: int) -> StoredArticle:
    """The stored version of the module's article number ``number``."""
    return kb.store.get_article(articles_of(corpus_records(ARTICLES))[number].id)


def test_hybrid_hit_carries_every_field(kb: KnowledgeBase) -> None:
    target = stored(kb, 3)
    hits = search(kb, own_words(target.article.body, skip=20), k=5)
    assert hits and hits[0].article_id == target.id
    top = hits[0]
    assert (top.url, top.title, top.source, top.published) == (
        target.article.url, target.article.title, target.article.source, target.article.published)
    assert top.dense_score is not None and top.keyword_score is not None
    assert top.dense_rank is not None and top.keyword_rank is not None
    for hit in hits:
        body = kb.store.get_article(hit.article_id).article.body
        assert hit.text and body[hit.start : hit.end] == hit.text
        assert isinstance(hit.score, float) and 0.0 <= hit.score <= 1.0 + 1e-9
        assert hit.dense_score is not None or hit.keyword_score is not None
        assert set(hit.to_dict()) == set(Hit.__dataclass_fields__)


@pytest.mark.parametrize("mode", MODES)
def test_each_mode_finds_an_article_by_its_own_words(kb: KnowledgeBase, mode: str) -> None:
    target = stored(kb, 5)
    hits = search(kb, own_words(target.article.body, skip=10), k=3, mode=mode)
    assert hits[0].article_id == target.id


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("k", [1, 4])
def test_at_most_k_hits_best_first(kb: KnowledgeBase, mode: str, k: int) -> None:
    hits = search(kb, "bitcoin price and trading volume", k=k, mode=mode)
    assert 1 <= len(hits) <= k
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert len({h.passage_id for h in hits}) == len(hits)


def test_dense_and_keyword_scores_are_those_of_their_own_modes(kb: KnowledgeBase) -> None:
    query = "liquidations of leveraged long positions"
    hybrid = {h.passage_id: h for h in search(kb, query, k=50)}
    for mode, field in (("dense", "dense_score"), ("keyword", "keyword_score")):
        for hit in search(kb, query, k=5, mode=mode):
            if hit.passage_id in hybrid:
                assert getattr(hybrid[hit.passage_id], field) == pytest.approx(
                    getattr(hit, field), abs=1e-5)


FILTERS: list[tuple[str, Filters, Callable[[Hit], bool]]] = [
    ("since", Filters(since="2024-03-06"), lambda h: h.published >= "2024-03-06"),
    ("until", Filters(until="2024-03-04"), lambda h: h.published[:10] <= "2024-03-04"),
    ("range", Filters(since="2024-03-03", until="2024-03-05"),
     lambda h: "2024-03-03" <= h.published[:10] <= "2024-03-05"),
    ("source", Filters(source="beta daily"), lambda h: h.source == "Beta Daily"),
    ("source and since", Filters(source="Alpha Wire", since="2024-03-05"),
     lambda h: h.source == "Alpha Wire" and h.published >= "2024-03-05"),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name, filters, keeps", FILTERS, ids=[f[0] for f in FILTERS])
def test_filters_keep_only_matching_articles(kb: KnowledgeBase, mode: str, name: str,
                                             filters: Filters, keeps: Callable[[Hit], bool]
                                             ) -> None:
    unfiltered = search(kb, "bitcoin market", k=50, mode=mode)
    assert not all(keeps(h) for h in unfiltered)  # the filter has something to remove
    hits = search(kb, "bitcoin market", k=10, filters=filters, mode=mode)
    assert hits and all(keeps(h) for h in hits)


@pytest.mark.parametrize("mode", MODES)
def test_article_id_filter_searches_one_article(kb: KnowledgeBase, mode: str) -> None:
    target = stored(kb, 2)
    hits = search(kb, "bitcoin market", k=10, filters=Filters(article_id=target.id), mode=mode)
    assert hits and {h.article_id for h in hits} == {target.id}


@pytest.mark.parametrize("field", ["entity", "metric"])
@pytest.mark.parametrize("mode", ["hybrid", "dense"])
def test_fact_filters_keep_articles_stating_such_a_fact(kb: KnowledgeBase, field: str,
                                                        mode: str) -> None:
    facts = kb.store.query_facts(Filters())
    values = [getattr(f, field) for f in facts if getattr(f, field)]
    value = max(set(values), key=values.count)
    having = {f.article_id for f in facts if getattr(f, field) == value}
    assert having != set(kb.store.article_ids())  # the filter has something to remove
    hits = search(kb, "bitcoin market", k=20, filters=Filters(**{field: value}), mode=mode)
    assert hits and {h.article_id for h in hits} <= having


@pytest.mark.parametrize("mode", MODES)
def test_filter_matching_nothing_finds_nothing(kb: KnowledgeBase, mode: str) -> None:
    assert search(kb, "bitcoin", k=5, filters=Filters(since="2099-01-01"), mode=mode) == []


@pytest.mark.parametrize("query, mode", [("", "hybrid"), ("   ", "dense"), ("bitcoin", "fuzzy")])
def test_bad_query_or_mode_is_refused(kb: KnowledgeBase, query: str, mode: str) -> None:
    with pytest.raises(KbError):
        search(kb, query, mode=mode)


def test_a_lone_keyword_match_counts_fully_in_the_fusion() -> None:
    assert _fuse([], [(7, 3.25)], 0.7) == [(7, pytest.approx(0.7))]
    fused = dict(_fuse([(1, 0.9), (2, 0.5)], [(2, 4.0)], 0.7))
    assert fused[2] == pytest.approx(0.7) and fused[1] == pytest.approx(0.3)


def test_deleted_article_is_never_found(writable_kb: KnowledgeBase) -> None:
    target = stored(writable_kb, 4)
    query = own_words(target.article.body, skip=5)
    assert search(writable_kb, query, k=1)[0].article_id == target.id
    writable_kb.delete_article(target.id)
    for mode in MODES:
        assert target.id not in {h.article_id for h in search(writable_kb, query, k=50, mode=mode)}
    assert target.id not in {r.article_id for a in writable_kb.store.article_ids()
                             for r in related(writable_kb, a, k=ARTICLES)}


def test_related_articles_exclude_the_article_and_rank_by_similarity(kb: KnowledgeBase) -> None:
    ids = kb.store.article_ids()
    for article_id in ids:
        found = related(kb, article_id, k=4)
        assert len(found) == 4
        assert article_id not in {r.article_id for r in found}
        assert len({r.article_id for r in found}) == len(found)
        assert [r.similarity for r in found] == sorted((r.similarity for r in found), reverse=True)
        for r in found:
            assert r.title == kb.store.get_article(r.article_id).article.title


def test_related_never_offers_a_copy_of_the_article(writable_kb: KnowledgeBase) -> None:
    kb = writable_kb
    original = corpus_records(1)[0]
    other = corpus_records(1, skip=ARTICLES)[0]
    # A second article that later becomes a copy of the first: updates skip duplicate detection,
    # so this is how two stored articles can share a body.
    [added] = kb.ingest(articles_of([other]))
    [copied] = kb.ingest(articles_of([{**other, "text": original["text"]}]))
    assert (added.status, copied.status) == ("new", "updated")
    original_id = articles_of([original])[0].id
    index = kb.article_index()
    vector = index.vectors(np.array([article_vector_id(original_id)]))[0]
    nearest = dict(index.search(vector, 2))
    assert nearest.get(article_vector_id(copied.id), 0) > 0.99  # the copy is its nearest vector
    assert copied.id not in {r.article_id for r in related(kb, original_id, k=5)}
    assert original_id not in {r.article_id for r in related(kb, copied.id, k=5)}


def test_related_of_an_unknown_article_is_not_found(kb: KnowledgeBase) -> None:
    with pytest.raises(NotFound):
        related(kb, "000000000000")
