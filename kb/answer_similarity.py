"""Cosine of a question (or its asking clause) with every sentence of the answering article.

Word overlap cannot tell the sentence restating a question from the one answering it when both
share the question's words, and it misses paraphrase ("fragile" vs "heavy leverage"). Embedding
each sentence of the best article fixes both. The vectors of an article are cached in memory, in
an LRU keyed by article id and a hash of its sentences, so a changed article is re-embedded.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

import numpy as np

from kb.answer_evidence import Sentence
from kb.knowledge import KnowledgeBase

# Sentences of one article embedded at most (corpus articles have 8-40).
MOST_SENTENCES = 64
CACHED_ARTICLES = 512

_cache: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
_cache_lock = threading.Lock()


def sentence_vectors(kb: KnowledgeBase, sentences: list[Sentence]) -> np.ndarray:
    """Unit vectors of ``sentences`` (one article's, in order), from the cache when unchanged."""
    texts = [s.text for s in sentences[:MOST_SENTENCES]]
    if not texts:
        return np.zeros((0, kb.embedder.dim), dtype=np.float32)
    digest = hashlib.blake2b("\n".join(texts).encode("utf-8"), digest_size=16).hexdigest()
    key = (sentences[0].article_id, digest)
    with _cache_lock:
        vectors = _cache.get(key)
        if vectors is not None:
            _cache.move_to_end(key)
            return vectors
    vectors = kb.embedder.encode_passages(texts)
    with _cache_lock:
        _cache[key] = vectors
        while len(_cache) > CACHED_ARTICLES:
            _cache.popitem(last=False)
    return vectors


def similarities(kb: KnowledgeBase, query: str, sentences: list[Sentence]) -> dict[int, float]:
    """Cosine of ``query`` with each sentence of the best article, by the sentence's body offset."""
    top = [s for s in sentences if s.article_rank == 0]
    vectors = sentence_vectors(kb, top)
    if not len(vectors):
        return {}
    cosines = vectors @ kb.embedder.encode_query(query)
    return {s.body_start: float(c) for s, c in zip(top, cosines, strict=False)}


def clear_cache() -> None:
    """Forget every cached article (for cold-start measurements)."""
    with _cache_lock:
        _cache.clear()
