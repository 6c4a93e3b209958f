"""Features of each candidate passage for the learned fusion: its two rankings, its article's, and
how much of the query its article states: the query's rare words anywhere in it, the query's
figures among its stored facts.

Every feature lies in [0, 1] and is a general property of (query, passage, its article); the
fusion model (kb/search/model.py) weighs them. A passage missing from one ranking gets 0 there.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from kb.search.query import QueryCues, stated_among

FEATURES = (
    "keyword",  # min-max normalised BM25 of the passage among the keyword candidates
    "dense",  # min-max normalised cosine of the passage among the dense candidates
    "article_keyword",  # best keyword feature of any candidate passage of the same article
    "article_dense",  # best dense feature of any candidate passage of the same article
    "article_vector",  # min-max normalised cosine of the query and the article's mean vector
    "coverage",  # rarity-weighted share of the query's words the article uses anywhere
    "figure_match",  # share of the query's figures that are values of the article's stored facts
)


@dataclass(frozen=True)
class ArticleView:
    """What the features read of one candidate article."""

    cosine: float = 0.0  # of the query vector and the article's mean passage vector
    fact_values: tuple[float, ...] = ()  # of its stored facts; read only for queries with figures


@dataclass(frozen=True)
class Candidates:
    """The passages both rankings offer for one query, with the features of each."""

    passage_ids: tuple[int, ...]
    matrix: np.ndarray  # one row per passage, one column per name in FEATURES


def normalised(ranking: Sequence[tuple[object, float]]) -> dict:
    """Min-max normalised scores; a ranking whose scores are all equal gives each 1."""
    if not ranking:
        return {}
    scores = [score for _, score in ranking]
    low, span = min(scores), max(scores) - min(scores)
    return {key: (score - low) / span if span else 1.0 for key, score in ranking}


def coverage(
    words: Sequence[str], used: Mapping[str, set[str]], pool: Sequence[str]
) -> dict[str, float]:
    """Per article of ``pool``, the share of the query's words it uses, each weighted by rarity.

    ``used`` maps each word to the pool articles using it. Rarity is measured among the pool
    itself (an IDF over the candidates), so a word every candidate uses ("bitcoin", say) counts
    for little, and a word no candidate uses counts for nothing.
    """
    n = len(pool)
    weights = {w: math.log((n + 1) / len(used[w])) for w in words if used.get(w)}
    total = sum(weights.values())
    if not total:
        return dict.fromkeys(pool, 0.0)
    return {a: sum(weight for w, weight in weights.items() if a in used[w]) / total for a in pool}


def figure_match(cues: QueryCues, fact_values: Sequence[float]) -> float:
    """Share of the query's figures that are values of the article's stored facts."""
    if not cues.figures or not fact_values:
        return 0.0
    return float(stated_among(cues.figures, np.array(fact_values, dtype=np.float64)).mean())


def candidate_features(
    cues: QueryCues,
    dense: Sequence[tuple[int, float]],
    keyword: Sequence[tuple[int, float]],
    article_of: Mapping[int, str],
    articles: Mapping[str, ArticleView],
    used: Mapping[str, set[str]],
) -> Candidates:
    """The feature matrix of every passage in either ranking whose article is known."""
    pids = tuple(
        pid
        for pid in dict.fromkeys([p for p, _ in keyword] + [p for p, _ in dense])
        if article_of.get(pid) in articles
    )
    kw, dn = normalised(keyword), normalised(dense)
    best_kw: dict[str, float] = {}
    best_dn: dict[str, float] = {}
    for pid in pids:
        article = article_of[pid]
        best_kw[article] = max(best_kw.get(article, 0.0), kw.get(pid, 0.0))
        best_dn[article] = max(best_dn.get(article, 0.0), dn.get(pid, 0.0))
    pool = list(best_kw)
    vector = normalised([(a, articles[a].cosine) for a in pool])
    covered = coverage(cues.words, used, pool)
    figures = {a: figure_match(cues, articles[a].fact_values) for a in pool}
    rows = [
        [
            kw.get(pid, 0.0),
            dn.get(pid, 0.0),
            best_kw[a],
            best_dn[a],
            vector[a],
            covered[a],
            figures[a],
        ]
        for pid in pids
        for a in (article_of[pid],)
    ]
    return Candidates(pids, np.array(rows, dtype=np.float64).reshape(len(pids), len(FEATURES)))
