"""Saved page texts: a news page saved as plain text, UI labels and all.

The layout (see ``../shared/seed/``): a title line; a line gluing the source to
"Published"/"Updated" dates (often in the site's UI language); an optional intro label; the body
with headings and bullets; then optional blocks of related questions (Q/A lines), related-article
teasers (title, summary, "source + relative time"), and trailing site navigation.
"""

from __future__ import annotations

import re

from ingest.dates import to_iso
from ingest.errors import IngestError
from ingest.language import guess_language
from ingest.records import Article, QAPair, RelatedTeaser

_DATE = r"(\d{4}-\d{2}-\d{2}(?:[T ][\d:.]+(?:Z|[+-]\d{2}:?\d{2})?)?)"
_META_LINE = re.compile(
    r"^(?P<source>.*?)\s*(?:Опубликовано|Published|Posted|Veröffentlicht|Publié)\s*:?\s*"
    + _DATE
    + r"(?:\s*(?:Обновлено|Updated|Aktualisiert|Mis à jour)\s*:?\s*"
    + _DATE
    + r")?\s*$",
    re.IGNORECASE,
)
_INTRO_LABELS = {
    "введение",
    "introduction",
    "intro",
    "summary",
    "tl;dr",
    "key takeaways",
    "einleitung",
}
_QA_LABELS = {
    "связанные с этим вопросы",
    "related questions",
    "people also ask",
    "faq",
    "frequently asked questions",
    "вопросы и ответы",
}
_RELATED_LABELS = {
    "похожее",
    "related",
    "related articles",
    "related news",
    "similar articles",
    "see also",
    "read more",
    "more news",
    "читайте также",
}
_QUESTION = re.compile(r"^Q(?:[:.)]\s*|\s+|(?=[A-ZА-Я\"'“]))(?P<text>\S.*)$")
_ANSWER = re.compile(r"^A(?:[:.)]\s*|\s+|(?=[A-ZА-Я\"'“$\d]))(?P<text>\S.*)$")
_SOURCE_AND_TIME = re.compile(
    r"^(?P<source>.*?\S)\s*(?P<time>(?:\d+\s*(?:мин|ч|дн|сек|нед|мес)\.?|\d+\s*(?:min|mins|minutes?|h|hrs?"
    r"|hours?|d|days?|weeks?|months?))\s*(?:назад|ago))$",
    re.IGNORECASE,
)
_BULLET = re.compile(r"^\s*(?:[•●▪◦·*\-–]|\d+[.)])\s+")
_SENTENCE_END = re.compile(r"[.!?:;…\"'”»)\]]$")


def parse_page_text(text: str, origin: str = "", url: str | None = None) -> Article:
    """Parse a saved page text into an article with its Q&A and related teasers."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    content = [(i, line) for i, line in enumerate(lines) if line.strip()]
    if not content:
        raise IngestError("empty page text", source=origin or None)
    title = content[0][1].strip()
    source = published = updated = None
    body_from = 1
    for position, (_, line) in enumerate(content[1:4], start=1):
        match = _META_LINE.match(line.strip())
        if match:
            source = match["source"].strip() or None
            published, updated = to_iso(match.group(2)), to_iso(match.group(3))
            body_from = position + 1
            break

    blocks = _split_blocks([line for _, line in content[body_from:]])
    paragraphs, headings = _body(blocks["body"])
    if not paragraphs:
        raise IngestError("no article body found in the page text", source=origin or None)
    body = "\n\n".join(paragraphs)
    return Article(
        title=title,
        body=body,
        url=url,
        source=source,
        published=published,
        updated=updated,
        language=guess_language(body),
        headings=headings,
        qa=_qa_pairs(blocks["qa"]),
        related=_teasers(blocks["related"]),
        origin=origin,
    )


def _split_blocks(lines: list[str]) -> dict[str, list[str]]:
    """Sort lines into the body, the Q&A block and the related block by their section labels."""
    blocks: dict[str, list[str]] = {"body": [], "qa": [], "related": []}
    current = "body"
    for line in lines:
        label = line.strip().rstrip(":").lower()
        if label in _QA_LABELS:
            current = "qa"
        elif label in _RELATED_LABELS:
            current = "related"
        elif not (current == "body" and label in _INTRO_LABELS):
            blocks[current].append(line)
    return blocks


def _is_heading(line: str) -> bool:
    """A short line with no closing punctuation that is not a list item."""
    stripped = line.strip()
    return (
        not _BULLET.match(line)
        and len(stripped.split()) <= 16
        and not _SENTENCE_END.search(stripped)
    )


def _body(lines: list[str]) -> tuple[list[str], list[str]]:
    """Body paragraphs (bullets as "• item") and the headings among them."""
    paragraphs: list[str] = []
    headings: list[str] = []
    for line in lines:
        stripped = line.strip()
        if _BULLET.match(line):
            paragraphs.append("• " + _BULLET.sub("", line).strip())
        elif _is_heading(line):
            paragraphs.append(stripped)
            headings.append(stripped)
        else:
            paragraphs.append(stripped)
    # Site navigation trails the body as headings with nothing under them.
    while paragraphs and headings and paragraphs[-1] == headings[-1]:
        paragraphs.pop()
        headings.pop()
    return paragraphs, headings


def _qa_pairs(lines: list[str]) -> list[QAPair]:
    """Question/answer pairs from "Q…"/"A…" lines; an answer belongs to the question before it."""
    pairs: list[QAPair] = []
    question: str | None = None
    for line in lines:
        stripped = line.strip()
        q_match, a_match = _QUESTION.match(stripped), _ANSWER.match(stripped)
        if q_match and question is None:
            question = q_match["text"].strip()
        elif a_match and question is not None:
            pairs.append(QAPair(question=question, answer=a_match["text"].strip()))
            question = None
    return pairs


def _teasers(lines: list[str]) -> list[RelatedTeaser]:
    """Teasers ending in a "source + relative time" line; repeats and navigation dropped."""
    teasers: list[RelatedTeaser] = []
    pending: list[str] = []
    for line in (line.strip() for line in lines):
        match = _SOURCE_AND_TIME.match(line)
        if not match:
            pending.append(line)
            continue
        if pending:
            title, summary = pending[0], " ".join(pending[1:])
            if not (teasers and teasers[-1].title == title and not summary):
                teasers.append(
                    RelatedTeaser(
                        title=title, summary=summary, source=match["source"], time=match["time"]
                    )
                )
        pending = []
    return teasers
