"""Hybrid retrieval: dense (FAISS) and keyword (SQLite FTS5 BM25) scores, fused.

The questions users ask carry a lot of context (names, figures, dates), which keyword search
matches precisely, while dense search catches paraphrase. Each ranking's scores are min-max
normalised over its candidates and mixed as ``KEYWORD_SHARE * keyword + (1 - share) * dense``.
Measured on ../shared/eval with bench/retrieval.py (dev hit@1): dense alone 0.48, BM25 alone 0.98,
reciprocal-rank fusion 0.78 (it lets weak dense ranks outvote BM25), score fusion at 0.7 0.93
with hit@5 1.0 and the best seed-question ranks; 0.8-0.9 gain on dev but lose seed questions.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ingest.dedupe import DUPLICATE_OVERLAP, overlap, shingle_hashes
from kb.errors import KbError
from kb.knowledge import KnowledgeBase
from kb.store import Filters

MODES = ("hybrid", "dense", "keyword")
KEYWORD_SHARE = 0.7
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


def search(kb: KnowledgeBase, query: str, k: int = 10, filters: Filters | None = None,
           mode: str = "hybrid") -> list[Hit]:
    """The ``k`` passages that best answer ``query``, best first."""
    if mode not in MODES:
        raise KbError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if not query or not query.strip():
        raise KbError("the query is empty")
    filters = filters or Filters()
    depth = max(CANDIDATES, k)
    dense: list[tuple[int, float]] = []
    keyword: list[tuple[int, float]] = []
    if mode in ("hybrid", "dense"):
        allowed = kb.store.passage_ids_matching(filters)
        if allowed is None or allowed:
            vector = kb.embedder.encode_query(query)
            dense = kb.nearest_passages(vector, depth, allowed_ids=allowed)
    if mode in ("hybrid", "keyword"):
        keyword = kb.store.keyword_search(query, depth, filters)
    share = {"hybrid": KEYWORD_SHARE, "dense": 0.0, "keyword": 1.0}[mode]
    fused = _fuse(dense, keyword, share)
    top = fused[:k]
    passages = kb.store.get_passages(pid for pid, _ in top)
    dense_at = {pid: (rank, score) for rank, (pid, score) in enumerate(dense, start=1)}
    keyword_at = {pid: (rank, score) for rank, (pid, score) in enumerate(keyword, start=1)}
    hits = []
    for pid, score in top:
        stored = passages.get(pid)
        if stored is None:  # deleted between ranking and reading
            continue
        d_rank, d_score = dense_at.get(pid, (None, None))
        k_rank, k_score = keyword_at.get(pid, (None, None))
        p = stored.passage
        hits.append(Hit(pid, p.article_id, stored.url, stored.title, stored.source,
                        stored.published, p.heading, p.text, p.start, p.end, score,
                        d_score, k_score, d_rank, k_rank))
    return hits


def _fuse(dense: list[tuple[int, float]], keyword: list[tuple[int, float]],
          keyword_share: float) -> list[tuple[int, float]]:
    """Mix min-max normalised scores; a passage missing from one ranking gets 0 there.

    A ranking whose candidates all score the same (one keyword match, say) gives each of them 1:
    min-max would give them 0, as if they had not matched at all.
    """
    mixed: dict[int, float] = {}
    for ranking, weight in ((dense, 1.0 - keyword_share), (keyword, keyword_share)):
        if not ranking or not weight:
            continue
        scores = [score for _, score in ranking]
        low, span = min(scores), max(scores) - min(scores)
        for pid, score in ranking:
            normalised = (score - low) / span if span else 1.0
            mixed[pid] = mixed.get(pid, 0.0) + weight * normalised
    return sorted(mixed.items(), key=lambda item: (-item[1], item[0]))


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
        found.append(RelatedArticle(other_id, other.url, other.title, other.source,
                                    other.published, round(float(similarity), 4)))
        if len(found) == k:
            break
    return found
