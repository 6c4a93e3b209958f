"""The API's limits and defaults, one place for the routes that enforce them and the OpenAPI
document that states them."""

from __future__ import annotations

from kb.answer import MAX_K, MAX_QUESTION_CHARS

__all__ = [
    "DEFAULT_FACTS_LIMIT",
    "DEFAULT_K",
    "DEFAULT_PER_PAGE",
    "FETCH_SLOTS",
    "MAX_ARTICLES",
    "MAX_CONTENT_LENGTH",
    "MAX_EXTRACT_CHARS",
    "MAX_FACTS_LIMIT",
    "MAX_K",
    "MAX_PER_PAGE",
    "MAX_QUESTION_CHARS",
    "MAX_URLS",
]

# Uploads and JSON bodies beyond this answer 413 before they are read.
MAX_CONTENT_LENGTH = 10 * 1024 * 1024
DEFAULT_K = 5
DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100
MAX_EXTRACT_CHARS = 200_000
MAX_URLS = 50
MAX_ARTICLES = 1000
DEFAULT_FACTS_LIMIT = 1000
# Pages fetched at once for extraction (waitress runs 8 worker threads by default).
FETCH_SLOTS = 2
MAX_FACTS_LIMIT = 10_000
