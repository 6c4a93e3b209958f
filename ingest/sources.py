"""Turning what a user names (files, directories, URLs, feeds, uploads) into articles.

Every source yields articles or per-item ``IngestError``s, in input order, so one bad item never
stops a batch. Parsers are chosen by file name first and by sniffing the content second.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

from ingest.encoding import MAX_PAGE_BYTES, decode_page, gunzip_capped, read_page_file
from ingest.errors import IngestError
from ingest.feeds import FeedItem, looks_like_feed, parse_feed
from ingest.fetch import FetchedPage, fetch
from ingest.html import parse_html
from ingest.jsonl import parse_jsonl
from ingest.pagetext import parse_page_text
from ingest.records import Article

ArticleStream = Iterator[Article | IngestError]

# A JSONL export holds many articles, so it may be larger than one page.
MAX_JSONL_BYTES = 512 * 1024 * 1024
# An upload is held in a server's memory while it is read: its JSONL may unpack to this much.
MAX_UPLOAD_JSONL_BYTES = 64 * 1024 * 1024
HTML_SUFFIXES = (".html", ".htm", ".html.gz", ".htm.gz", ".xhtml")
TEXT_SUFFIXES = (".txt", ".text")
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".jsonl.gz")
SUPPORTED_SUFFIXES = HTML_SUFFIXES + TEXT_SUFFIXES + JSONL_SUFFIXES


@dataclass(frozen=True)
class SourceOptions:
    """Choices that apply to every source in a batch."""

    # Tests serve fixtures on 127.0.0.1; everyone else is protected from private addresses.
    allow_private: bool = False
    max_feed_items: int = 200


def read_sources(sources: list[str], options: SourceOptions = SourceOptions()) -> ArticleStream:
    """Articles and errors from each source in turn."""
    for source in sources:
        yield from read_source(source, options)


def read_source(source: str, options: SourceOptions = SourceOptions()) -> ArticleStream:
    """Articles and errors from one file, directory or URL."""
    if "://" in source or source.lower().startswith(("http:", "https:")):
        yield from _read_url(source, options)
        return
    path = Path(source)
    if path.is_dir():
        files = sorted(
            p for p in path.rglob("*") if p.is_file() and _suffix(p) in SUPPORTED_SUFFIXES
        )
        if not files:
            yield IngestError(
                f"no files to ingest (looked for {', '.join(SUPPORTED_SUFFIXES)})", source=source
            )
        for file in files:
            yield from _read_file(file)
    elif path.is_file():
        yield from _read_file(path)
    else:
        yield IngestError("no such file, directory or http(s) URL", source=source)


# Uploads are labelled apart from files read from disk: a client-chosen name that equals a path
# `kb ingest` read must not make the upload replace that file's article.
UPLOAD_PREFIX = "upload:"


def read_upload(data: bytes, filename: str, content_type: str | None = None) -> ArticleStream:
    """Articles and errors from the bytes of an uploaded file, parsed like a file of that name
    (its origin is ``upload:`` and the name, never a path)."""
    origin = UPLOAD_PREFIX + filename
    try:
        for item in _parse_bytes(data, filename, content_type, jsonl_limit=MAX_UPLOAD_JSONL_BYTES):
            if isinstance(item, IngestError):
                item.source = _uploaded(item.source, filename)
            else:
                item = replace(item, origin=_uploaded(item.origin, filename))
            yield item
    except IngestError as error:
        error.source = _uploaded(error.source, filename) if error.source else origin
        yield error


def _uploaded(label: str | None, filename: str) -> str:
    """An upload's item label (the name, or the name and a line number) marked as an upload."""
    label = label or filename
    return label if label.startswith(UPLOAD_PREFIX) else UPLOAD_PREFIX + label


def commentary_text(data: bytes, name: str = "", content_type: str | None = None) -> str:
    """The text to extract figures from: an HTML page's article body, or plain text as it is."""
    if data[:2] == b"\x1f\x8b":
        data = gunzip_capped(data, MAX_PAGE_BYTES)
    text = decode_page(data, content_type)
    if _sniff(text, _suffix(Path(name)), content_type) == "html":
        return parse_html(text, origin=name).body
    return _page_text_body(text)


