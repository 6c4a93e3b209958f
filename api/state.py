"""What the routes of one app share, kept in ``app.extensions`` and read back with ``state()``."""

from __future__ import annotations

import threading

from flask import current_app

from api.answer_cache import AnswerCache
from api.limits import FETCH_SLOTS
from kb.knowledge import KnowledgeBase

EXTENSION = "marketkb"


class AppState:
    """The knowledge base, settings, a write lock, the answer cache and the fetch slots."""

    def __init__(self, kb: KnowledgeBase, settings: dict[str, object]) -> None:
        self.kb = kb
        self.settings = settings
        # One write (ingest or delete) at a time; reads never wait on it.
        self.write_lock = threading.Lock()
        self.answers = AnswerCache(kb)
        # Fetching a URL for /api/extract needs no token: a few at a time, so slow pages can
        # never hold every worker thread.
        self.fetch_slots = threading.BoundedSemaphore(FETCH_SLOTS)


def state() -> AppState:
    """The state of the app handling the current request."""
    return current_app.extensions[EXTENSION]
