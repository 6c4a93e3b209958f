"""Tests for kb.search: hybrid, dense and keyword retrieval, the learned fusion and its features,
filters, and related articles.

Uses the session fixtures of conftest.py (one loaded model); the searched data directory is built
once per module from a few articles of ../shared/corpus/articles.jsonl, with sources and dates set.
The feature and model-file tests use invented examples.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from conftest import copy_data_dir, copy_model_into
from support.corpus import articles_of, build_data_dir, corpus_records

from kb.embedding import Embedder
from kb.errors import KbError, NotFound
from kb.knowledge import KnowledgeBase, article_vector_id
from kb.search import MODES, Hit, related, search
from kb.search.features import FEATURES, ArticleView, candidate_features, coverage, normalised
from kb.search.model import MODEL_PATH, REBUILD, FusionModel, load_fusion, model_from_dict
from kb.search.query import read_figures, read_query
from kb.search.training import QUESTION_FILES
from kb.store import Filters, StoredArticle

pytestmark = pytest.mark.slow

ARTICLES = 10


def own_words(body: str, skip: int = 0, words: int = 14) -> str:
    """A run of words from inside a body, to search an article by what it says."""
    return " ".join(body.split()[skip : skip + words])


@pytest.fixture(scope="module")
def search_dir(
    tmp_path_factory: pytest.TempPathFactory, model_data_dir: Path, embedder: Embedder
) -> Path:
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
        target.article.url,
        target.article.title,
        target.article.source,
        target.article.published,
    )
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
                    getattr(hit, field), abs=1e-5
                )


FILTERS: list[tuple[str, Filters, Callable[[Hit], bool]]] = [
    ("since", Filters(since="2024-03-06"), lambda h: h.published >= "2024-03-06"),
    ("until", Filters(until="2024-03-04"), lambda h: h.published[:10] <= "2024-03-04"),
    (
        "range",
        Filters(since="2024-03-03", until="2024-03-05"),
        lambda h: "2024-03-03" <= h.published[:10] <= "2024-03-05",
    ),
    ("source", Filters(source="beta daily"), lambda h: h.source == "Beta Daily"),
    (
        "source and since",
        Filters(source="Alpha Wire", since="2024-03-05"),
        lambda h: h.source == "Alpha Wire" and h.published >= "2024-03-05",
    ),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name, filters, keeps", FILTERS, ids=[f[0] for f in FILTERS])
def test_filters_keep_only_matching_articles(
    kb: KnowledgeBase, mode: str, name: str, filters: Filters, keeps: Callable[[Hit], bool]
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
def test_fact_filters_keep_articles_stating_such_a_fact(
    kb: KnowledgeBase, field: str, mode: str
) -> None:
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


def test_a_ranking_whose_scores_are_all_equal_normalises_to_one() -> None:
    assert normalised([(7, 3.25)]) == {7: 1.0}
    assert normalised([(1, 4.0), (2, 3.0), (3, 2.0)]) == {1: 1.0, 2: 0.5, 3: 0.0}


@pytest.mark.parametrize(
    "text, figures",
    [
        ("a $125M fine", (125e6,)),
        ("a $1.5 billion raise", (1.5e9,)),
        ("moved 1,000 BTC", (1000.0,)),
        ("funding at 0.01% and open interest 4.61bn", (0.01, 4.61e9)),
        ("what happened in 2021", ()),
        ("no figures at all", ()),
    ],
)
def test_figures_are_read_as_plain_numbers_and_years_are_not_figures(
    text: str, figures: tuple[float, ...]
) -> None:
    assert read_figures(text) == pytest.approx(figures)


def test_query_words_are_distinct_and_lower_cased() -> None:
    assert read_query("Who sold SOL? Who bought SOL?").words == ("who", "sold", "sol", "bought")


def test_coverage_weighs_a_word_few_candidates_use_above_one_all_use() -> None:
    used = {"whale": {"a"}, "bitcoin": {"a", "b", "c"}, "kraken": {"b"}}
    covered = coverage(("whale", "bitcoin", "kraken"), used, ["a", "b", "c"])
    assert covered["a"] == pytest.approx(covered["b"])
    assert covered["a"] > 2 * covered["c"] > 0.0
    assert coverage(("unused",), {}, ["a", "b"]) == {"a": 0.0, "b": 0.0}


def two_article_pool(
    query: str, facts_a: tuple[float, ...], facts_b: tuple[float, ...]
) -> np.ndarray:
    """Features of two passages that tie in both rankings, articles "a" and "b"."""
    return candidate_features(
        read_query(query),
        dense=[(1, 0.5), (2, 0.5)],
        keyword=[(1, 2.0), (2, 2.0)],
        article_of={1: "a", 2: "b"},
        articles={"a": ArticleView(0.3, facts_a), "b": ArticleView(0.3, facts_b)},
        used={},
    ).matrix


def test_an_article_stating_the_asked_figure_as_a_fact_is_lifted() -> None:
    matrix = two_article_pool("who paid the $42M fine?", (42_000_000.0, 7.0), (41.0,))
    column = FEATURES.index("figure_match")
    assert matrix[:, column].tolist() == [1.0, 0.0]
    scores = load_fusion().scores(matrix)
    assert scores[0] > scores[1]


def test_without_figures_in_the_query_facts_change_nothing() -> None:
    matrix = two_article_pool("who paid the fine?", (42_000_000.0,), ())
    assert (matrix[0] == matrix[1]).all()


def test_shipped_fusion_loads_with_a_manifest_of_what_it_was_fit_on() -> None:
    model = load_fusion()
    assert model.features == FEATURES and len(model.weights) == len(FEATURES)
    manifest = json.loads(MODEL_PATH.read_text(encoding="utf-8"))["manifest"]
    assert [f["file"] for f in manifest["fit_on"]] == [f"eval/{n}" for n in QUESTION_FILES]
    assert all(re.fullmatch(r"[0-9a-f]{64}", f["sha256"]) for f in manifest["fit_on"])
    assert manifest["cross_validated"]["all"]["n"] > 0


def test_a_missing_fusion_file_is_an_error_naming_the_script_that_builds_it(tmp_path: Path) -> None:
    with pytest.raises(KbError, match=re.escape(REBUILD)):
        load_fusion(tmp_path / "search.json")


@pytest.mark.parametrize(
    "change",
    [
        {"features": ["keyword", "dense"]},
        {"format": 0},
        {"weights": [1.0]},
    ],
)
def test_a_fusion_file_fit_for_other_features_is_refused(change: dict) -> None:
    stored = {**load_fusion().to_dict(), **change}
    with pytest.raises(KbError, match=re.escape(REBUILD)):
        model_from_dict(stored)


def test_hybrid_ranks_as_the_fusion_model_says(kb: KnowledgeBase) -> None:
    keyword_only = FusionModel(FEATURES, tuple(float(f == "keyword") for f in FEATURES), 0.0, 50)
    query = "bitcoin liquidations and exchange outflows"
    hybrid = search(kb, query, k=5, fusion=keyword_only)
    assert [h.passage_id for h in hybrid] == [
        h.passage_id for h in search(kb, query, k=5, mode="keyword")
    ]


def test_a_few_rare_words_of_an_article_find_it(kb: KnowledgeBase) -> None:
    target = stored(kb, 6)
    words = sorted(set(re.findall(r"[A-Za-z]{9,}", target.article.body)), key=len)[-4:]
    hits = search(kb, " ".join(words), k=3)
    assert target.id in {h.article_id for h in hits}


def test_articles_using_a_word_are_found_by_its_stem(kb: KnowledgeBase) -> None:
    target = stored(kb, 1)
    word = max(re.findall(r"[a-z]{6,}", target.article.body.lower()), key=len)
    ids = kb.store.article_ids()
    found = kb.store.articles_using([word, "the", "zzzyqx"], ids)
    assert target.id in found[word]
    assert "the" not in found and "zzzyqx" not in found  # ignored, and used by none


def test_fact_values_are_those_stored_for_each_article(kb: KnowledgeBase) -> None:
    ids = kb.store.article_ids()
    values = kb.store.fact_values(ids)
    for article_id in ids:
        expected = sorted(f.value for f in kb.store.article_facts(article_id))
        assert sorted(values.get(article_id, [])) == expected


def test_deleted_article_is_never_found(writable_kb: KnowledgeBase) -> None:
    target = stored(writable_kb, 4)
    query = own_words(target.article.body, skip=5)
    assert search(writable_kb, query, k=1)[0].article_id == target.id
    writable_kb.delete_article(target.id)
    for mode in MODES:
        assert target.id not in {h.article_id for h in search(writable_kb, query, k=50, mode=mode)}
    assert target.id not in {
        r.article_id
        for a in writable_kb.store.article_ids()
        for r in related(writable_kb, a, k=ARTICLES)
    }


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