def _page_text_body(text: str) -> str:
    """The article body of a saved page text; other plain text as it is.

    A pasted page keeps its Q&A, teasers and navigation, whose figures are not the article's.
    """
    try:
        article = parse_page_text(text)
    except IngestError:
        return text
    recognised = article.published or article.source or article.qa or article.related
    return article.body if recognised else text


def _read_file(path: Path) -> ArticleStream:
    origin = str(path.resolve())
    try:
        suffix = _suffix(path)
        limit = MAX_JSONL_BYTES if suffix in JSONL_SUFFIXES else MAX_PAGE_BYTES
        if suffix in HTML_SUFFIXES:
            data = read_page_file(path)
        else:
            size = path.stat().st_size
            if size > limit:
                raise IngestError(
                    f"file is {size / 1e6:.1f} MB; the limit is {limit // (1024 * 1024)} MB",
                    status=413,
                )
            data = path.read_bytes()
            if suffix == ".jsonl.gz":
                data = gunzip_capped(data, limit)
        yield from _parse_bytes(data, origin, None)
    except IngestError as error:
        error.source = error.source or origin
        yield error
    except OSError as error:
        yield IngestError(f"cannot read file: {error.strerror or error}", source=origin)


def _parse_bytes(
    data: bytes,
    name: str,
    content_type: str | None,
    url: str | None = None,
    jsonl_limit: int = MAX_JSONL_BYTES,
) -> ArticleStream:
    """Parse by the name's suffix, falling back to what the content looks like."""
    suffix = _suffix(Path(name))
    if data[:2] == b"\x1f\x8b":
        data = gunzip_capped(data, jsonl_limit if suffix in JSONL_SUFFIXES else MAX_PAGE_BYTES)
    if suffix in JSONL_SUFFIXES:
        yield from parse_jsonl(decode_page(data, content_type, jsonl_limit), origin=name)
        return
    text = decode_page(data, content_type)
    kind = _sniff(text, suffix, content_type)
    if kind == "jsonl":
        yield from parse_jsonl(text, origin=name)
    elif kind == "html":
        yield parse_html(text, url=url, origin=name)
    else:
        yield parse_page_text(text, origin=name, url=url)


def _sniff(text: str, suffix: str, content_type: str | None) -> str:
    if suffix in HTML_SUFFIXES or (content_type and "html" in content_type.lower()):
        return "html"
    if suffix in TEXT_SUFFIXES:
        return "text"
    head = text.lstrip()[:512].lower()
    if head.startswith("{"):
        return "jsonl"
    if head.startswith(("<!doctype", "<html", "<?xml")) or "<body" in head or "<head" in head:
        return "html"
    return "text"


def _read_url(url: str, options: SourceOptions) -> ArticleStream:
    try:
        page = fetch(url, allow_private=options.allow_private)
        if looks_like_feed(page.data, page.content_type):
            items = parse_feed(page.data, page.final_url)
            if not items:
                raise IngestError("feed has no items with links")
            for item in items[: options.max_feed_items]:
                yield from read_feed_item(item, options)
            return
        yield from _page_articles(page, requested=url)
    except IngestError as error:
        error.source = error.source or url
        yield error


def read_feed_item(item: FeedItem, options: SourceOptions = SourceOptions()) -> ArticleStream:
    """The articles of the page a feed item links to, dated and titled from the feed when the
    page is not; a failure is yielded as an IngestError naming the item."""
    try:
        page = fetch(item.url, allow_private=options.allow_private)
        for article in _page_articles(page, requested=item.url):
            if not isinstance(article, IngestError):
                article.published = article.published or item.published
                article.title = article.title or item.title
            yield article
    except IngestError as error:
        error.source = error.source or item.url
        yield error


def _page_articles(page: FetchedPage, requested: str) -> ArticleStream:
    name = urlsplit(page.final_url).path or "/"
    for article in _parse_bytes(page.data, name, page.content_type, url=page.final_url):
        if not isinstance(article, IngestError):
            known = {article.url, *article.alternate_urls}
            for alias in (requested, page.final_url):
                if alias not in known:
                    article.alternate_urls.append(alias)
                    known.add(alias)
            article.origin = requested
        yield article


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for suffix in (".html.gz", ".htm.gz", ".jsonl.gz"):
        if name.endswith(suffix):
            return suffix
    return path.suffix.lower()
