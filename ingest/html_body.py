"""Article body of an HTML page: trafilatura's main-content pass framed by our own cleaning.

Before trafilatura sees the page we strip elements that are never article text (hover cards and
hidden nodes; wider class-name rules cost more recall than they gained). After it, each block is
checked again:
link-only teasers, a repeated title, bylines, dates, captions, copyright and call-to-action lines
are dropped, because trafilatura tends to keep short lines like these at the edges of an article.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import trafilatura
from lxml import etree
from lxml.html import HtmlElement

from ingest.records import RelatedTeaser

BULLET = "• "

# class/id tokens of containers that never hold article text.
_JUNK_TOKEN = re.compile(
    r"(?:^|[\s_-])(?:tooltip|rollover|popover|hovercard)(?:$|[\s_-])",
    re.IGNORECASE,
)
_KEEP_TAGS = {"html", "body", "main", "article"}
# class/id tokens of blocks that list other articles.
_RELATED_TOKEN = re.compile(
    r"(?:^|[\s_-])(?:related|recommended|more-stories|read-more|also-read|read-next|up-next)"
    r"(?:$|[\s_-])",
    re.IGNORECASE,
)
_MAX_RELATED = 20

_WORD = re.compile(r"\w+")
_DATE_LINE = re.compile(
    r"^(?:(?:published|updated|posted|last updated|modified|publicado|atualizado|mis à jour"
    r"|publié|veröffentlicht|aktualisiert)\b[^.!?]{0,60}|[\w ,.:/|-]{0,20}\b(?:19|20)\d\d\b"
    r"[\w ,.:/|-]{0,30}(?:\d{1,2}[:.]\d\d\s*(?:[ap]\.?m\.?)?[\w ]{0,8})?)$",
    re.IGNORECASE,
)
_BOILER_LINE = re.compile(
    r"(?:^(?:share|tweet|email|print|like this|follow us|follow|sign up|subscribe|read more"
    r"|related|also on|also read|see also|more from|click here|advertisement|sponsored"
    r"|image|photo|picture|credit|source|tags?|filed under|topics?|categor(?:y|ies)"
    r"|by)\b.{0,120}$)"
    r"|(?:©|\(c\)|copyright|all rights reserved)"
    r"|(?:share (?:it|this)|share on|with a friend|sign up for|subscribe to)",
    re.IGNORECASE,
)


@dataclass
class Block:
    """One paragraph-level unit of the extracted article."""

    kind: str  # "p", "heading", "item", "quote", "table"
    text: str
    link_chars: int = 0
    links: list[str] = field(default_factory=list)

    @property
    def words(self) -> int:
        """Number of word tokens in the block."""
        return len(_WORD.findall(self.text))


@dataclass
class Extracted:
    """What the body pass found: kept blocks, dropped teasers, trafilatura's metadata guesses."""

    blocks: list[Block]
    related: list[RelatedTeaser]
    title: str | None = None


def _class_and_id(element: HtmlElement) -> str:
    return element.get("class", "") + " " + element.get("id", "")


def _is_junk(element: HtmlElement) -> bool:
    if element.tag in _KEEP_TAGS:
        return False
    if element.get("hidden") is not None:
        return True
    style = element.get("style", "").replace(" ", "").lower()
    if "display:none" in style or "visibility:hidden" in style:
        return True
    return bool(_JUNK_TOKEN.search(_class_and_id(element)))


_ATTRIBUTED = "//*[@class or @id or @hidden or @style]"


def clean_tree(tree: HtmlElement) -> None:
    """Remove elements that are never article text, in place."""
    doomed = [el for el in tree.xpath(_ATTRIBUTED) if _is_junk(el)]
    for el in doomed:
        parent = el.getparent()
        if parent is None:
            continue
        # Keep the text that follows the element: it belongs to the parent.
        if el.tail and el.tail.strip():
            previous = el.getprevious()
            if previous is not None:
                previous.tail = (previous.tail or "") + el.tail
            else:
                parent.text = (parent.text or "") + el.tail
        parent.remove(el)


def _text_of(element: etree._Element) -> tuple[str, int, list[str]]:
    """Text of a trafilatura block, the number of its characters inside links, and link targets."""
    parts: list[str] = []
    link_chars = 0
    links: list[str] = []

    def walk(el: etree._Element) -> None:
        nonlocal link_chars
        if el.tag == "lb":
            parts.append("\n")
        elif el.text:
            parts.append(el.text)
        if el.tag == "ref":
            link_chars += len("".join(el.itertext()).strip())
            if el.get("target"):
                links.append(el.get("target"))
        for child in el:
            walk(child)
            if child.tail:
                parts.append(child.tail)

    walk(element)
    text = "".join(parts)
    text = "\n".join(" ".join(line.split()) for line in text.split("\n"))
    text = re.sub(r"\n{2,}", "\n", text).strip()
    return text, link_chars, links


def _tail_block(text: str | None) -> list[Block]:
    """Loose text between top-level blocks, which trafilatura leaves as an element's tail."""
    text = " ".join((text or "").split())
    return [Block("p", text)] if text else []


