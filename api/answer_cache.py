"""Answers cached by question and parameters, valid for one generation of the stored data."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict

from kb.answer import answer_question
from kb.knowledge import PASSAGE_INDEX_FILE, KnowledgeBase
from kb.store import Filters
from kb.vectors import manifest_path

ANSWER_CACHE_SIZE = 2048


class AnswerCache:
    """Answers by normalised question and parameters, valid for one generation of the data.

    The generation is bumped by every write through this app, and also read from the vector
    index's manifest time, so a ``kb ingest`` run beside the server invalidates it too. An answer
    is stored under the generation read *before* it was computed, so one computed while a write
    was running is never served after that write.
    """

    def __init__(self, kb: KnowledgeBase, size: int = ANSWER_CACHE_SIZE) -> None:
        self.kb = kb
        self.size = size
        self._writes = 0
        self._entries: OrderedDict[tuple, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def generation(self) -> tuple[int, int]:
        """What the cached answers depend on: in-app writes and the saved index's timestamp."""
        try:
            stamp = manifest_path(self.kb.data_dir / PASSAGE_INDEX_FILE).stat().st_mtime_ns
        except OSError:
            stamp = 0
        return self._writes, stamp

    def invalidate(self) -> None:
        """Forget every answer (called after an ingest or delete)."""
        with self._lock:
            self._writes += 1
            self._entries.clear()

    def get(self, key: tuple) -> bytes | None:
        """The cached body for ``key`` (which includes the generation), if any."""
        with self._lock:
            body = self._entries.get(key)
            if body is not None:
                self._entries.move_to_end(key)
            return body

    def put(self, key: tuple, body: bytes) -> None:
        """Remember a body, dropping the least recently used beyond ``size``."""
        with self._lock:
            if key[0] != self.generation():
                return
            self._entries[key] = body
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def answer(self, question: str, k: int, filters: Filters) -> tuple[bytes, bool]:
        """The answer's JSON body, and whether it came from the cache."""
        key = (self.generation(), question, k, filters.since, filters.until, filters.source)
        body = self.get(key)
        if body is not None:
            return body, True
        answer = answer_question(self.kb, question, k=k, filters=filters)
        body = json.dumps(answer.to_dict(), ensure_ascii=False, default=str).encode()
        self.put(key, body)
        return body, False
