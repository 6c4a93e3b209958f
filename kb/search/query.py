"""What a search query offers beyond its ranked words: its distinct words and the figures it names.

A terse question has few words for BM25 and the dense model to separate near-duplicate stories
with, but the figures it names are often exactly what the fact extractor stored, written however
the article wrote them ("$125M" in the question, "$125,000,000" in the article). Reading them as
numbers lets retrieval match them against the facts and text of each candidate article.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_WORD = re.compile(r"\w+", re.UNICODE)
# A figure as people type it: digits with separators, then an optional magnitude word or letter.
_FIGURE = re.compile(
    r"(?<![\w.])(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)\s?"
    r"(?P<mag>trillion|billion|million|thousand|tn|bn|mn|[kmbt])?(?!\w)",
    re.IGNORECASE,
)
_MAGNITUDE = {
    "thousand": 1e3, "k": 1e3, "million": 1e6, "mn": 1e6, "m": 1e6,
    "billion": 1e9, "bn": 1e9, "b": 1e9, "trillion": 1e12, "tn": 1e12, "t": 1e12,
}  # fmt: skip
# Whole numbers in this range, written without a magnitude, are years rather than figures.
_YEARS = range(1990, 2100)
# Two figures are the same when they differ by no more than rounding to three digits does.
SAME_FIGURE_TOLERANCE = 0.005


@dataclass(frozen=True)
class QueryCues:
    """The distinct lower-cased words of a query and the figures it names."""

    words: tuple[str, ...] = ()
    figures: tuple[float, ...] = ()


def read_query(query: str) -> QueryCues:
    """The words and figures of a query."""
    words = tuple(dict.fromkeys(w.lower() for w in _WORD.findall(query)))
    return QueryCues(words, read_figures(query))


def read_figures(text: str) -> tuple[float, ...]:
    """The figures in ``text`` as plain numbers ("$1.5 billion" is 1.5e9), years left out."""
    found = []
    for match in _FIGURE.finditer(text):
        value = float(match["num"].replace(",", ""))
        magnitude = (match["mag"] or "").lower()
        if not magnitude and value.is_integer() and int(value) in _YEARS:
            continue
        found.append(value * _MAGNITUDE.get(magnitude, 1.0))
    return tuple(dict.fromkeys(found))


def stated_among(figures: Sequence[float], others: np.ndarray) -> np.ndarray:
    """For each of ``figures``, whether ``others`` hold the same number up to rounding."""
    asked = np.asarray(figures, dtype=np.float64).reshape(-1, 1)
    others = np.asarray(others, dtype=np.float64).reshape(1, -1)
    close = np.abs(others - asked) <= SAME_FIGURE_TOLERANCE * np.maximum(
        np.abs(asked), np.abs(others)
    )
    return close.any(axis=1)
