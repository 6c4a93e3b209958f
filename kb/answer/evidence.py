"""Gathering what the features look at: the candidate sentences of the retrieved articles, the
question's term weights, and the cosine of the question with every sentence."""

from __future__ import annotations

import numpy as np

from ingest.gazetteer import Gazetteer
from kb.answer.candidates import Article, Sentence, article_sentences, candidate_articles
from kb.answer.features import Evidence, find_context
from kb.answer.question import Intent
from kb.answer.similarity import SentenceVectors
from kb.answer.words import STOPWORDS, idf, stem, words_of
from kb.knowledge import KnowledgeBase
from kb.search import Hit


def term_weights(kb: KnowledgeBase, text: str) -> tuple[dict[str, float], dict[str, int]]:
    """IDF of each content term of ``text`` over stored passages, and each word's passage count."""
    words = [w for w in words_of(text) if w not in STOPWORDS]
    counts = kb.store.passage_counts(words)
    total = max(1, kb.store.passage_total())
    weights: dict[str, float] = {}
    for word in words:
        weights[stem(word)] = max(weights.get(stem(word), 0.0), idf(counts.get(word, 0), total))
    return weights, counts


def gather(
    kb: KnowledgeBase,
    intent: Intent,
    hits: list[Hit],
    gazetteer: Gazetteer,
    vectors: SentenceVectors,
    weights: dict[str, float],
) -> tuple[list[Article], list[Sentence], Evidence]:
    """The candidate articles and sentences of ``hits`` and the evidence to score them."""
    sentences = article_sentences(kb, candidate_articles(kb, hits), gazetteer)
    # Each article as its sentences carry it, with the terms they gave it.
    articles = list({id(s.article): s.article for s in sentences}.values())
    evidence = Evidence(intent, weights)
    evidence.context = find_context(intent, sentences, weights, evidence.matcher)
    if not sentences:
        return articles, sentences, evidence
    # Search has encoded the question already (the vector is cached). The asking clause is not
    # encoded: its cosine added nothing the question's did not (cross-validated) and cost a
    # second forward pass on every cold question.
    question = kb.embedder.encode_query(intent.text)
    by_start = vectors.of(kb, sentences)
    for sentence in sentences:
        vector = by_start.get(sentence.key)
        if vector is None:
            continue
        evidence.dense[sentence.key] = float(vector @ question)
    evidence.best_dense = max(evidence.dense.values(), default=0.0)
    passages = kb.passage_vectors(sorted({s.passage_id for s in sentences}))
    evidence.passage_dense = {pid: float(np.dot(v, question)) for pid, v in passages.items()}
    for n, sentence in enumerate(sentences):
        if n + 1 < len(sentences) and sentences[n + 1].article_id == sentence.article_id:
            evidence.next_start[sentence.key] = sentences[n + 1].body_start
        evidence.around[sentence.key] = tuple(
            o.terms for o in sentences[max(0, n - 1) : n + 2] if o.article_id == sentence.article_id
        )
    return articles, sentences, evidence
