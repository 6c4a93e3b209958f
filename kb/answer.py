"""Answers built only from stored facts and passages, every figure cited to a passage stating it.

The question is read for what it asks (kb/questions.py); the best passages are retrieved
(kb/search.py); then a ranking of entities, a single figure, or the best answering sentences is
assembled from the facts and sentences of those passages. Nothing is generated that no passage says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ingest.records import Fact
from ingest.sentences import sentence_spans
from kb.knowledge import KnowledgeBase
from kb.questions import Intent, read_question
from kb.search import Hit, search
from kb.store import Filters

# Below this cosine, with no keyword match either, the best passage is not about the question.
MIN_DENSE_SCORE = 0.30
# Passages whose facts and sentences are considered for the answer.
ANSWER_DEPTH = 3
NOTHING_FOUND = "I found nothing in the stored commentary that answers this question."

_WORD = re.compile(r"[a-z0-9]+(?:[.'][a-z0-9]+)*")
_STOPWORDS = frozenset(
    "a an the and or of to in on at by for from with as is was were are be been being did do does "
    "which what who whom whose why how when where that this these those it its their there than "
    "into over under after before during while about according much many most more largest "
    "highest biggest top led lead leading recorded record per".split()
)
_CAUSAL = re.compile(r"\b(?:because|due to|after|amid|driven by|triggered|sparked|caused|"
                     r"following|as a result|led to|prompted|fuell?ed|blamed|attributed|behind|"
                     r"since|thanks to|on the back of)\b", re.IGNORECASE)
_METRIC_LABELS = {
    "liquidations": "liquidations", "liquidated_traders": "traders liquidated",
    "open_interest": "open interest", "funding_rate": "funding rate",
    "long_short_ratio": "long/short ratio", "price": "price", "price_change": "price change",
    "market_cap": "market capitalisation", "dominance": "dominance", "volume": "volume",
    "fund_flow": "fund flows", "aum": "assets under management", "holdings": "holdings",
    "purchase": "purchase", "supply": "supply", "tvl": "total value locked",
    "exploit_loss": "exploit losses", "options_notional": "options notional",
    "put_call_ratio": "put/call ratio", "exchange_flow": "exchange flows",
    "exchange_reserve": "exchange reserves", "transfer": "transfer",
    "interest_rate": "interest rate", "inflation": "inflation", "other": "figure",
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


@dataclass
class _Candidate:
    """A passage under consideration, with its sentences and facts."""

    n: int
    hit: Hit
    sentences: list[tuple[int, int]]
    facts: list[Fact]


def answer_question(kb: KnowledgeBase, question: str, k: int = 5,
                    filters: Filters | None = None) -> Answer:
    """Answer ``question`` from the knowledge base, citing up to ``k`` passages."""
    hits = search(kb, question, k=max(k, ANSWER_DEPTH), filters=filters)
    if not hits or not _relevant(hits[0]):
        return Answer(question, NOTHING_FOUND, "none")
    intent = read_question(question)
    terms = _terms(question)
    candidates = [_candidate(kb, n, hit) for n, hit in enumerate(hits[:k], start=1)]
    considered = candidates[:ANSWER_DEPTH]
    answer = None
    if intent.kind == "ranking":
        answer = _ranking_answer(question, intent, considered, terms)
    elif intent.kind == "figure":
        answer = _figure_answer(question, intent, considered, terms)
    if answer is None:
        answer = _sentence_answer(question, intent, considered, terms)
    answer.citations = [_citation(c, answer, terms) for c in candidates]
    return answer


def _relevant(hit: Hit) -> bool:
    return hit.keyword_rank is not None or (hit.dense_score or 0.0) >= MIN_DENSE_SCORE


def _candidate(kb: KnowledgeBase, n: int, hit: Hit) -> _Candidate:
    facts = [fact for fact in kb.store.article_facts(hit.article_id)
             if hit.start <= fact.start and fact.end <= hit.end]
    return _Candidate(n, hit, sentence_spans(hit.text), facts)


def _terms(text: str) -> set[str]:
    """Content words of ``text``, lower-cased, with a crude plural fold."""
    return {_fold(word) for word in _WORD.findall(text.lower()) if word not in _STOPWORDS}


def _fold(word: str) -> str:
    return word[:-1] if len(word) > 4 and word.endswith("s") and not word.endswith("ss") else word


def _sentence_score(sentence: str, terms: set[str], intent: Intent, rank: int) -> float:
    words = _terms(sentence)
    score = len(words & terms) / (len(terms) or 1) + 0.15 / rank
    if intent.kind == "explain" and _CAUSAL.search(sentence):
        score += 0.1
    return score


def _stated(fact: Fact, intent: Intent) -> bool:
    """Whether the question itself states this figure (context, not an answer)."""
    return any(abs(fact.value - value) <= 0.005 * max(abs(value), 1e-9)
               for value in intent.stated_values)


def _fact_score(fact: Fact, candidate: _Candidate, intent: Intent, terms: set[str]) -> float:
    score = 1.0 / candidate.n
    score += 1.0 if intent.metric and fact.metric == intent.metric else 0.0
    score += 0.8 if intent.unit and fact.unit == intent.unit else 0.0
    score -= 0.8 if intent.unit and fact.unit != intent.unit else 0.0
    score += 0.5 if fact.entity and fact.entity in intent.entities else 0.0
    score += 0.4 if intent.side and fact.side == intent.side else 0.0
    score += len(_terms(fact.sentence) & terms) / (len(terms) or 1)
    score -= 3.0 if _stated(fact, intent) else 0.0
    return score


def _figure_answer(question: str, intent: Intent, candidates: list[_Candidate],
                   terms: set[str]) -> Answer | None:
    scored = [(_fact_score(fact, c, intent, terms), fact, c) for c in candidates
              for fact in c.facts]
    if not scored:
        return None
    score, fact, candidate = max(scored, key=lambda item: item[0])
    if score < 1.0 or _stated(fact, intent):
        return None
    lead = f"{_describe(fact)} [{candidate.n}]."
    sentence = fact.sentence.strip()
    text = lead if not sentence else f"{lead} {_quote(sentence)} [{candidate.n}]"
    return Answer(question, text, "figure", facts=[(fact, candidate.n)])


def _ranking_answer(question: str, intent: Intent, candidates: list[_Candidate],
                    terms: set[str]) -> Answer | None:
    top_article = candidates[0].hit.article_id
    pool = [(fact, c) for c in candidates if c.hit.article_id == top_article for fact in c.facts
            if fact.entity and fact.entity_type not in (None, "candidate")
            and (intent.metric is None or fact.metric == intent.metric)
            and (intent.entity_type is None or fact.entity_type == intent.entity_type)
            and (intent.side is None or fact.side in (None, intent.side))
            and not _stated(fact, intent)]
    if not pool:
        return None
    units = [fact.unit for fact, _ in pool]
    unit = "USD" if "USD" in units else max(set(units), key=units.count)
    best: dict[str, tuple[Fact, _Candidate]] = {}
    for fact, c in pool:
        if fact.unit == unit and (fact.entity not in best or fact.value > best[fact.entity][0].value):
            best[fact.entity] = (fact, c)
    ranked = sorted(best.values(), key=lambda item: item[0].value, reverse=not intent.lowest)[:4]
    (first, first_c), rest = ranked[0], ranked[1:]
    verb = "was lowest" if intent.lowest else "led"
    text = f"{first.entity} {verb} with {_figure_phrase(first)} [{first_c.n}]"
    if rest:
        others = [f"{fact.entity} at {fact.text} [{c.n}]" for fact, c in rest]
        text += ", ahead of " + (others[0] if len(others) == 1
                                 else ", ".join(others[:-1]) + " and " + others[-1])
    text += "."
    facts = [(fact, c.n) for fact, c in ranked]
    evidence = _best_sentence(candidates, intent, terms)
    if evidence and evidence[0] not in {fact.sentence.strip() for fact, _ in ranked}:
        text += f" {_quote(evidence[0])} [{evidence[1]}]"
    return Answer(question, text, "ranking", facts=facts)


def _best_sentence(candidates: list[_Candidate], intent: Intent,
                   terms: set[str]) -> tuple[str, int] | None:
    scored = [(_sentence_score(c.hit.text[s:e], terms, intent, c.n), c.hit.text[s:e], c.n)
              for c in candidates for s, e in c.sentences]
    if not scored:
        return None
    _, sentence, n = max(scored, key=lambda item: item[0])
    return sentence.strip(), n


def _sentence_answer(question: str, intent: Intent, candidates: list[_Candidate],
                     terms: set[str]) -> Answer:
    scored = sorted(
        ((_sentence_score(c.hit.text[s:e], terms, intent, c.n), c.hit.text[s:e].strip(), c)
         for c in candidates for s, e in c.sentences),
        key=lambda item: item[0], reverse=True)
    chosen = scored[:2]
    if len(chosen) == 2 and chosen[1][0] < 0.6 * chosen[0][0]:
        chosen = chosen[:1]
    text = " ".join(f"{sentence} [{c.n}]" for _, sentence, c in chosen)
    facts = [(fact, c.n) for _, sentence, c in chosen for fact in c.facts
             if fact.sentence.strip() == sentence]
    return Answer(question, text, "passage", facts=facts)


def _citation(candidate: _Candidate, answer: Answer, terms: set[str]) -> Citation:
    hit = candidate.hit
    span = _highlight(candidate, answer, terms)
    return Citation(candidate.n, hit.passage_id, hit.article_id, hit.url, hit.title, hit.source,
                    hit.published, hit.text, hit.start, hit.end, list(span), round(hit.score, 6))


def _highlight(candidate: _Candidate, answer: Answer, terms: set[str]) -> tuple[int, int]:
    """The answering sentence inside the passage: one the answer quotes, else the best match."""
    text = candidate.hit.text
    for start, end in candidate.sentences:
        if text[start:end].strip() and text[start:end].strip() in answer.answer:
            return start, end
    for fact, n in answer.facts:
        if n == candidate.n:
            offset = fact.start - candidate.hit.start
            for start, end in candidate.sentences:
                if start <= offset < end:
                    return start, end
    if not candidate.sentences:
        return 0, len(text)
    return max(candidate.sentences, key=lambda span: len(_terms(text[span[0]:span[1]]) & terms))


def _quote(sentence: str) -> str:
    return sentence if sentence.endswith((".", "!", "?", "…")) else sentence + "."


def _figure_phrase(fact: Fact) -> str:
    """``over $59 million in long liquidations``: the figure as written, with what it measures."""
    label = _METRIC_LABELS.get(fact.metric, "figure")
    if fact.metric == "fund_flow" and fact.direction in ("in", "out"):
        label = "inflows" if fact.direction == "in" else "outflows"
    side = f"{fact.side} " if fact.side and fact.metric in ("liquidations", "open_interest") else ""
    return f"{fact.text} in {side}{label}" if fact.unit not in ("%", "x") else (
        f"{label} of {fact.text}")


def _describe(fact: Fact) -> str:
    """One short clause stating a fact with its entity, window and date."""
    label = _METRIC_LABELS.get(fact.metric, "figure")
    if fact.metric == "fund_flow" and fact.direction in ("in", "out"):
        label = "inflows" if fact.direction == "in" else "outflows"
    subject = f"{fact.entity} " if fact.entity else ""
    side = f"{fact.side} " if fact.side else ""
    window = f" over {fact.window}" if fact.window else ""
    as_of = f" (as of {fact.as_of})" if fact.as_of else ""
    text = fact.text[:1].upper() + fact.text[1:]
    if label == "figure":
        return f"{text}{window}{as_of}"
    return f"{subject}{side}{label}: {fact.text}{window}{as_of}".capitalize() if not subject else (
        f"{subject}{side}{label}: {fact.text}{window}{as_of}")
