"""The candidates an answer is chosen from: the sentences of the best-retrieved articles, each
with the facts it states and the names it uses, and the retrieval evidence of its article.

Questions carry their own context (names, figures, dates) and the answer is often a different
sentence of the same article than the one restating that context, so every sentence of the first
few retrieved articles is a candidate, not only the hit passages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from ingest.chunking import passage_sentences
from ingest.dates import CALENDAR_WORDS
from ingest.gazetteer import Gazetteer
from ingest.records import Fact
from kb.answer.words import terms_of
from kb.knowledge import KnowledgeBase
from kb.search import Hit

# Distinct articles of the retrieved passages whose every sentence is a candidate.
CANDIDATE_ARTICLES = 4

_NAME = re.compile(r"\b[A-Z][\w&.'-]*(?:\s+(?:[A-Z][\w&.'-]*|of|de))*")
# Capitalised words that open sentences or clauses but name nothing.
_NOT_NAMES = frozenset(
    [
        "the",
        "this",
        "that",
        "these",
        "those",
        "a",
        "an",
        "however",
        "meanwhile",
        "currently",
        "also",
        "but",
        "and",
        "in",
        "on",
        "at",
        "as",
        "of",
        "for",
        "according",
        "data",
        "while",
        "with",
        "after",
        "since",
        "despite",
        "among",
        "overall",
        "notably",
        "first",
        "second",
        "it",
        "its",
        "there",
        "here",
        "then",
        "when",
        "what",
        "which",
        "who",
        "why",
        "how",
        "some",
        "many",
        "most",
        "other",
        "others",
        "such",
        "if",
        "our",
        "we",
        "usd",
        "us",
        "u.s.",
        "ceo",
        "cto",
    ]
) | frozenset(CALENDAR_WORDS)


@dataclass(frozen=True)
class Name:
    """A name a sentence uses: a gazetteer entity (name and type) or an unknown proper name."""

    name: str
    type: str | None
    start: int  # offset in the sentence
    end: int


@dataclass
class Article:
    """A candidate article with its retrieval evidence."""

    article_id: str
    rank: int  # 0 for the best-retrieved
    score: float  # best fused retrieval score of its passages
    dense: float  # best cosine of its hit passages
    hit_passages: set[int]
    published: str | None
    terms: frozenset[str] = frozenset()
    facts: list[Fact] = field(default_factory=list)  # every stored fact of the article

    @property
    def values(self) -> list[float]:
        """Every figure the article's facts state."""
        return [fact.value for fact in self.facts]


@dataclass
class Sentence:
    """One sentence of a candidate article, located in a stored passage."""

    text: str
    article: Article
    order: int  # position in the article
    passage_id: int
    span: tuple[int, int]  # inside the passage text
    body_start: int
    facts: list[Fact] = field(default_factory=list)
    names: list[Name] = field(default_factory=list)
    terms: frozenset[str] = frozenset()

    @property
    def article_id(self) -> str:
        """The id of the sentence's article."""
        return self.article.article_id

    @property
    def key(self) -> tuple[str, int]:
        """Identifies the sentence among every candidate: its article and body offset."""
        return (self.article.article_id, self.body_start)


def candidate_articles(kb: KnowledgeBase, hits: list[Hit]) -> list[Article]:
    """The first distinct articles of ``hits``, in retrieval order."""
    found: dict[str, Article] = {}
    for hit in hits:
        article = found.get(hit.article_id)
        if article is None:
            if len(found) == CANDIDATE_ARTICLES:
                continue
            article = Article(hit.article_id, len(found), hit.score, 0.0, set(), hit.published)
            found[hit.article_id] = article
        article.dense = max(article.dense, hit.dense_score or 0.0)
        article.hit_passages.add(hit.passage_id)
    for article in found.values():
        article.facts = kb.store.article_facts(article.article_id)
    return list(found.values())


def article_sentences(
    kb: KnowledgeBase, articles: list[Article], gazetteer: Gazetteer
) -> list[Sentence]:
    """Every sentence of the given articles (as ``candidate_articles`` reads them), in article
    order, with its facts and names; each points at a copy of its article with the article's
    terms (the union of its sentences')."""
    found: list[Sentence] = []
    for article in articles:
        first = len(found)
        passage_ids = kb.store.article_passage_ids(article.article_id)
        passages = kb.store.get_passages(passage_ids)
        facts = article.facts
        seen: set[int] = set()
        order = 0
        for pid in passage_ids:
            stored = passages.get(pid)
            if stored is None:
                continue
            passage = stored.passage
            for start, end in passage_sentences(passage):
                body_start = passage.start + start
                text = passage.text[start:end].strip()
                # Overlapping passages repeat sentences; keep the first copy.
                if body_start in seen or not text:
                    continue
                seen.add(body_start)
                mine = [f for f in facts if body_start <= f.start < passage.start + end]
                found.append(
                    Sentence(
                        text,
                        article,
                        order,
                        pid,
                        (start, end),
                        body_start,
                        mine,
                        names_in(text, gazetteer),
                        terms_of(text),
                    )
                )
                order += 1
        # The sentences cover the body, so their terms are the article's: no second tokenising.
        # The sentences point at a copy carrying them; the caller's article is left as it was.
        held = replace(article, terms=frozenset().union(*(s.terms for s in found[first:])))
        for sentence in found[first:]:
            sentence.article = held
    return found


def names_in(text: str, gazetteer: Gazetteer) -> list[Name]:
    """The gazetteer's entities a sentence names, then the other proper names it uses."""
    names: list[Name] = []
    covered: list[tuple[int, int]] = []
    for mention in gazetteer.find_mentions(text):
        covered.append((mention.start, mention.end))
        names.append(Name(mention.name, mention.type, mention.start, mention.end))
    for match in _NAME.finditer(text):
        if any(s <= match.start() < e or s < match.end() <= e for s, e in covered):
            continue
        words = [w for w in match.group(0).split() if w.lower() not in _NOT_NAMES]
        # A lone capitalised word opening the sentence is usually just the sentence's first word.
        if not words or (match.start() == 0 and len(words) == 1):
            continue
        name = " ".join(words)
        start = match.start() + match.group(0).find(words[0])
        names.append(Name(name, None, start, start + len(name)))
    return sorted(names, key=lambda name: name.start)


def new_names(sentence: Sentence, named: set[str], question: str) -> list[Name]:
    """Names of the sentence that the question does not already use."""
    lowered = question.lower()
    return [
        name
        for name in sentence.names
        if name.name.lower() not in named
        and sentence.text[name.start : name.end].lower() not in lowered
        and name.name.lower() not in lowered
    ]
