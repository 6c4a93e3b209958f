"""Composing the answer: at most three sentences, each figure stated once, every one cited.

An entity answer leads with a name only when the name model says the evidence names it as the
answer; a figure answer states the chosen fact when the fact model is confident and quotes the
sentence otherwise; an explain answer quotes the best sentences with the ones they lean on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ingest.chunking import passage_sentences
from ingest.records import Fact
from ingest.sentences import sentence_spans
from kb.answer.candidates import Sentence
from kb.answer.words import terms_of
from kb.knowledge import KnowledgeBase
from kb.search import Hit
from kb.store import StoredPassage

NOTHING_FOUND = "I found nothing in the stored commentary that answers this question."
MOST_SENTENCES = 3

_SIDED = frozenset({"liquidations", "open_interest", "long_short_ratio", "volume"})
METRIC_LABELS = {
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
    """A short dated answer, the facts it was built from (with citation numbers) and citations."""

    question: str
    answer: str
    kind: str  # "ranking", "figure", "passage" or "none"
    facts: list[tuple[Fact, int]] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)
    as_of: str | None = None  # the date of the commentary the answer relies on
    confidence: float = 0.0  # the answerable model's probability
    earlier: dict[str, object] | None = None  # other dated figures of the same entity and metric

    def to_dict(self) -> dict[str, object]:
        """The answer as the JSON the API returns."""
        return {
            "question": self.question,
            "answer": self.answer,
            "kind": self.kind,
            "as_of": self.as_of,
            "confidence": round(self.confidence, 4),
            "facts": [{**fact.to_dict(), "citation": n} for fact, n in self.facts],
            "earlier": self.earlier,
            "citations": [citation.to_dict() for citation in self.citations],
        }


class CitationBook:
    """The hits as numbered citations, plus any other passage an answer sentence comes from."""

    def __init__(self, kb: KnowledgeBase, hits: list[Hit], k: int) -> None:
        self.kb = kb
        self.hits = hits[:k]
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

    def citations(self, question_terms: set[str]) -> list[Citation]:
        """Every citation, hits first; the list stays within k unless quoted passages need room."""
        found = []
        unquoted = [hit.passage_id for hit in self.hits if hit.passage_id not in self.quoted]
        stored = self.kb.store.get_passages(unquoted) if unquoted else {}
        for n, hit in enumerate(self.hits, start=1):
            span = self.quoted.get(hit.passage_id)
            if span is None:
                held = stored.get(hit.passage_id)
                spans = passage_sentences(held.passage) if held else sentence_spans(hit.text)
                span = _best_span(hit.text, spans, question_terms)
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


def _best_span(text: str, spans: list[tuple[int, int]], terms: set[str]) -> tuple[int, int]:
    """The sentence (of ``spans`` in ``text``) sharing most words with the question."""
    if not spans:
        return 0, len(text)
    return max(spans, key=lambda span: len(terms_of(text[span[0] : span[1]]) & terms))


def quote(sentence: str) -> str:
    """The sentence with closing punctuation."""
    return sentence if sentence.endswith((".", "!", "?", "…")) else sentence + "."


def dated(day: str | None) -> str:
    """The date that opens an answer: "On 2026-01-29: " (the sentence follows as written)."""
    return f"On {day}: " if day else ""


_QUALIFIER_WORDS = {"approx": "about ", "over": "over ", "under": "under ", "exact": ""}
_MAGNITUDES = ((1e12, "trillion"), (1e9, "billion"), (1e6, "million"))
_CURRENCY_SIGNS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


def figure(fact: Fact) -> str:
    """The fact's value in one plain notation: "over $59 million", "4.61%", "4,980 BTC"."""
    value, unit = fact.value, fact.unit
    number = f"{value:,.2f}".rstrip("0").rstrip(".")
    for size, word in _MAGNITUDES:
        if abs(value) >= size:
            number = f"{value / size:,.3f}".rstrip("0").rstrip(".") + f" {word}"
            break
    if unit in _CURRENCY_SIGNS:
        text = f"{_CURRENCY_SIGNS[unit]}{number}"
    elif unit == "%":
        text = f"{number}%"
    elif unit == "x":
        text = f"{number} times"
    elif unit == "count":
        text = number
    else:
        text = f"{number} {unit}"
    return _QUALIFIER_WORDS.get(fact.qualifier, "") + text


def describe(fact: Fact) -> str:
    """One short clause stating a fact with its entity, side and window."""
    label = METRIC_LABELS.get(fact.metric)
    if fact.metric == "fund_flow" and fact.direction in ("in", "out"):
        label = "inflows" if fact.direction == "in" else "outflows"
    window = f" over {fact.window}" if fact.window else ""
    if label is None:
        return f"{figure(fact)}{window}"
    subject = f"{fact.entity} " if fact.entity else ""
    side = f"{fact.side} " if fact.side and fact.metric in _SIDED else ""
    return f"{subject}{side}{label}: {figure(fact)}{window}"


def quoted_answer(sentences: list[Sentence], book: CitationBook, day: str | None) -> str:
    """The sentences in article order, each with its citation, the first after the date."""
    parts = []
    for number, sentence in enumerate(sorted(sentences, key=lambda s: (s.article.rank, s.order))):
        n = book.cite(sentence)
        text = quote(sentence.text)
        if number == 0 and day:
            text = dated(day) + text
        parts.append(f"{text} [{n}]")
    return " ".join(parts)


def fact_answer(fact: Fact, n: int, day: str | None) -> str:
    """The fact stated once, dated and cited as [n]."""
    clause = describe(fact)
    # Upper-case the first letter only: str.capitalize() would lower-case "BTC".
    when = f" (as of {day})" if day else ""
    return f"{clause[:1].upper() + clause[1:]}{when} [{n}]."
