"""Sentence vectors of candidate articles, embedded once per article and kept in an LRU.

Word overlap cannot tell the sentence restating a question from the one answering it when both
share the question's words, and it misses paraphrase. Embedding each candidate sentence fixes
both. The cache belongs to the caller (one per knowledge base), keyed by article id and a hash of
the article's sentences, so a changed article is embedded again.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

import numpy as np

from kb.answer.candidates import Sentence
from kb.embedding import Embedder

# Sentences of one article embedded at most (corpus articles have 8-40).
MOST_SENTENCES = 64
CACHED_ARTICLES = 512


class SentenceVectors:
    """Unit vectors of articles' sentences, cached per article."""

    def __init__(self, size: int = CACHED_ARTICLES) -> None:
        self.size = size
        self._cache: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def of(
        self, embedder: Embedder, sentences: list[Sentence]
    ) -> dict[tuple[str, int], np.ndarray]:
        """Vectors by sentence key, for several articles' sentences, in one encode call."""
        by_article: dict[str, list[Sentence]] = {}
        for sentence in sentences:
            by_article.setdefault(sentence.article_id, []).append(sentence)
        found: dict[tuple[str, int], np.ndarray] = {}
        missing: list[tuple[tuple[str, str], list[Sentence]]] = []
        for article_id, own in by_article.items():
            own = own[:MOST_SENTENCES]
            text = "\n".join(s.text for s in own)
            key = (article_id, hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest())
            with self._lock:
                vectors = self._cache.get(key)
                if vectors is not None:
                    self._cache.move_to_end(key)
            if vectors is None:
                missing.append((key, own))
            else:
                found.update((s.key, v) for s, v in zip(own, vectors, strict=True))
        if missing:
            texts = [s.text for _, own in missing for s in own]
            vectors = embedder.encode_passages(texts)
            at = 0
            for key, own in missing:
                mine = vectors[at : at + len(own)]
                at += len(own)
                found.update((s.key, v) for s, v in zip(own, mine, strict=True))
                with self._lock:
                    self._cache[key] = mine
                    while len(self._cache) > self.size:
                        self._cache.popitem(last=False)
        return found

    def clear(self) -> None:
        """Forget every cached article (for cold-start measurements)."""
        with self._lock:
            self._cache.clear()
