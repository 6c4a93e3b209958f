"""Answers built only from stored facts and passages, every figure cited to a passage stating it.

The question is read for what it asks (``question``); the best passages are retrieved
(kb/search.py), restricted to the time the question names when it names one; every sentence of
the first retrieved articles becomes a candidate (``candidates``, ``evidence``); learned models
(``model``, fit by ``training``) score the sentences, and the names and facts in the best one
(``features``); ``compose`` writes the dated, cited answer, or says the corpus does not know.
"""

from __future__ import annotations

import math
import threading
import weakref
from dataclasses import dataclass, replace
from datetime import date
from urllib.parse import urlencode

from ingest.gazetteer import Gazetteer, load_gazetteer
from ingest.records import Fact
from kb.answer.abstain import answerable_vector
from kb.answer.candidates import CANDIDATE_ARTICLES, Name, Sentence, new_names
from kb.answer.compose import (
    MOST_SENTENCES,
    NOTHING_FOUND,
    Answer,
    Citation,
    CitationBook,
    fact_answer,
    quoted_answer,
)
from kb.answer.evidence import gather, term_weights
from kb.answer.features import Evidence, fact_vector, name_vector, refers_back, sentence_matrix
from kb.answer.model import Ranker, Thresholds, feature_names, load_ranker
from kb.answer.question import Intent, read_question
from kb.answer.similarity import SentenceVectors
from kb.answer.words import overlap
from kb.knowledge import KnowledgeBase
from kb.search import Hit, search
from kb.store import Filters

__all__ = [
    "MAX_K",
    "MAX_QUESTION_CHARS",
    "NOTHING_FOUND",
    "Answer",
    "Citation",
    "Tools",
    "answer_question",
    "tools_for",
]

# The longest question read and the most passages cited (or searched), for every caller.
MAX_QUESTION_CHARS = 1000
MAX_K = 50

# Passages retrieved to find the candidate articles, and within a time the question names.
ANSWER_DEPTH = 20
TIMED_DEPTH = 5
# The runner-ups an answer may quote are drawn from the best sentences up to this rank.
RUNNER_UP_POOL = 6


@dataclass
class Tools:
    """What answering needs besides the knowledge base, loaded once per knowledge base."""

    gazetteer: Gazetteer
    ranker: Ranker
    vectors: SentenceVectors


_tools: weakref.WeakKeyDictionary[KnowledgeBase, Tools] = weakref.WeakKeyDictionary()
_tools_lock = threading.Lock()


def tools_for(kb: KnowledgeBase) -> Tools:
    """The shipped gazetteer, the fitted ranker and a sentence-vector cache for ``kb``."""
    with _tools_lock:
        tools = _tools.get(kb)
        if tools is None:
            gazetteer = getattr(kb, "gazetteer", None) or load_gazetteer()
            tools = Tools(gazetteer, load_ranker(feature_names()), SentenceVectors())
            _tools[kb] = tools
        return tools


@dataclass
class Scored:
    """Everything one question's candidates scored to, before the answer is written."""

    intent: Intent
    hits: list[Hit]
    sentences: list[tuple[float, Sentence]]  # best first
    evidence: Evidence | None
    answerable: float
    counts: dict[str, int]
    timed: bool  # the hits were restricted to the time the question names


def retrieve(
    kb: KnowledgeBase, intent: Intent, k: int, filters: Filters | None
) -> tuple[list[Hit], bool]:
    """Hits for the question, and whether commentary published in the time it names was found.

    A named time boosts rather than restricts: most commentary carries no date, so the
    question's own article may well be undated. The best passage published then joins the
    candidates right behind the best few articles, and the ranker weighs it (``in_time``).
    """
    filters = filters or Filters()
    depth = max(k, ANSWER_DEPTH)
    hits = search(kb, intent.text, k=depth, filters=filters)
    span = intent.time
    if span is None or filters.since is not None or filters.until is not None:
        return hits, False
    timed = replace(filters, since=span.since.isoformat(), until=span.until.isoformat())
    inside = search(kb, intent.text, k=TIMED_DEPTH, filters=timed)
    if not inside:
        return hits, False
    leading = list(dict.fromkeys(hit.article_id for hit in hits))[: CANDIDATE_ARTICLES - 1]
    if inside[0].article_id in leading:
        return hits, True
    at = next((n for n, hit in enumerate(hits) if hit.article_id not in leading), len(hits))
    extra = [hit for hit in inside if hit.article_id == inside[0].article_id]
    rest = [hit for hit in hits[at:] if hit.article_id != inside[0].article_id]
    return hits[:at] + extra + rest, True


