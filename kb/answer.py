"""Answers built only from stored facts and passages, every figure cited to a passage stating it.

The question is read for what it asks (kb/questions.py); the best passages are retrieved
(kb/search.py); then a ranking of entities, a single figure, or the best answering sentences is
assembled from the facts and sentences of those passages. Nothing is generated that no passage says.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ingest.records import Fact
from ingest.sentences import sentence_spans
from kb.answer_articles import rank_articles
from kb.answer_evidence import (
    SUPERLATIVE,
    Reading,
    Sentence,
    article_sentences,
    continues,
    fact_fit,
    figure_fit,
    new_names,
    rank_sentences,
    ranked_facts,
    read_terms,
    restated_premise,
    terms_of,
    type_fits,
)
from kb.answer_similarity import similarities
from kb.knowledge import KnowledgeBase
from kb.questions import Intent, read_question
from kb.search import Hit, search
from kb.store import Filters, StoredPassage

# Below this cosine, with no keyword match either, the best passage is not about the question.
MIN_DENSE_SCORE = 0.30
# Passages retrieved to find candidate articles; articles whose every sentence is considered.
ANSWER_DEPTH = 20
ANSWER_ARTICLES = 3
# An explain answer adds its second-best sentence when it scores at least this share of the best.
EXPLAIN_SECOND_SHARE = 0.5
EXPLAIN_SENTENCES = 3
NOTHING_FOUND = "I found nothing in the stored commentary that answers this question."

_METRIC_LABELS = {
    "liquidations": "liquidations",
    "liquidated_traders": "traders liquidated",
    "open_interest": "open interest",
    "funding_rate": "funding rate",
    "long_short_ratio": "long/short ratio",
    "price": "price",
    "price_change": "price change",
    "market_cap": "market capitalisation",
    "dominance": "dominance",
    "volume": "volume",
    "fund_flow": "fund flows",
    "aum": "assets under management",
    "holdings": "holdings",
    "purchase": "purchase",
    "supply": "supply",
    "tvl": "total value locked",
    "exploit_loss": "exploit losses",
    "options_notional": "options notional",
    "put_call_ratio": "put/call ratio",
    "exchange_flow": "exchange flows",
    "exchange_reserve": "exchange reserves",
    "transfer": "transfer",
    "interest_rate": "interest rate",
    "inflation": "inflation",
    "other": "figure",
}


@dataclass
class Citation:
    """A passage an answer cites as [n]; ``highlight`` is the answering sentence inside ``text``."""

    n: int
    passage_id: int
    article_id: str
    url: str | None
    title: str
    source: str | None
    published: str | None
    text: str
    start: int
    end: int
    highlight: list[int]
    score: float

    def to_dict(self) -> dict[str, object]:
        """The citation as JSON-ready data."""
        return dict(vars(self))


@dataclass
class Answer:
    """A short answer, the facts it was built from (each with its citation number) and citations."""

    question: str
    answer: str
    kind: str  # "ranking", "figure", "passage" or "none"
    facts: list[tuple[Fact, int]] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        """The answer as the JSON the API returns."""
        return {
            "question": self.question,
            "answer": self.answer,
            "kind": self.kind,
            "facts": [{**fact.to_dict(), "citation": n} for fact, n in self.facts],
            "citations": [citation.to_dict() for citation in self.citations],
        }


class _CitationBook:
    """The hits as numbered citations, plus any other passage an answer sentence comes from."""

    def __init__(self, kb: KnowledgeBase, hits: list[Hit], k: int) -> None:
        self.kb = kb
        self.hits = hits[:k]
        self.k = k
        self.extra: list[StoredPassage] = []
        self.quoted: dict[int, tuple[int, int]] = {}  # passage id -> highlighted span

    def cite(self, sentence: Sentence) -> int:
        """The citation number of the passage holding ``sentence`` (added when not a hit)."""
        self.quoted.setdefault(sentence.passage_id, sentence.span)
        for n, hit in enumerate(self.hits, start=1):
            if hit.passage_id == sentence.passage_id:
                return n
        for n, stored in enumerate(self.extra, start=len(self.hits) + 1):
            if stored.id == sentence.passage_id:
                return n
        stored = self.kb.store.get_passages([sentence.passage_id])[sentence.passage_id]
        self.extra.append(stored)
        return len(self.hits) + len(self.extra)

    def citations(self, reading: Reading) -> list[Citation]:
        """Every citation, hits first; the list stays within k unless quoted passages need room."""
        found = []
        for n, hit in enumerate(self.hits, start=1):
            span = self.quoted.get(hit.passage_id) or _best_span(hit.text, reading)
            found.append(
                Citation(
                    n,
                    hit.passage_id,
                    hit.article_id,
                    hit.url,
                    hit.title,
                    hit.source,
                    hit.published,
                    hit.text,
                    hit.start,
                    hit.end,
                    list(span),
                    round(hit.score, 6),
                )
            )
        for n, stored in enumerate(self.extra, start=len(self.hits) + 1):
            p = stored.passage
            found.append(
                Citation(
                    n,
                    stored.id,
                    p.article_id,
                    stored.url,
                    stored.title,
                    stored.source,
                    stored.published,
                    p.text,
                    p.start,
                    p.end,
                    list(self.quoted[stored.id]),
                    0.0,
                )
            )
        return found


def answer_question(
    kb: KnowledgeBase, question: str, k: int = 5, filters: Filters | None = None
) -> Answer:
    """Answer ``question`` from the knowledge base, citing up to ``k`` passages."""
    hits = search(kb, question, k=max(k, ANSWER_DEPTH), filters=filters)
    if not hits or not _relevant(hits[0], question):
        return Answer(question, NOTHING_FOUND, "none")
    intent = read_question(question)
    reading = read_terms(question, intent)
    candidates = rank_articles(kb, hits, reading)
    articles = [candidate.article_id for candidate in candidates][:ANSWER_ARTICLES]
    sentences = article_sentences(kb, articles)
    if intent.kind == "explain":
        reading.similarity = similarities(kb, question, sentences)
    ranked = rank_sentences(sentences, reading)
    if not ranked:
        return Answer(question, NOTHING_FOUND, "none")
    # Passages of the answering articles come first, each article's in retrieval order.
    order = {article_id: n for n, article_id in enumerate(articles)}
    hits = sorted(hits, key=lambda hit: order.get(hit.article_id, len(order)))
    book = _CitationBook(kb, hits, k)
    if intent.kind == "ranking":
        answer = _entity_answer(question, reading, ranked, book)
    elif intent.kind == "figure":
        answer = _figure_answer(question, reading, ranked, book)
    else:
        answer = _explain_answer(question, reading, ranked, book)
    answer.citations = book.citations(reading)
    return answer


def _relevant(hit: Hit, question: str) -> bool:
    """Close in meaning, or sharing at least two of the question's content words."""
    if (hit.dense_score or 0.0) >= MIN_DENSE_SCORE:
        return True
    return hit.keyword_rank is not None and len(terms_of(question) & terms_of(hit.text)) >= 2


