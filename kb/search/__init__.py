"""Hybrid retrieval: dense (FAISS) and keyword (SQLite FTS5 BM25) candidates, fused by a model.

Each ranking offers its best passages; a logistic model (kb/search/model.py, weights fit by
``python -m kb.search.training``) scores every candidate from its normalised scores in both
rankings, its article's best scores and mean vector, how much of the query's rare words the
article uses anywhere, and whether the article's stored facts state the figures the query names
(kb/search/features.py). The article-level signals matter most for terse
questions, whose few words give BM25 and the dense model little to separate similar stories with.
``bench/retrieval.py`` reports the cross-validated figures.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ingest.dedupe import DUPLICATE_OVERLAP, overlap, shingle_hashes
from kb.errors import KbError
from kb.knowledge import KnowledgeBase, article_vector_id
from kb.search.features import ArticleView, Candidates, candidate_features, normalised
from kb.search.model import FusionModel, load_fusion
from kb.search.query import read_query
from kb.store import Filters

MODES = ("hybrid", "dense", "keyword")
CANDIDATES = 50


@dataclass
class Hit:
    """One retrieved passage with its article's display fields and every score behind its rank."""

    passage_id: int
    article_id: str
    url: str | None
    title: str
    source: str | None
    published: str | None
    heading: str | None
    text: str
    start: int
    end: int
    score: float
    dense_score: float | None = None
    keyword_score: float | None = None
    dense_rank: int | None = None
    keyword_rank: int | None = None

    def to_dict(self) -> dict[str, object]:
        """The hit as JSON-ready data."""
        return asdict(self)


@dataclass
class RelatedArticle:
    """An article similar to another, by the cosine of their mean passage vectors."""

    article_id: str
    url: str | None
    title: str
    source: str | None
    published: str | None
    similarity: float

    def to_dict(self) -> dict[str, object]:
        """The related article as JSON-ready data."""
        return asdict(self)


@dataclass(frozen=True)
class Rankings:
    """What each retriever offers for one query: (passage id, raw score), best first."""

    dense: list[tuple[int, float]]
    keyword: list[tuple[int, float]]
    vector: np.ndarray | None  # the query's embedding, when the dense side ran


def search(
    kb: KnowledgeBase,
    query: str,
    k: int = 10,
    filters: Filters | None = None,
    mode: str = "hybrid",
    *,
    fusion: FusionModel | None = None,
) -> list[Hit]:
    """The ``k`` passages that best answer ``query``, best first.

    ``fusion`` defaults to the shipped model (kb/search/data/search.json); pass another to test one.
    """
    if mode not in MODES:
        raise KbError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if not query or not query.strip():
        raise KbError("the query is empty")
    filters = filters or Filters()
    if mode == "hybrid":
        fusion = fusion or load_fusion()
        found = rankings(kb, query, max(fusion.depth, k), filters)
        pool = candidates(kb, query, found)
        order = sorted(
            zip(pool.passage_ids, fusion.scores(pool.matrix).tolist(), strict=True),
            key=lambda item: (-item[1], item[0]),
        )
    else:
        found = rankings(kb, query, max(CANDIDATES, k), filters, mode)
        single = normalised(found.dense if mode == "dense" else found.keyword)
        order = sorted(single.items(), key=lambda item: (-item[1], item[0]))
    return _hits(kb, order[:k], found)


def rankings(
    kb: KnowledgeBase, query: str, depth: int, filters: Filters, mode: str = "hybrid"
) -> Rankings:
    """The dense and keyword candidates of ``query`` (only the one a single mode uses)."""
    dense: list[tuple[int, float]] = []
    keyword: list[tuple[int, float]] = []
    vector = None
    if mode in ("hybrid", "dense"):
        allowed = kb.store.passage_ids_matching(filters)
        if allowed is None or allowed:
            vector = kb.embedder.encode_query(query)
            dense = [
                (int(pid), float(score))
                for pid, score in kb.nearest_passages(vector, depth, allowed_ids=allowed)
            ]
    if mode in ("hybrid", "keyword"):
        keyword = kb.store.keyword_search(query, depth, filters)
    return Rankings(dense, keyword, vector)


def candidates(kb: KnowledgeBase, query: str, found: Rankings) -> Candidates:
    """Every passage either ranking offers, with the fusion features of each."""
    pids = list(dict.fromkeys([p for p, _ in found.keyword] + [p for p, _ in found.dense]))
    article_of = {pid: p.passage.article_id for pid, p in kb.store.get_passages(pids).items()}
    pool = list(dict.fromkeys(article_of[p] for p in pids if p in article_of))
    cues = read_query(query)
    values = kb.store.fact_values(pool) if cues.figures else {}  # only figures are matched
    cosines = _article_cosines(kb, pool, found.vector)
    articles = {a: ArticleView(cosines.get(a, 0.0), tuple(values.get(a, ()))) for a in pool}
    used = kb.store.articles_using(cues.words, pool)
    return candidate_features(cues, found.dense, found.keyword, article_of, articles, used)


def _article_cosines(
    kb: KnowledgeBase, article_ids: list[str], vector: np.ndarray | None
) -> dict[str, float]:
    """Cosine of the query vector and each article's mean passage vector, where both exist."""
    if vector is None or not article_ids:
        return {}
    index = kb.article_index()
    vids = np.array([article_vector_id(a) for a in article_ids], dtype=np.int64)
    held = index.contains(vids)
    try:
        vectors = index.vectors(vids[held])
    except KeyError:  # an article removed while we read: its cosine is simply unknown
        return {}
    held_ids = [a for a, h in zip(article_ids, held, strict=True) if h]
    scores = vectors @ np.asarray(vector, dtype=np.float32).reshape(-1)
    return {a: float(s) for a, s in zip(held_ids, scores, strict=True)}


def _hits(kb: KnowledgeBase, order: list[tuple[int, float]], found: Rankings) -> list[Hit]:
    """Hits for ranked passage ids, with each ranking's score and rank of the passage."""
    passages = kb.store.get_passages(pid for pid, _ in order)
    dense_at = {pid: (rank, score) for rank, (pid, score) in enumerate(found.dense, start=1)}
    keyword_at = {pid: (rank, score) for rank, (pid, score) in enumerate(found.keyword, start=1)}
    hits = []
    for pid, score in order:
        stored = passages.get(pid)
        if stored is None:  # deleted between ranking and reading
            continue
        d_rank, d_score = dense_at.get(pid, (None, None))
        k_rank, k_score = keyword_at.get(pid, (None, None))
        p = stored.passage
        hits.append(
            Hit(
                pid,
                p.article_id,
                stored.url,
                stored.title,
                stored.source,
                stored.published,
                p.heading,
                p.text,
                p.start,
                p.end,
                float(score),
                d_score,
                k_score,
                d_rank,
                k_rank,
            )
        )
    return hits


def related(kb: KnowledgeBase, article_id: str, k: int = 5) -> list[RelatedArticle]:
    """The ``k`` stored articles most similar to ``article_id``, never itself or a copy of it."""
    stored = kb.store.get_article(article_id)
    own_shingles = shingle_hashes(stored.article.body)
    found: list[RelatedArticle] = []
    for other_id, similarity in kb.nearest_articles(article_id, k + 6):
        if other_id == article_id:
            continue
        other = kb.store.get_article(other_id).article
        if overlap(own_shingles, shingle_hashes(other.body)) >= DUPLICATE_OVERLAP:
            continue
        found.append(
            RelatedArticle(
                other_id,
                other.url,
                other.title,
                other.source,
                other.published,
                round(float(similarity), 4),
            )
        )
        if len(found) == k:
            break
    return found
