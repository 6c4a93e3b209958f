"""Recognise RSS/Atom feeds and list the items they link to.

feedparser is only ever handed a byte stream: given a str (or even bytes) it may treat the value
as a URL or a file name and fetch or open it, which is not acceptable for data a user supplied.
"""

from __future__ import annotations

import calendar
import html
import io
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

import feedparser

from ingest.errors import IngestError

_FEED_TYPES = (
    "application/rss+xml",
    "application/atom+xml",
    "application/rdf+xml",
    "application/feed+xml",
)
_SNIFF_BYTES = 4096
# Skip the prolog (declaration, comments, doctype, processing instructions) to reach the root tag.
_PROLOG = re.compile(rb"\s*(?:<\?.*?\?>|<!--.*?-->|<!doctype[^>]*>)", re.DOTALL | re.IGNORECASE)
_ROOT = re.compile(rb"\s*<([a-z_][\w.:-]*)", re.IGNORECASE)
_FEED_ROOTS = (b"rss", b"feed", b"rdf:rdf")
_TAG = re.compile(r"<[^>]+>")


@dataclass
class FeedItem:
    """One entry of a feed: the absolute URL it links to, its title, and when it was published."""

    url: str
    title: str
    published: str | None


def looks_like_feed(data: bytes, content_type: str | None) -> bool:
    """True when the Content-Type names a feed, or the body's root element is rss/feed/rdf:RDF."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type in _FEED_TYPES:
        return True
    return _root_element(data) in _FEED_ROOTS


def parse_feed(data: bytes, base_url: str) -> list[FeedItem]:
    """The linked items of an RSS or Atom feed, links made absolute against ``base_url``."""
    if not isinstance(data, bytes | bytearray):
        raise TypeError("parse_feed takes the feed as bytes")
    depth = nesting_depth(bytes(data), MAX_FEED_DEPTH)
    if depth > MAX_FEED_DEPTH:
        # Parsing a deeply nested document costs seconds of CPU for nothing a feed holds.
        raise IngestError(
            f"this is not a readable feed: its elements nest more than {MAX_FEED_DEPTH} deep",
            source=base_url,
            status=422,
        )
    # A stream, never a str or bytes: feedparser would try those as a URL or a file name first.
    parsed = feedparser.parse(
        io.BytesIO(bytes(data)),
        response_headers={"content-location": base_url},
        resolve_relative_uris=True,
        sanitize_html=True,
    )
    if not parsed.get("version"):
        reason = parsed.get("bozo_exception") or "no rss, feed or rdf:RDF root element"
        raise IngestError(
            f"this is not a readable RSS or Atom feed ({reason})", source=base_url, status=422
        )
    if parsed.get("bozo") and not parsed.entries and not parsed.feed:
        raise IngestError(
            f"the feed is malformed ({parsed.get('bozo_exception')})", source=base_url, status=422
        )
    items: list[FeedItem] = []
    seen: set[str] = set()
    for entry in parsed.entries:
        url = _entry_url(entry, base_url)
        if url is None or url in seen:
            continue
        seen.add(url)
        items.append(
            FeedItem(url=url, title=_plain_text(entry.get("title", "")), published=_date(entry))
        )
    return items


# Real feeds nest a dozen elements deep at most.
MAX_FEED_DEPTH = 64
_UNPARSED = re.compile(rb"<!\[CDATA\[.*?\]\]>|<!--.*?-->|<\?.*?\?>|<!doctype[^>]*>", re.S | re.I)
_ELEMENT_TAG = re.compile(rb"<(/?)[A-Za-z_][^\s/>]*[^>]*?(/?)>")


def nesting_depth(data: bytes, stop_above: int) -> int:
    """How deep the elements of an XML document nest (counted up to ``stop_above`` + 1);
    character data, comments and declarations are skipped."""
    depth = deepest = 0
    for match in _ELEMENT_TAG.finditer(_UNPARSED.sub(b"", data)):
        closing, self_closing = match.group(1), match.group(2)
        if closing:
            depth = max(0, depth - 1)
        elif not self_closing:
            depth += 1
            deepest = max(deepest, depth)
            if deepest > stop_above:
                break
    return deepest


def _root_element(data: bytes) -> bytes | None:
    """The lower-cased name of the first element in ``data``, if it starts within a few KB."""
    head = data[:_SNIFF_BYTES].removeprefix(b"\xef\xbb\xbf")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        head = head.decode("utf-16", "ignore").encode("utf-8")
    position = 0
    while match := _PROLOG.match(head, position):
        position = match.end()
    root = _ROOT.match(head, position)
    return root.group(1).lower() if root else None


def _entry_url(entry: feedparser.FeedParserDict, base_url: str) -> str | None:
    """The entry's absolute http(s) link, or None when it has none."""
    link = entry.get("link")
    if not link:
        # An RSS guid is a permalink unless it says otherwise.
        guid = entry.get("id")
        if guid and entry.get("guidislink"):
            link = guid
    if not link:
        return None
    url = urljoin(base_url, link.strip())
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return url


def _date(entry: feedparser.FeedParserDict) -> str | None:
    """The publication (else update, else creation) time as ISO 8601 in UTC."""
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if value:
            # feedparser normalises to a UTC struct_time.
            moment = datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
            return moment.isoformat()
    return None


def _plain_text(value: str) -> str:
    """A title without markup or entities, whitespace collapsed."""
    return " ".join(html.unescape(_TAG.sub(" ", value)).split())
