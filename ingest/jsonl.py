"""JSONL exports: one article per line with ``url``, ``title``, ``text`` and optional metadata."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from urllib.parse import urlsplit

from ingest.dates import date_from_url, to_iso
from ingest.errors import IngestError
from ingest.language import guess_language
from ingest.records import Article
from ingest.sentences import split_sentences
from ingest.validation import checked_article, checked_text, checked_url

_BLANK_LINES = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")
_TITLE_CHARS = 120


def parse_jsonl(text: str, origin: str = "") -> Iterator[Article | IngestError]:
    """Each non-blank line as an article, or as an error naming the line and what is wrong."""
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{origin}:{number}" if origin else f"line {number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            yield IngestError(f"not valid JSON ({error.msg} at column {error.colno})", source=where)
            continue
        except RecursionError:
            yield IngestError("not a usable record: JSON nested too deeply", source=where)
            continue
        try:
            yield article_from_record(record, origin=where)
        except IngestError as error:
            yield error


def article_from_record(record: object, origin: str = "") -> Article:
    """An article from one JSON record; ``text`` is required, ``url``/``title``/dates optional."""
    if not isinstance(record, dict):
        raise IngestError("expected a JSON object with url, title and text", source=origin or None)
    text = record.get("text") or record.get("body")
    if not isinstance(text, str) or not text.strip():
        raise IngestError("record has no 'text'", source=origin or None)
    checked_text(text, "text", origin or None)
    for name in ("url", "title", "source", "author", "published", "updated", "language"):
        if record.get(name) is not None and not isinstance(record[name], str):
            raise IngestError(f"'{name}' must be a string or null", source=origin or None)
    url = record.get("url")
    url = checked_url(url, "url", origin or None) if url and url.strip() else None
    body = normalise_text(text)
    title = _string(record.get("title")) or _title_from(body)
    return checked_article(
        Article(
            title=title,
            body=body,
            url=url,
            source=_string(record.get("source")) or _site_name(url),
            author=_string(record.get("author")),
            published=to_iso(_string(record.get("published"))) or date_from_url(url),
            updated=to_iso(_string(record.get("updated"))),
            language=_string(record.get("language")) or guess_language(body),
            origin=origin,
        )
    )


def normalise_text(text: str) -> str:
    """Plain text with trimmed lines and at most one blank line between paragraphs."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ")
    text = "\n".join(line.strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip()


def _string(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _title_from(body: str) -> str:
    """A title for an untitled record: its first sentence, clipped at a word boundary."""
    first = (split_sentences(body) or [body])[0].lstrip("•*- ").strip()
    if len(first) <= _TITLE_CHARS:
        return first
    return first[:_TITLE_CHARS].rsplit(" ", 1)[0] + "…"


def _site_name(url: str | None) -> str | None:
    """The host of ``url`` without a leading ``www.``."""
    if not url:
        return None
    host = (urlsplit(url).hostname or "").lower()
    return host.removeprefix("www.") or None