def _entity_answer(
    question: str, reading: Reading, ranked: list[tuple[float, Sentence]], book: _CitationBook
) -> Answer:
    """The named entity of the best sentence, then that sentence as evidence."""
    intent = reading.intent
    _, best = ranked[0]
    n = book.cite(best)
    names = new_names(best, reading)
    typed = [name for name in names if name[1] and type_fits(name[1], intent.entity_type)]
    ranking = ranked_facts(best, intent)[:4]
    if ranking:
        lead = _ranking_lead(ranking, intent, n)
        text = f"{lead} {_quote(best.text)} [{n}]"
        return Answer(question, text, "ranking", facts=[(f, n) for f in ranking])
    chosen = _nearest_superlative(best.text, typed or names)[:1]
    lead = f"{chosen[0][0]}: " if chosen else ""
    facts = [(f, n) for f in best.facts if not intent.states(f.value)]
    return Answer(question, f"{lead}{_quote(best.text)} [{n}]", "ranking", facts=facts)


def _nearest_superlative(
    text: str, names: list[tuple[str, str | None, int]]
) -> list[tuple[str, str | None, int]]:
    """Names ordered by how close they stand to a superlative ("BingX recording the strongest")."""
    marks = [m.start() for m in SUPERLATIVE.finditer(text)]
    if not marks:
        return names

    def distance(name: tuple[str, str | None, int]) -> int:
        start, end = name[2], name[2] + len(name[0])
        return min(max(mark - end, start - mark, 0) for mark in marks)

    return sorted(names, key=distance)  # stable: ties keep the sentence's order


def _ranking_lead(ranking: list[Fact], intent: Intent, n: int) -> str:
    first, rest = ranking[0], ranking[1:]
    text = f"{first.entity} led with {_figure_phrase(first, intent.metric)}"
    others = [f"{fact.entity} at {fact.text}" for fact in rest]
    text += ", ahead of " + (
        others[0] if len(others) == 1 else ", ".join(others[:-1]) + " and " + others[-1]
    )
    return text + f" [{n}]."


