"""Words of questions and sentences: content terms, a crude stem, and weighted overlap."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from functools import lru_cache

_WORD = re.compile(r"[a-z0-9]+(?:[.'/][a-z0-9]+)*")
# Function words and the reporting verbs every article uses: they say nothing about the topic.
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "from",
        "with",
        "as",
        "is",
        "was",
        "were",
        "are",
        "be",
        "been",
        "being",
        "did",
        "do",
        "does",
        "which",
        "what",
        "who",
        "whom",
        "whose",
        "why",
        "how",
        "when",
        "where",
        "that",
        "this",
        "these",
        "those",
        "it",
        "its",
        "their",
        "there",
        "than",
        "into",
        "over",
        "under",
        "after",
        "before",
        "during",
        "while",
        "about",
        "according",
        "much",
        "many",
        "more",
        "per",
        "had",
        "has",
        "have",
        "s",
        "said",
        "data",
        "report",
        "reported",
        "showed",
        "shows",
        "show",
        "can",
        "could",
        "would",
        "will",
        "should",
        "may",
        "might",
        "i",
        "you",
        "we",
        "they",
        "he",
        "she",
        "them",
        "his",
        "her",
        "our",
        "your",
        "not",
        "no",
        "yes",
        "if",
        "so",
        "all",
        "any",
        "some",
    ]
)


def stem(word: str) -> str:
    """A crude stem: plural s dropped, then the first six letters ("holdings" ~ "holdin")."""
    if len(word) > 4 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    return word[:6]


def words_of(text: str) -> list[str]:
    """Lower-cased word tokens of ``text`` (numbers kept, "u.s." and "50/50" whole)."""
    return _WORD.findall(text.lower())


def terms_of(text: str) -> set[str]:
    """Stemmed content words of ``text``."""
    return {stem(word) for word in words_of(text) if word not in STOPWORDS}


def matches(term: str, terms: AbstractSet[str]) -> bool:
    """Whether ``term`` is in ``terms``, or prefixes one of them ("hold" ~ "holdin")."""
    return term in terms or _matches(term, terms, _prefixes(frozenset(terms)))


def overlap(terms: AbstractSet[str], other: AbstractSet[str]) -> float:
    """Share of ``terms`` found in ``other``."""
    if not terms:
        return 0.0
    prefixes = _prefixes(frozenset(other))
    return sum(1 for term in terms if _matches(term, other, prefixes)) / len(terms)


def weighted_overlap(
    terms: AbstractSet[str], other: AbstractSet[str], weights: Mapping[str, float]
) -> float:
    """Share of the weight of ``terms`` found in ``other`` (weights default to 1)."""
    # fsum is exactly rounded, so the result does not depend on the order a set iterates in
    # (which string hashing changes between processes); a plain sum's last bit would, and the
    # ranker's bins and ties would move with it.
    total = math.fsum(weights.get(term, 1.0) for term in terms)
    if not total:
        return 0.0
    prefixes = _prefixes(frozenset(other))
    found = math.fsum(weights.get(term, 1.0) for term in terms if _matches(term, other, prefixes))
    return found / total


def _matches(term: str, terms: AbstractSet[str], prefixes: frozenset[str]) -> bool:
    """``matches`` with the proper prefixes of ``terms`` computed (``_prefixes``)."""
    if term in terms:
        return True
    if len(term) < 4:
        return False
    return term in prefixes or any(term[:k] in terms for k in range(4, len(term)))


@lru_cache(maxsize=2048)
def _prefixes(terms: frozenset[str]) -> frozenset[str]:
    """Every proper prefix of four or more letters of the words in ``terms``; sets repeat
    across sentences (an article's terms), so the prefixes are computed once per set."""
    return frozenset(word[:k] for word in terms for k in range(4, len(word)))


def idf(document_count: int, total: int) -> float:
    """Smoothed inverse document frequency of a term found in ``document_count`` of ``total``."""
    return math.log((total + 1) / (document_count + 0.5))
