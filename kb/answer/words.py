"""Words of questions and sentences: content terms, a crude stem, and weighted overlap."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

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


def matches(term: str, terms: set[str]) -> bool:
    """Whether ``term`` is in ``terms``, or prefixes one of them ("hold" ~ "holdin")."""
    if term in terms:
        return True
    return len(term) >= 4 and any(
        word.startswith(term) or (len(word) >= 4 and term.startswith(word)) for word in terms
    )


def overlap(terms: set[str], other: set[str]) -> float:
    """Share of ``terms`` found in ``other``."""
    if not terms:
        return 0.0
    return sum(1 for term in terms if matches(term, other)) / len(terms)


def weighted_overlap(terms: set[str], other: set[str], weights: Mapping[str, float]) -> float:
    """Share of the weight of ``terms`` found in ``other`` (weights default to 1)."""
    total = sum(weights.get(term, 1.0) for term in terms)
    if not total:
        return 0.0
    found = sum(weights.get(term, 1.0) for term in terms if matches(term, other))
    return found / total


def idf(document_count: int, total: int) -> float:
    """Smoothed inverse document frequency of a term found in ``document_count`` of ``total``."""
    return math.log((total + 1) / (document_count + 0.5))