def _figure_answer(
    question: str, reading: Reading, ranked: list[tuple[float, Sentence]], book: _CitationBook
) -> Answer:
    """The best-fitting figure, stated with what it measures, then its sentence as evidence."""
    _, best = ranked[0]
    n = book.cite(best)
    facts = sorted(best.facts, key=lambda f: figure_fit(f, best, reading), reverse=True)
    if not facts or fact_fit(facts[0], reading.intent) < -1.0:
        return Answer(question, f"{_quote(best.text)} [{n}]", "passage")
    fact = facts[0]
    text = f"{_describe(fact)} [{n}]. {_quote(best.text)} [{n}]"
    return Answer(question, text, "figure", facts=[(fact, n)])


def _explain_answer(
    question: str, reading: Reading, ranked: list[tuple[float, Sentence]], book: _CitationBook
) -> Answer:
    """The best answering sentences, each followed by the sentence continuing it, in order."""
    premise = restated_premise([s for _, s in ranked], reading)
    if premise:
        return _quoted_answer(question, premise, book)
    top_score = ranked[0][0]
    by_place = {(s.article_rank, s.order): s for _, s in ranked}
    best = ranked[0][1]
    second = [s for score, s in ranked[1:2] if score >= EXPLAIN_SECOND_SHARE * top_score]
    premise = by_place.get((0, reading.context_order)) if reading.why else None
    sequel = by_place.get((0, premise.order + 1)) if premise is not None else None
    # "… spot prices have avoided a breakdown. This suggests …": the premise's own sequel.
    sequel = sequel if sequel is not None and continues(sequel) else None
    chosen: list[Sentence] = []
    for sentence in [best, sequel, *_linked(best, by_place), *second]:
        if sentence is not None and sentence not in chosen:
            chosen.append(sentence)
    for sentence in _linked(second[0], by_place) if second else []:
        if sentence is not None and sentence not in chosen:
            chosen.append(sentence)
    return _quoted_answer(question, chosen[:EXPLAIN_SENTENCES], book)


def _quoted_answer(question: str, chosen: list[Sentence], book: _CitationBook) -> Answer:
    """The chosen sentences in article order, each with its citation."""
    chosen = sorted(chosen, key=lambda s: (s.article_rank, s.order))
    parts, facts = [], []
    for sentence in chosen:
        n = book.cite(sentence)
        parts.append(f"{_quote(sentence.text)} [{n}]")
        facts.extend((f, n) for f in sentence.facts)
    return Answer(question, " ".join(parts), "passage", facts=facts)


def _linked(sentence: Sentence, by_place: dict[tuple[int, int], Sentence]) -> list[Sentence]:
    """The sentences a quoted one leans on: the next if it continues it, the one it refers to."""
    place = (sentence.article_rank, sentence.order)
    before = by_place.get((place[0], place[1] - 1))
    after = by_place.get((place[0], place[1] + 1))
    linked = [after] if after is not None and continues(after) else []
    return linked + ([before] if before is not None and continues(sentence) else [])


def _best_span(text: str, reading: Reading) -> tuple[int, int]:
    """The sentence of a passage sharing most words with the question."""
    spans = sentence_spans(text)
    if not spans:
        return 0, len(text)
    return max(spans, key=lambda span: len(terms_of(text[span[0] : span[1]]) & reading.terms))


def _quote(sentence: str) -> str:
    return sentence if sentence.endswith((".", "!", "?", "…")) else sentence + "."


def _figure_phrase(fact: Fact, asked_metric: str | None = None) -> str:
    """``over $59 million in long liquidations``: the figure as written, with what it measures."""
    # An unlabelled figure ranked with labelled ones measures what the question asks.
    metric = asked_metric if fact.metric == "other" and asked_metric else fact.metric
    label = _METRIC_LABELS.get(metric, "figure")
    if fact.metric == "fund_flow" and fact.direction in ("in", "out"):
        label = "inflows" if fact.direction == "in" else "outflows"
    side = f"{fact.side} " if fact.side and fact.metric in ("liquidations", "open_interest") else ""
    return (
        f"{fact.text} in {side}{label}"
        if fact.unit not in ("%", "x")
        else (f"{label} of {fact.text}")
    )


def _describe(fact: Fact) -> str:
    """One short clause stating a fact with its entity, side and window."""
    label = _METRIC_LABELS.get(fact.metric, "figure")
    if fact.metric == "fund_flow" and fact.direction in ("in", "out"):
        label = "inflows" if fact.direction == "in" else "outflows"
    window = f" over {fact.window}" if fact.window else ""
    if label == "figure":
        clause = f"{fact.text}{window}"
    else:
        subject = f"{fact.entity} " if fact.entity else ""
        side = f"{fact.side} " if fact.side else ""
        clause = f"{subject}{side}{label}: {fact.text}{window}"
    # Upper-case the first letter only: str.capitalize() would lower-case "$1.2B" and "BTC".
    return clause[:1].upper() + clause[1:]
