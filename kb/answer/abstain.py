"""Features of a whole question that say whether the corpus answers it at all.

A question about a name or an event the corpus never mentions still retrieves something: the
nearest passage about something else. What gives it away is that the question's rarest words are
absent from the corpus or from every article retrieved for it, that the figures it states appear
in none of those articles, and that no candidate sentence fits well. Article-level signals read
every candidate article, not only the best sentence's: a right answer's sentence may come from
another article than the one the question is about.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from kb.answer.candidates import Article, Sentence
from kb.answer.features import Evidence
from kb.answer.question import Intent, among
from kb.answer.words import STOPWORDS, matches, stem, weighted_overlap, words_of
from kb.search import Hit

# The question's rarest words read by ``rare_covered``.
RARE_TERMS = 3

_CAPITALISED = re.compile(r"(?<![.?!]\s)(?<!^)\b[A-Z][\w-]+")


@dataclass
class QuestionEvidence:
    """The question-level evidence the answerable features read."""

    intent: Intent
    hits: list[Hit]
    ranked: list[tuple[float, Sentence]]
    evidence: Evidence
    counts: dict[str, int]  # passages using each of the question's words
    timed: bool  # the hits were found within the time the question names

    @cached_property
    def articles(self) -> list[Article]:
        """The candidate articles, each once, in retrieval order."""
        seen: dict[str, Article] = {}
        for _, sentence in self.ranked:
            seen.setdefault(sentence.article_id, sentence.article)
        return sorted(seen.values(), key=lambda article: article.rank)


def _content_words(q: QuestionEvidence) -> list[str]:
    return [w for w in words_of(q.intent.text) if w not in STOPWORDS and w.isalpha()]


def best_sentence(q: QuestionEvidence) -> float:
    """The sentence model's probability for the best candidate."""
    return q.ranked[0][0] if q.ranked else 0.0


def best_dense(q: QuestionEvidence) -> float:
    """The best cosine of the question and any retrieved passage."""
    return max((h.dense_score or 0.0 for h in q.hits), default=0.0)


def keyword_matched(q: QuestionEvidence) -> float:
    """Whether full-text search matched anything at all."""
    return float(any(h.keyword_rank is not None for h in q.hits))


def unknown_words(q: QuestionEvidence) -> float:
    """Share of the question's content words that no stored passage uses."""
    words = _content_words(q)
    if not words:
        return 0.0
    return sum(1 for w in words if q.counts.get(w, 0) == 0) / len(words)


def unknown_name(q: QuestionEvidence) -> float:
    """Whether a capitalised word of the question (a name, mostly) is absent from the corpus."""
    for match in _CAPITALISED.finditer(q.intent.text):
        word = match.group(0).lower()
        if "-" not in word and q.counts.get(word, 1) == 0:
            return 1.0
    return 0.0


def rare_missing(q: QuestionEvidence) -> float:
    """Weight of the rarest question term the best article lacks, over the rarest term's."""
    if not q.ranked:
        return 1.0
    weights = q.evidence.weights
    top = max(weights.values(), default=0.0)
    if not top:
        return 0.0
    article_terms = q.ranked[0][1].article.terms
    missing = [w for t, w in weights.items() if not matches(t, article_terms)]
    return max(missing, default=0.0) / top


def top_dense(q: QuestionEvidence) -> float:
    """Cosine of the question and the best-ranked sentence (how well the answer itself fits)."""
    return q.evidence.dense.get(q.ranked[0][1].key, 0.0) if q.ranked else 0.0


def top_overlap(q: QuestionEvidence) -> float:
    """IDF-weighted share of the question's words that the best-ranked sentence and its
    neighbours use."""
    if not q.ranked:
        return 0.0
    best = q.ranked[0][1]
    terms = q.evidence.neighbour_terms(best)
    return weighted_overlap(q.intent.terms, terms, q.evidence.weights)


