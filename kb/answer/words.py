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


def terms_of(text: str) -> frozenset[str]:
    """Stemmed content words of ``text`` (frozen: their prefixes are cached per set)."""
    return frozenset(stem(word) for word in words_of(text) if word not in STOPWORDS)


def matches(term: str, terms: AbstractSet[str]) -> bool:
    """Whether ``term`` is in ``terms``, or prefixes one of them ("hold" ~ "holdin")."""
    return term in terms or _matches(term, terms, _prefixes(frozenset(terms)))


def overlap(terms: AbstractSet[str], other: AbstractSet[str]) -> float:
    """Share of ``terms`` found in ``other``."""
    return share(terms, _found(terms, other)) if terms else 0.0


def weighted_overlap(
    terms: AbstractSet[str], other: AbstractSet[str], weights: Mapping[str, float]
) -> float:
    """Share of the weight of ``terms`` found in ``other`` (weights default to 1)."""
    return weighted_share(terms, _found(terms, other), weights) if terms else 0.0


def _found(terms: AbstractSet[str], other: AbstractSet[str]) -> set[str]:
    """The ``terms`` that ``other`` matches (``matches``)."""
    prefixes = _prefixes(frozenset(other))
    return {term for term in terms if _matches(term, other, prefixes)}


class TermMatcher:
    """Which of a fixed set of terms (a question's) each of many term sets matches, as
    ``matches`` decides, in one pass over the set: candidate sentences and articles are many and
    large, the question's terms few, so each set is read once instead of once per term."""

    def __init__(self, terms: AbstractSet[str]) -> None:
        self._exact = frozenset(terms)
        # A set's word that is a proper prefix (four letters or more) of a term, and a term of
        # four letters or more that is a proper prefix of a set's word, both match.
        self._shorter: dict[str, set[str]] = {}
        for term in terms:
            for k in range(4, len(term)):
                self._shorter.setdefault(term[:k], set()).add(term)
        self._longer = frozenset(term for term in terms if len(term) >= 4)
        self._found: dict[frozenset[str], tuple[frozenset[str], int]] = {}

    def scan(self, other: frozenset[str]) -> tuple[frozenset[str], int]:
        """The terms ``other`` matches, and how many of ``other``'s words match one (memoised)."""
        known = self._found.get(other)
        if known is not None:
            return known
        found: set[str] = set()
        matching = 0
        for word in other:
            hits = [word[:k] for k in range(4, len(word)) if word[:k] in self._longer]
            hits.extend(self._shorter.get(word, ()))
            if word in self._exact:
                hits.append(word)
            found.update(hits)
            matching += bool(hits)
        known = self._found[other] = (frozenset(found), matching)
        return known

    def found(self, other: frozenset[str]) -> frozenset[str]:
        """The terms ``other`` matches."""
        return self.scan(other)[0]


def share(terms: AbstractSet[str], found: AbstractSet[str]) -> float:
    """Share of ``terms`` among ``found``, the ones a set matched (``TermMatcher.found``)."""
    return sum(1 for term in terms if term in found) / len(terms) if terms else 0.0


def weighted_share(
    terms: AbstractSet[str], found: AbstractSet[str], weights: Mapping[str, float]
) -> float:
    """Share of the weight of ``terms`` among ``found`` (weights default to 1)."""
    # fsum is exactly rounded, so the result does not depend on the order a set iterates in
    # (which string hashing changes between processes); a plain sum's last bit would, and the
    # ranker's bins and ties would move with it.
    total = math.fsum([weights.get(term, 1.0) for term in terms])
    if not total:
        return 0.0
    return math.fsum([weights.get(t, 1.0) for t in terms if t in found]) / total


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