def score_question(
    kb: KnowledgeBase,
    question: str,
    tools: Tools,
    k: int = 5,
    filters: Filters | None = None,
    today: date | None = None,
    ranker: Ranker | None = None,
) -> Scored:
    """Read, retrieve and score every candidate sentence of ``question``."""
    ranker = ranker or tools.ranker
    intent = read_question(question, tools.gazetteer, today)
    hits, timed = retrieve(kb, intent, k, filters)
    weights, counts = term_weights(kb, question)
    if not hits:
        return Scored(intent, hits, [], None, 0.0, counts, timed)
    _, sentences, evidence = gather(kb, intent, hits, tools.gazetteer, tools.vectors, weights)
    rows = sentence_matrix(intent, sentences, evidence)
    scored = rank_sentences(ranker, rows, sentences)
    answerable = ranker.answerable.probability(
        answerable_vector(intent, hits, scored, evidence, counts, timed)
    )
    return Scored(intent, hits, scored, evidence, answerable, counts, timed)


def rank_sentences(
    ranker: Ranker, rows: list[list[float]], sentences: list[Sentence]
) -> list[tuple[float, Sentence]]:
    """The candidates best first, each with its share of the ranking's softmax weight."""
    raw = ranker.sentences.scores(rows)
    if not raw:
        return []
    top = max(raw)
    weights = [math.exp(score - top) for score in raw]
    total = sum(weights)
    ranked = [(w / total, s) for w, s in zip(weights, sentences, strict=True)]
    ranked.sort(key=lambda item: (-item[0], item[1].article.rank, item[1].order))
    return ranked


def answer_question(
    kb: KnowledgeBase,
    question: str,
    k: int = 5,
    filters: Filters | None = None,
    today: date | None = None,
    tools: Tools | None = None,
) -> Answer:
    """Answer ``question`` from the knowledge base, citing up to ``k`` passages."""
    tools = tools or tools_for(kb)
    scored = score_question(kb, question, tools, k, filters, today)
    return compose_answer(kb, question, scored, tools.ranker, k)


def compose_answer(
    kb: KnowledgeBase, question: str, scored: Scored, ranker: Ranker, k: int
) -> Answer:
    """The answer ``scored`` supports, or the corpus's "I don't know"."""
    if not scored.sentences or scored.answerable < ranker.thresholds.answerable:
        return Answer(question, NOTHING_FOUND, "none", confidence=scored.answerable)
    intent = scored.intent
    best_p, best = scored.sentences[0]
    # Passages of the answering article come first, each article's in retrieval order.
    hits = sorted(scored.hits, key=lambda hit: hit.article_id != best.article_id)
    book = CitationBook(kb, hits, k)
    day = (best.article.published or "")[:10] or None
    chosen = _explaining(scored.sentences, best_p, best, ranker.thresholds, intent)
    facts = [(f, book.cite(s)) for s in chosen for f in s.facts if not intent.states(f.value)]
    answer = Answer(question, quoted_answer(chosen, book, day), "passage", facts=facts)
    if intent.kind == "ranking":
        name = _lead_name(intent, best, ranker)
        if name is not None:
            when = f" ({day})" if day else ""
            answer = Answer(
                question,
                f"{name.name}{when}: {quoted_answer(chosen, book, None)}",
                "ranking",
                facts=facts,
            )
    elif intent.kind == "figure":
        fact = _lead_fact(intent, best, ranker)
        if fact is not None:
            # The lead states the best sentence's figure; quoting that sentence would state it
            # twice, so only the other chosen sentences follow (the citation highlights it).
            n = book.cite(best)
            rest = [s for s in chosen if s is not best]
            text = fact_answer(fact, n, day)
            if rest:
                text += " " + quoted_answer(rest, book, None)
            answer = Answer(question, text, "figure", facts=[(fact, n)])
    answer.as_of = day
    answer.confidence = scored.answerable
    answer.citations = book.citations(intent.terms)
    if answer.facts:
        answer.earlier = _other_figures(kb, answer.facts[0][0])
    return answer