def best_margin(q: QuestionEvidence) -> float:
    """How far the best candidate's weight stands above the runner-up's."""
    if len(q.ranked) < 2:
        return best_sentence(q)
    return q.ranked[0][0] - q.ranked[1][0]


def time_missed(q: QuestionEvidence) -> float:
    """Whether the question names a time and nothing stored was published then."""
    return float(q.intent.time is not None and not q.timed)


def time_ahead(q: QuestionEvidence) -> float:
    """Whether the time the question names has not begun yet."""
    span, today = q.intent.time, q.intent.today
    return float(span is not None and today is not None and span.since > today)


def article_coverage(q: QuestionEvidence) -> float:
    """IDF-weighted share of the question's words that the best sentence's article uses."""
    if not q.ranked:
        return 0.0
    weights = q.evidence.weights
    return weighted_overlap(set(weights), q.ranked[0][1].article.terms, weights)


def names_covered(q: QuestionEvidence) -> float:
    """Share of the question's known entities that the best article names (1 when none)."""
    if not q.intent.entities or not q.ranked:
        return 1.0
    article = q.ranked[0][1].article
    # A name counts as covered under any of its aliases ("U.S." for United States): the
    # article's sentences carry the gazetteer's canonical names.
    named = {n.name for _, s in q.ranked if s.article is article for n in s.names}
    found = sum(
        1
        for name in q.intent.entities
        if name in named or stem(name.lower().split()[0]) in article.terms
    )
    return found / len(q.intent.entities)


def _most_held(q: QuestionEvidence, items: list, held: Callable[[object, Article], bool]) -> float:
    """The largest share of ``items`` that one candidate article holds."""
    return max(
        (sum(1 for item in items if held(item, a)) / len(items) for a in q.articles),
        default=0.0,
    )


def best_coverage(q: QuestionEvidence) -> float:
    """The most any candidate article covers of the question's words, IDF-weighted (the best
    sentence may sit in another article than the one the question is about)."""
    weights = q.evidence.weights
    return max((weighted_overlap(set(weights), a.terms, weights) for a in q.articles), default=0.0)


def rare_covered(q: QuestionEvidence) -> float:
    """The most any candidate article uses of the question's RARE_TERMS rarest words: a
    question about something absent names it with words no article near it has."""
    weights = q.evidence.weights
    rarest = sorted(weights, key=lambda t: (-weights[t], t))[:RARE_TERMS]
    if not rarest:
        return 1.0
    return _most_held(q, rarest, lambda term, article: matches(term, article.terms))


def figures_found(q: QuestionEvidence) -> float:
    """The most any candidate article states of the figures the question states (0 when it
    states none): a question's own figures come from the article it is about."""
    stated = q.intent.stated_values
    if not stated:
        return 0.0
    return _most_held(q, stated, lambda value, article: among(value, article.values))


def states_figures(q: QuestionEvidence) -> float:
    """Whether the question states figures of its own."""
    return float(bool(q.intent.stated_values))


def question_length(q: QuestionEvidence) -> float:
    """The log of the number of content words (short questions match by chance less often)."""
    return math.log1p(len(_content_words(q)))


ANSWERABLE_FEATURES: tuple[Callable[[QuestionEvidence], float], ...] = (
    best_sentence,
    best_dense,
    keyword_matched,
    unknown_words,
    unknown_name,
    rare_missing,
    article_coverage,
    names_covered,
    question_length,
    best_coverage,
    rare_covered,
    figures_found,
    states_figures,
    time_missed,
    time_ahead,
)


def answerable_vector(
    intent: Intent,
    hits: list[Hit],
    ranked: list[tuple[float, Sentence]],
    evidence: Evidence,
    counts: dict[str, int],
    timed: bool,
) -> list[float]:
    """Every answerable feature of one question."""
    q = QuestionEvidence(intent, hits, ranked, evidence, counts, timed)
    return [feature(q) for feature in ANSWERABLE_FEATURES]
