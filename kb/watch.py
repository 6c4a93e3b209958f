"""Keeping the knowledge base current: poll feeds, ingest only their new items, remember them.

Rules of watching:

- Each feed is polled every ``every`` seconds, jittered by up to ``jitter`` of that either way,
  so many watchers (or many feeds) do not all knock at once.
- The GET is conditional (the ETag and Last-Modified of the last answer): 304 means unchanged
  and costs the site nothing. Every fetch goes through ``ingest.fetch`` and its URL guard, size
  and time caps, for the feed and for each item page.
- An item is new unless this feed has read it before or the store already holds its URL; read
  items are remembered in the store, so a restarted watcher does not fetch them again. An item
  whose page fails is not remembered and is tried again next poll.
- A feed that fails (unreachable, an HTTP error, not a feed) waits ``every`` times 2 to the
  number of failures in a row, at most ``max_backoff``, and never holds up the others.
- Stopping (``stop`` set, as on SIGINT or SIGTERM) takes effect between items: an item being
  ingested is finished and stored, never left half done.
- Writes go through ``KnowledgeBase.ingest`` under the caller's write lock, the path of
  ``POST /api/ingest``, so a server's readers are never blocked and writers take turns.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from ingest.errors import IngestError
from ingest.feeds import looks_like_feed, parse_feed
from ingest.fetch import TOTAL_TIMEOUT, fetch
from ingest.sources import SourceOptions, read_feed_item
from ingest.validation import checked_url
from kb.errors import KbError
from kb.knowledge import KnowledgeBase
from kb.store import FeedStatus

log = logging.getLogger(__name__)

DEFAULT_EVERY = 600.0
DEFAULT_JITTER = 0.1
MAX_BACKOFF = 6 * 3600.0
STORED = ("new", "updated")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class WatchSettings:
    """How often to poll, how much to jitter, how far to back off, what may be fetched."""

    every: float = DEFAULT_EVERY
    jitter: float = DEFAULT_JITTER
    max_backoff: float = MAX_BACKOFF
    allow_private: bool = False
    max_items: int = 200
    timeout: float = TOTAL_TIMEOUT  # the most fetching the feed may take, redirects included


@dataclass(frozen=True)
class FeedRound:
    """What one poll of one feed did."""

    feed: str
    outcome: str  # "new", "unchanged" or "failed"
    stored: int = 0  # articles stored (new or updated)
    failed_items: int = 0
    reason: str | None = None
    retry_in: float | None = None  # seconds until the next poll

    def line(self) -> str:
        """One log line: the feed, what happened and when it is polled next."""
        later = f"; next poll in {_duration(self.retry_in)}" if self.retry_in is not None else ""
        if self.outcome == "failed":
            return f"{self.feed}: failed: {self.reason}{later}"
        if self.outcome == "unchanged":
            return f"{self.feed}: unchanged{later}"
        failures = f", {self.failed_items} items failed" if self.failed_items else ""
        return f"{self.feed}: {self.stored} new{failures}{later}"


def parse_every(text: str) -> float:
    """Seconds in an interval written ``90s``, ``10m``, ``2h`` or ``1d`` (bare number: seconds)."""
    raw = text.strip().lower()
    unit = raw[-1:] if raw[-1:] in _UNITS else "s"
    number = raw[:-1] if raw[-1:] in _UNITS else raw
    try:
        seconds = float(number) * _UNITS[unit]
    except ValueError:
        raise KbError(
            f"an interval is a number and s, m, h or d (such as 10m), got {text!r}"
        ) from None
    if not 1 <= seconds <= 7 * 86400:
        raise KbError(f"an interval must be from 1 second to 7 days, got {text!r}")
    return seconds


def read_feed_list(sources: list[str]) -> list[str]:
    """Feed URLs from arguments that are URLs or files listing one per line (``#`` comments);
    each URL checked for form, duplicates dropped, order kept."""
    urls: list[str] = []
    for source in sources:
        if source.lower().startswith(("http://", "https://")):
            lines = [source]
        else:
            path = Path(source)
            if not path.is_file():
                raise KbError(f"{source}: not an http(s) URL and no such file")
            text = path.read_text(encoding="utf-8", errors="replace")
            lines = [line.split("#", 1)[0].strip() for line in text.splitlines()]
        for line in filter(None, lines):
            try:
                urls.append(checked_url(line, "a feed URL"))
            except IngestError as error:
                raise KbError(f"{source}: {error}") from None
    if not urls:
        raise KbError("no feed URLs given")
    return list(dict.fromkeys(urls))


class FeedWatcher:
    """Polls a list of feeds on a schedule and ingests what is new."""

    def __init__(
        self,
        kb: KnowledgeBase,
        feeds: list[str],
        settings: WatchSettings = WatchSettings(),
        *,
        write_lock: AbstractContextManager | None = None,
        on_round: Callable[[FeedRound], None] | None = None,
        on_stored: Callable[[], None] | None = None,
        seed: int | None = None,
    ) -> None:
        self.kb = kb
        self.feeds = list(dict.fromkeys(feeds))
        self.settings = settings
        self.write_lock = write_lock or nullcontext()
        self.on_round = on_round or (lambda _round: None)
        self.on_stored = on_stored or (lambda: None)
        self.random = random.Random(seed)
        self.due = {feed: 0.0 for feed in self.feeds}

    def run(self, stop: threading.Event) -> None:
        """Poll each feed when it is due until ``stop`` is set."""
        while not stop.is_set():
            for feed in self.feeds:
                if stop.is_set():
                    return
                if self.due[feed] <= time.monotonic():
                    self.poll(feed, stop)
            wait = min(self.due.values()) - time.monotonic()
            if wait > 0:
                stop.wait(wait)

    def poll_all(self, stop: threading.Event | None = None) -> list[FeedRound]:
        """Poll every feed once, due or not, in order."""
        return [self.poll(feed, stop) for feed in self.feeds]

    def poll(self, feed: str, stop: threading.Event | None = None) -> FeedRound:
        """Poll one feed, ingest its new items, remember what was read, and schedule it."""
        stop = stop or threading.Event()
        store = self.kb.store
        before = store.feed_status(feed) or FeedStatus(feed)
        now = _now()
        try:
            page = fetch(
                feed,
                allow_private=self.settings.allow_private,
                total_timeout=self.settings.timeout,
                etag=before.etag,
                last_modified=before.last_modified,
            )
            if page.not_modified:
                round_ = FeedRound(feed, "unchanged")
                status = replace(before, last_poll=now, last_success=now, errors=0, last_new=0)
            else:
                if not looks_like_feed(page.data, page.content_type):
                    raise IngestError(f"{feed} is not an RSS or Atom feed")
                stored, failed, finished = self._ingest_new(feed, page.data, page.final_url, stop)
                round_ = FeedRound(feed, "new", stored, failed)
                status = replace(
                    before,
                    last_poll=now,
                    last_success=now,
                    errors=0,
                    last_error=None,
                    last_new=stored,
                    # Interrupted: forget the validators, so the next poll reads the rest.
                    etag=page.etag if finished else None,
                    last_modified=page.last_modified if finished else None,
                )
        except IngestError as error:
            # The reason alone: the round already names the feed.
            round_, status = self._failed(feed, before, now, error.reason)
        except Exception as error:
            # Anything else (the store, a callback, a bug) is this feed's failure too: one feed
            # must never end the watcher thread and with it every other feed's polling.
            log.exception("polling %s failed", feed)
            reason = (
                str(error) if isinstance(error, KbError) else f"{type(error).__name__}: {error}"
            )
            round_, status = self._failed(feed, before, now, reason)
        store.save_feed_status(status)
        delay = self._delay(status.errors)
        self.due[feed] = time.monotonic() + delay
        round_ = replace(round_, retry_in=delay)
        self.on_round(round_)
        return round_

    @staticmethod
    def _failed(
        feed: str, before: FeedStatus, now: str, reason: str
    ) -> tuple[FeedRound, FeedStatus]:
        """The round and the status of a poll that failed for ``reason``."""
        status = replace(before, last_poll=now, errors=before.errors + 1, last_error=reason)
        return FeedRound(feed, "failed", reason=reason), status

    def _ingest_new(
        self, feed: str, data: bytes, base_url: str, stop: threading.Event
    ) -> tuple[int, int, bool]:
        """Ingest the feed's unread items one at a time: (stored, failed, all were read)."""
        items = parse_feed(data, base_url)[: self.settings.max_items]
        store = self.kb.store
        seen = store.seen_feed_items(feed, [item.url for item in items])
        options = SourceOptions(allow_private=self.settings.allow_private)
        stored = failed = 0
        for item in items:
            if item.url in seen:
                continue
            if stop.is_set():
                return stored, failed, False
            if store.article_id_for_urls([item.url]) is not None:
                store.mark_feed_items(feed, [item.url])
                continue
            # Fetched outside the lock, so a slow site never holds up other writers.
            articles = list(read_feed_item(item, options))
            with self.write_lock:
                results = self.kb.ingest(articles)
            if any(r.status == "failed" for r in results) or not results:
                failed += 1
                continue
            store.mark_feed_items(feed, [item.url])
            added = sum(r.status in STORED for r in results)
            stored += added
            if added:
                self.on_stored()
        return stored, failed, True

    def _delay(self, errors: int) -> float:
        """Seconds to the next poll: the interval jittered, or backed off after failures."""
        every = self.settings.every
        if errors:
            return min(every * 2**errors, max(self.settings.max_backoff, every))
        spread = self.settings.jitter * every
        return max(0.0, every + self.random.uniform(-spread, spread))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _duration(seconds: float | None) -> str:
    """``45s``, ``10m`` or ``2.5h``."""
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"