def _lead_name(intent: Intent, best: Sentence, ranker: Ranker) -> Name | None:
    """The name of the best sentence the name model takes for the answer, if confident."""
    names = new_names(best, intent.named, intent.text)
    if not names:
        return None
    p, name = max(
        ((ranker.names.probability(name_vector(intent, n, best)), n) for n in names),
        key=lambda item: item[0],
    )
    return name if p >= ranker.thresholds.lead else None


def _lead_fact(intent: Intent, best: Sentence, ranker: Ranker) -> Fact | None:
    """The figure of the best sentence the fact model takes for the answer, if confident."""
    facts = [f for f in best.facts if not intent.states(f.value)]
    if not facts:
        return None
    p, fact = max(
        ((ranker.facts.probability(fact_vector(intent, f, best)), f) for f in facts),
        key=lambda item: item[0],
    )
    return fact if p >= ranker.thresholds.lead else None


def _explaining(
    ranked: list[tuple[float, Sentence]],
    best_p: float,
    best: Sentence,
    thresholds: Thresholds,
    intent: Intent,
) -> list[Sentence]:
    """The best sentence, the sentence it leans on or that continues it, and runner-ups.

    A runner-up must reach ``thresholds.second`` of the best sentence's weight and state no
    figure a chosen sentence already gives (besides the question's own); among those, the ones
    adding most beside what is already chosen come first (weight share minus
    ``thresholds.diversity`` times the largest word overlap with a chosen sentence)."""
    by_place = {(s.article_id, s.order): s for _, s in ranked}
    chosen = [best]
    after = by_place.get((best.article_id, best.order + 1))
    before = by_place.get((best.article_id, best.order - 1))
    if after is not None and refers_back(after.text):
        chosen.append(after)
    if before is not None and refers_back(best.text):
        chosen.insert(0, before)
    pool = [
        (p / best_p, s)
        for p, s in ranked[1:RUNNER_UP_POOL]
        if p >= thresholds.second * best_p and s not in chosen
    ]
    while len(chosen) < MOST_SENTENCES and pool:
        given = {figure for s in chosen for figure in _answer_figures(s, intent)}
        pool = [item for item in pool if not _answer_figures(item[1], intent) & given]
        if not pool:
            break
        pick = max(
            pool,
            key=lambda item: (
                item[0]
                - thresholds.diversity * max(overlap(item[1].terms, c.terms) for c in chosen)
            ),
        )
        chosen.append(pick[1])
        pool.remove(pick)
    return chosen[:MOST_SENTENCES]


def _answer_figures(sentence: Sentence, intent: Intent) -> set[tuple[float, str]]:
    """The (value, unit) of each figure the sentence states that the question does not."""
    return {(round(f.value, 6), f.unit) for f in sentence.facts if not intent.states(f.value)}


def _other_figures(kb: KnowledgeBase, fact: Fact) -> dict[str, object] | None:
    """How many other stored figures give the same entity and metric, and where to list them."""
    if not fact.entity or fact.metric == "other":
        return None
    stored = kb.store.query_facts(Filters(entity=fact.entity, metric=fact.metric), side=fact.side)
    others = [f for f in stored if f.article_id != fact.article_id and f.as_of]
    if not others:
        return None
    day = fact.as_of
    query = {"entity": fact.entity, "metric": fact.metric}
    if fact.side:
        query["side"] = fact.side
    # An undated answer cannot say which of the others came before it.
    return {
        "count": len(others),
        "earlier": sum(1 for f in others if f.as_of < day) if day else None,
        "later": sum(1 for f in others if f.as_of > day) if day else None,
        "url": "/api/facts?" + urlencode(query),
    }
