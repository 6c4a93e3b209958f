"""HTML page → Article: metadata from the head and structured data, body from the main content."""

from __future__ import annotations

import re

import trafilatura
from lxml.html import HtmlElement

from ingest.errors import IngestError
from ingest.html_body import BULLET, Block, extract_body
from ingest.html_metadata import json_ld_article_body, page_meta
from ingest.records import Article

# Below this much word text a page is a stub, a paywall or an index, not an article.
MIN_BODY_CHARS = 200
_WORD = re.compile(r"\w+")


def _load(html: str) -> HtmlElement:
    if not html or not html.strip():
        raise IngestError("no article body found: the page is empty")
    try:
        tree = trafilatura.load_html(html)
    except (ValueError, TypeError) as error:
        raise IngestError(
            f"no article body found: the page could not be parsed as HTML ({error})"
        ) from error
    if tree is None:
        raise IngestError("no article body found: the page could not be parsed as HTML")
    return tree


def _render(block: Block) -> str:
    return BULLET + block.text if block.kind == "item" else block.text


def _word_chars(text: str) -> int:
    return sum(len(w) for w in _WORD.findall(text))


def parse_html(html: str, url: str | None = None, origin: str = "") -> Article:
    """Parse one HTML page into an Article, or raise IngestError when it has no article body."""
    tree = _load(html)
    meta = page_meta(tree, url)
    fallback_body = json_ld_article_body(tree)
    extracted = extract_body(tree, url=meta.url or url, titles=meta.title_variants)

    paragraphs = [_render(b) for b in extracted.blocks]
    headings = [b.text for b in extracted.blocks if b.kind == "heading"]
    body = "\n\n".join(paragraphs)
    if _word_chars(body) < MIN_BODY_CHARS and fallback_body:
        # Some pages render the text with script; their JSON-LD still carries it.
        plain = "\n\n".join(p.strip() for p in re.split(r"\n\s*\n", fallback_body) if p.strip())
        if _word_chars(plain) > _word_chars(body):
            body, headings = plain, []
    if _word_chars(body) < MIN_BODY_CHARS:
        raise IngestError(
            f"no article body found: the page has {_word_chars(body)} characters of article text "
            f"(at least {MIN_BODY_CHARS} are needed); index pages, paywalls and script-only pages "
            "are not accepted",
            source=url,
        )
    return Article(
        title=meta.title or (headings[0] if headings else body.split("\n", 1)[0][:200]),
        body=body,
        url=meta.url,
        alternate_urls=meta.alternate_urls,
        source=meta.source,
        author=meta.author,
        published=meta.published,
        updated=meta.updated,
        language=meta.language,
        headings=headings,
        qa=meta.qa,
        related=extracted.related,
        origin=origin,
    )
