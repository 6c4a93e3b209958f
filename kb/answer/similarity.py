"""Sentence vectors of candidate articles: stored at ingest, else embedded once and kept in an LRU.

Word overlap cannot tell the sentence restating a question from the one answering it when both
share the question's words, and it misses paraphrase. Embedding each candidate sentence fixes
both. Ingest stores every passage's sentence vectors (``KnowledgeBase.sentence_vectors``, pooled
from the passage's own encoding), so a question only encodes itself. Sentences without stored
vectors (a store being repaired, a sentence past the model's length limit) are embedded here;
that cache belongs to the caller (one per knowledge base), keyed by article id and a hash of the
article's sentences, so a changed article is embedded again.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

import numpy as np

from kb.answer.candidates import Sentence
from kb.knowledge import KnowledgeBase

# Sentences of one article embedded at most (corpus articles have 8-40).
MOST_SENTENCES = 64
CACHED_ARTICLES = 512


class SentenceVectors:
    """Unit vectors of articles' sentences, cached per article."""

    def __init__(self, size: int = CACHED_ARTICLES) -> None:
        self.size = size
        self._cache: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def of(self, kb: KnowledgeBase, sentences: list[Sentence]) -> dict[tuple[str, int], np.ndarray]:
        """Vectors by sentence key: the stored ones, the rest embedded in one encode call."""
        stored = kb.sentence_vectors({s.passage_id for s in sentences})
        at = {
            (pid, span): row.vectors[n]
            for pid, row in stored.items()
            for n, span in enumerate(row.spans)
        }
        found: dict[tuple[str, int], np.ndarray] = {}
        by_article: dict[str, list[Sentence]] = {}
        for sentence in sentences:
            vector = at.get((sentence.passage_id, sentence.span))
            if vector is not None:
                found[sentence.key] = vector
            else:
                by_article.setdefault(sentence.article_id, []).append(sentence)
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
            vectors = kb.embedder.encode_passages(texts)
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
