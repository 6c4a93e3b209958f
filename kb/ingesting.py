"""Deciding what an incoming article is to the store (new, updated, unchanged, duplicate) and
writing it with its passages, facts and sketch."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from ingest.chunking import (
    DEFAULT_CHUNKING,
    ChunkSettings,
    TokenCounter,
    approx_token_count,
    chunk_article,
)
from ingest.dedupe import DUPLICATE_OVERLAP, overlap, shingle_hashes, sketch
from ingest.errors import IngestError
from ingest.facts import extract_facts
from ingest.gazetteer import load_gazetteer
from ingest.records import Article, canonical_url
from ingest.validation import without_surrogates
from kb.store import Store, StoredArticle

STATUSES = ("new", "updated", "unchanged", "duplicate", "failed")


@dataclass
class IngestResult:
    """What happened to one item of an ingest batch."""

    status: str
    id: str | None = None
    url: str | None = None
    title: str | None = None
    error: str | None = None
    origin: str = ""
    duplicate_of: str | None = None
    # Passage ids whose vectors must be removed from / added to the index.
    removed_passages: list[int] = field(default_factory=list, repr=False)
    added_passages: list[int] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, object]:
        """The result as JSON-ready data, without the index bookkeeping."""
        data = {"id": self.id, "url": self.url, "title": self.title, "status": self.status}
        if self.error:
            data["error"] = self.error
        if self.duplicate_of:
            data["duplicate_of"] = self.duplicate_of
        return data


def content_hash(article: Article) -> str:
    """A hash of everything stored about an article except where it was read from."""
    payload = article.to_dict()
    for volatile in ("id", "origin", "alternate_urls"):
        payload.pop(volatile, None)
    return hashlib.sha1(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def failed(error: IngestError | str, origin: str = "") -> IngestResult:
    """A result for an item that could not be parsed or fetched."""
    reason = error.reason if isinstance(error, IngestError) else error
    source = error.source if isinstance(error, IngestError) else None
    # A file name read from disk may hold undecodable bytes as surrogates: labels are repaired
    # so the result can always be written out.
    label = without_surrogates(source or origin)
    return IngestResult(
        "failed", error=without_surrogates(reason), origin=label, url=_url_of(label)
    )


def store_article(
    store: Store,
    article: Article,
    chunk_settings: ChunkSettings = DEFAULT_CHUNKING,
    count_tokens: TokenCounter = approx_token_count,
) -> IngestResult:
    """Store one parsed article unless it is already stored; say what was done."""
    if not article.body.strip():
        return failed("article has no body text", article.origin)
    urls = [u for u in (article.url, *article.alternate_urls) if u]
    existing_id = store.article_id_for_urls(urls) if urls else None
    if existing_id is None and not article.url and Path(article.origin).is_absolute():
        # A URL-less file read again from the same place is the same article, edited; origins
        # that clients name (upload file names, record positions) identify nothing.
        existing_id = store.article_id_for_origin(article.origin)
    digest = content_hash(article)
    shingles = shingle_hashes(article.body)
    result = IngestResult("new", url=article.url, title=article.title, origin=article.origin)

    if existing_id is not None:
        stored = store.get_article(existing_id)
        result.id = existing_id
        if stored.content_hash == digest:
            known = set(store.article_urls(existing_id))
            fresh = [u for u in urls if canonical_url(u) not in known]
            if fresh:
                store.add_urls(existing_id, fresh)
            result.status = "unchanged"
            return result
        primary = stored.article.url
        if (
            primary
            and article.url
            and canonical_url(article.url) != primary
            and (overlap(shingles, shingle_hashes(stored.article.body)) >= DUPLICATE_OVERLAP)
        ):
            # Reached through a copy's URL: the copy stays a copy, the original is not replaced.
            result.status = "duplicate"
            result.duplicate_of = existing_id
            return result
        result.status = "updated"
        # Keep the stored URL as primary so the id stays stable across updates.
        article.url = primary or article.url
    else:
        duplicate = _find_duplicate(store, shingles)
        if duplicate is not None:
            store.add_urls(duplicate, urls)
            result.status, result.id, result.duplicate_of = "duplicate", duplicate, duplicate
            return result
        result.id = article.id

    passages = chunk_article(article, chunk_settings, count_tokens)
    for passage in passages:
        passage.article_id = result.id
    facts = extract_facts(article.body, load_gazetteer())
    result.removed_passages, result.added_passages = store.save_article(
        result.id, article, digest, passages, facts, sketch(shingles)
    )
    return result


def _find_duplicate(store: Store, shingles: set[int]) -> str | None:
    """The stored article this body copies (≥ 90% shingle overlap), if any."""
    for candidate in store.sketch_candidates(sketch(shingles)):
        body = store.get_article(candidate).article.body
        if overlap(shingles, shingle_hashes(body)) >= DUPLICATE_OVERLAP:
            return candidate
    return None


def _url_of(source: str | None) -> str | None:
    return source if source and source.startswith(("http://", "https://")) else None


def rewrite_article(
    store: Store,
    article_id: str,
    stored: StoredArticle,
    chunk_settings: ChunkSettings,
    count_tokens: TokenCounter,
) -> IngestResult:
    """Re-cut and re-extract a stored article in place (for ``kb reindex``)."""
    article = stored.article
    passages = chunk_article(article, chunk_settings, count_tokens)
    for passage in passages:
        passage.article_id = article_id
    removed, added = store.save_article(
        article_id,
        article,
        stored.content_hash,
        passages,
        extract_facts(article.body, load_gazetteer()),
        sketch(shingle_hashes(article.body)),
    )
    return IngestResult("updated", id=article_id, removed_passages=removed, added_passages=added)