def _blocks_of(body: etree._Element) -> list[Block]:
    blocks: list[Block] = _tail_block(body.text)
    for el in body:
        blocks += _block_of(el)
        blocks += _tail_block(el.tail)
    return blocks


def _block_of(el: etree._Element) -> list[Block]:
    if el.tag == "list":
        items = (_text_of(item) for item in el.iter("item"))
        return [Block("item", text, n, links) for text, n, links in items if text]
    if el.tag == "table":
        return _table_block(el)
    text, link_chars, links = _text_of(el)
    if not text:
        return []
    heads = list(el.iter("head"))
    kind = "heading" if el.tag == "head" or (heads and _text_of(heads[0])[0] == text) else "p"
    if el.tag == "quote":
        kind = "quote"
    return [Block(kind, text, link_chars, links)]


def _table_block(el: etree._Element) -> list[Block]:
    rows = []
    link_chars = 0
    links: list[str] = []
    for row in el.iter("row"):
        cells = []
        for cell in row.iter("cell"):
            text, n, targets = _text_of(cell)
            link_chars += n
            links += targets
            if text:
                cells.append(text.replace("\n", " "))
        if cells:
            rows.append(" | ".join(cells))
    return [Block("table", "\n".join(rows), link_chars, links)] if rows else []


def _norm(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


def anchor_texts(tree: HtmlElement) -> dict[str, str]:
    """Normalised text of every link of three words or more, mapped to its target."""
    anchors: dict[str, str] = {}
    for a in tree.iter("a"):
        key = _norm(a.text_content())
        if key.count(" ") >= 2:
            anchors.setdefault(key, a.get("href") or "")
    return anchors


def _is_teaser(block: Block, anchors: dict[str, str]) -> bool:
    """A block whose whole text is one link: a teaser for another page, not this article."""
    return block.kind != "table" and block.words <= 40 and _norm(block.text) in anchors


def _is_boilerplate_line(block: Block) -> bool:
    if block.words > 25 or block.kind == "table":
        return False
    text = block.text.strip()
    if _DATE_LINE.match(text):
        return True
    return bool(_BOILER_LINE.search(text))


def filter_blocks(
    blocks: list[Block], titles: list[str], anchors: dict[str, str]
) -> tuple[list[Block], list[Block]]:
    """Split blocks into (kept, teasers) by the precision rules in the module docstring."""
    title_keys = {_norm(t) for t in titles if t and _norm(t)}
    kept: list[Block] = []
    teasers: list[Block] = []
    for index, block in enumerate(blocks):
        if index < 3 and _norm(block.text) in title_keys:
            continue
        if _is_teaser(block, anchors):
            block.links = [anchors[_norm(block.text)]]
            teasers.append(block)
            continue
        if _is_boilerplate_line(block):
            continue
        kept.append(block)
    return kept, teasers


def related_teasers(tree: HtmlElement, base_url: str | None = None) -> list[RelatedTeaser]:
    """Links listed in related-articles blocks, as teasers (title and URL)."""
    teasers: dict[str, RelatedTeaser] = {}
    containers = [
        el
        for el in tree.xpath(_ATTRIBUTED)
        if el.tag not in _KEEP_TAGS and _RELATED_TOKEN.search(_class_and_id(el))
    ]
    for container in containers:
        for a in container.iter("a"):
            title = " ".join(a.text_content().split())
            url = web_url(a.get("href"), base_url)
            if title.count(" ") < 3 or url is None:
                continue
            teasers.setdefault(_norm(title), RelatedTeaser(title=title, url=url))
            if len(teasers) >= _MAX_RELATED:
                return list(teasers.values())
    return list(teasers.values())


def web_url(href: str | None, base_url: str | None) -> str | None:
    """``href`` made absolute if it is an http(s) link; None for javascript:, data: and the like."""
    href = (href or "").strip()
    if not href or href.startswith("#"):
        return None
    absolute = urljoin(base_url, href) if base_url else href
    return absolute if urlsplit(absolute).scheme.lower() in ("http", "https") else None


def extract_body(
    tree: HtmlElement, url: str | None = None, titles: list[str] | None = None
) -> Extracted:
    """Main-content blocks of a parsed page (the tree is modified)."""
    listed = related_teasers(tree, url)
    clean_tree(tree)
    anchors = anchor_texts(tree)
    document = trafilatura.bare_extraction(
        tree,
        url=url,
        favor_precision=True,
        include_comments=False,
        # include_links=True drops text before links in trafilatura 2.3, so links are matched
        # against the page's anchors instead (see anchor_texts).
        include_links=False,
        include_tables=True,
        with_metadata=False,
    )
    if document is None or document.body is None:
        return Extracted([], [])
    blocks = _blocks_of(document.body)
    kept, teasers = filter_blocks(blocks, list(titles or []), anchors)
    seen = {_norm(t.title) for t in listed}
    related = listed + [
        RelatedTeaser(
            title=b.text.replace("\n", " "), url=web_url(b.links[0], url) if b.links else None
        )
        for b in teasers
        if _norm(b.text) not in seen
    ]
    return Extracted(kept, related[:_MAX_RELATED])
