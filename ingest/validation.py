"""Checks every field of a record must pass before anything of it is stored.

Sources hand in text that Python holds but cannot write: a JSON string may carry a lone UTF-16
surrogate ("\\ud800"), which UTF-8, SQLite and the tokenizer all refuse. A URL may parse as a
string yet name an impossible port or an unclosed IPv6 bracket. Each such field is refused here
with a reason naming it, so one bad record becomes one per-item error, never a failed batch.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import fields, is_dataclass, replace
from urllib.parse import urlsplit

from ingest.errors import IngestError
from ingest.records import Article

_SURROGATE = re.compile("[\ud800-\udfff]")


def lone_surrogate(text: str) -> int | None:
    """The offset of the first lone surrogate in ``text``, or None when it is valid Unicode."""
    match = _SURROGATE.search(text)
    return match.start() if match else None


def without_surrogates(text: str) -> str:
    """``text`` with each lone surrogate replaced by U+FFFD (for labels, never for content)."""
    return _SURROGATE.sub("\ufffd", text)


def checked_text(value: str, field: str, source: str | None = None) -> str:
    """``value`` when it is valid Unicode, else an error naming ``field`` and the offset."""
    at = lone_surrogate(value)
    if at is not None:
        raise IngestError(
            f"'{field}' holds a lone surrogate (U+{ord(value[at]):04X}) at character {at}; "
            "send valid Unicode (UTF-8 without unpaired \\ud800-\\udfff escapes)",
            source=source,
        )
    return value


def checked_url(value: str, field: str = "url", source: str | None = None) -> str:
    """``value`` stripped when it is an http(s) URL with a host and a possible port, else an
    error saying what is wrong with it."""
    url = checked_text(value, field, source).strip()
    try:
        parts = urlsplit(url)
        port = parts.port  # raises for a port outside 0-65535 or not a number
    except ValueError as error:
        raise IngestError(
            f"'{field}' is not a valid URL ({error}): {url!r}", source=source
        ) from None
    if parts.scheme.lower() not in ("http", "https"):
        raise IngestError(f"'{field}' must be an http or https URL, got {url!r}", source=source)
    if not parts.hostname:
        raise IngestError(f"'{field}' has no host name: {url!r}", source=source)
    if port == 0:
        raise IngestError(
            f"'{field}' names port 0, which no server listens on: {url!r}", source=source
        )
    return url


def checked_article(article: Article) -> Article:
    """``article`` when every text in it is valid Unicode and its URL is a valid URL.

    Its ``origin`` is the reader's own label (a file name may hold undecodable bytes as
    surrogates), so it is repaired, not refused: the copy returned has U+FFFD there instead.
    """
    if lone_surrogate(article.origin) is not None:
        article = replace(article, origin=without_surrogates(article.origin))
    source = article.origin or None
    for name, value in _texts(article, ""):
        if name != "origin":
            checked_text(value, name, source)
    if article.url is not None:
        checked_url(article.url, "url", source)
    return article


def _texts(value: object, name: str) -> Iterator[tuple[str, str]]:
    """(field path, string) for every string in a record, its lists and nested records."""
    if isinstance(value, str):
        yield name, value
    elif isinstance(value, list | tuple):
        for n, item in enumerate(value):
            yield from _texts(item, f"{name}[{n}]")
    elif is_dataclass(value):
        for item in fields(value):
            path = f"{name}.{item.name}" if name else item.name
            yield from _texts(getattr(value, item.name), path)
