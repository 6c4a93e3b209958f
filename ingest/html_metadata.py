"""Facts about an HTML page besides its body: title, URLs, publisher, author, dates, language, FAQ.

Structured sources win over guesses: ``<meta>`` tags and JSON-LD first, then ``<time>`` elements and
the URL, and htmldate's markup-only search when none of those names a date (its extensive search
guesses from copyright lines and stray numbers, which dates pages wrongly).
"""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import htmldate
from dateutil import parser as date_parser
from lxml.html import HtmlElement

from ingest.records import QAPair

_PUBLISHED_META = (
    "article:published_time",
    "og:published_time",
    "published_time",
    "datepublished",
    "pubdate",
    "publishdate",
    "publish-date",
    "publication_date",
    "parsely-pub-date",
    "sailthru.date",
    "dc.date",
    "dc.date.issued",
    "dcterms.created",
    "dcterms.issued",
    "date",
)
_UPDATED_META = (
    "article:modified_time",
    "og:updated_time",
    "modified_time",
    "datemodified",
    "last-modified",
    "dcterms.modified",
)
_URL_DATE = re.compile(
    r"/((?:19|20)\d\d)[/-](0?[1-9]|1[0-2])[/-](0?[1-9]|[12]\d|3[01])(?:/|$|[-_])"
)
_TAGS = re.compile(r"<[^>]+>")
# US zone abbreviations news pages print; other abbreviations are ambiguous and left naive.
_TZINFOS = {
    name: hours * 3600
    for name, hours in (
        ("UTC", 0),
        ("GMT", 0),
        ("EST", -5),
        ("EDT", -4),
        ("ET", -5),
        ("CST", -6),
        ("CDT", -5),
        ("MST", -7),
        ("MDT", -6),
        ("PST", -8),
        ("PDT", -7),
        ("BST", 1),
        ("CET", 1),
        ("CEST", 2),
    )
}


@dataclass
class PageMeta:
    """Metadata of one page; every field is optional."""

    title: str | None = None
    url: str | None = None
    alternate_urls: list[str] = field(default_factory=list)
    source: str | None = None
    author: str | None = None
    published: str | None = None
    updated: str | None = None
    language: str | None = None
    qa: list[QAPair] = field(default_factory=list)
    title_variants: list[str] = field(default_factory=list)


def _clean(text: str | None) -> str:
    return " ".join((text or "").split())


def _meta_values(tree: HtmlElement) -> dict[str, str]:
    """First content of each <meta> by lower-cased name/property/itemprop."""
    values: dict[str, str] = {}
    for meta in tree.iter("meta"):
        content = _clean(meta.get("content"))
        if not content:
            continue
        for attribute in ("property", "name", "itemprop", "http-equiv"):
            key = (meta.get(attribute) or "").strip().lower()
            if key:
                values.setdefault(key, content)
    return values


def json_ld_objects(tree: HtmlElement) -> list[dict[str, Any]]:
    """Every JSON object in the page's JSON-LD scripts, nested @graph members included."""
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for child in node:
                walk(child)
        elif isinstance(node, dict):
            found.append(node)
            for value in node.values():
                if isinstance(value, dict | list):
                    walk(value)

    for script in tree.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json":
            continue
        try:
            walk(json.loads(script.text or "", strict=False))
        except ValueError:
            continue  # broken JSON-LD is common; the page is still usable
    return found


def _types(obj: dict[str, Any]) -> set[str]:
    kind = obj.get("@type", [])
    return {str(k).lower() for k in (kind if isinstance(kind, list) else [kind])}


def _is_article(obj: dict[str, Any]) -> bool:
    return any(t.endswith(("article", "posting", "blogposting", "report")) for t in _types(obj))


def _name_of(value: Any) -> str | None:
    if isinstance(value, str):
        return _clean(value) or None
    if isinstance(value, dict):
        return _name_of(value.get("name"))
    if isinstance(value, list):
        names = [n for n in (_name_of(v) for v in value) if n]
        return ", ".join(dict.fromkeys(names)) or None
    return None


def to_iso(value: str | None) -> str | None:
    """An ISO 8601 form of a date string: with time and offset when given, else the date only."""
    value = _clean(value)
    if not value or not re.search(r"\d", value):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", date_parser.UnknownTimezoneWarning)
                parsed = date_parser.parse(value, fuzzy=True, tzinfos=_TZINFOS)
        except (ValueError, OverflowError):
            return None
    if not 1990 <= parsed.year <= 2100:
        return None
    has_time = bool(re.search(r"\d:\d\d", value))
    if not has_time:
        return parsed.date().isoformat()
    return parsed.isoformat()


def date_from_url(url: str | None) -> str | None:
    """The date in a URL path such as /2019/11/18/, as YYYY-MM-DD."""
    match = _URL_DATE.search(urlsplit(url).path) if url else None
    if not match:
        return None
    year, month, day = (int(g) for g in match.groups())
    try:
        return datetime(year, month, day).date().isoformat()
    except ValueError:
        return None


def _time_element_date(tree: HtmlElement, updated: bool) -> str | None:
    words = ("modif", "updat") if updated else ("publish", "posted", "pubdate", "created")
    candidates = []
    for element in tree.iter("time"):
        stamp = element.get("datetime") or (None if updated else element.text)
        if not stamp:
            continue
        label = " ".join(
            (element.get(a) or "") for a in ("itemprop", "class", "pubdate", "id")
        ).lower()
        if element.get("pubdate") is not None:
            label += " pubdate"
        if any(w in label for w in words):
            return to_iso(stamp)
        candidates.append(stamp)
    if updated or not candidates:
        return None
    return to_iso(candidates[0])


def _first(*values: str | None) -> str | None:
    return next((v for v in values if v), None)


def _dates(
    tree: HtmlElement, meta: dict[str, str], articles: list[dict[str, Any]], url: str | None
) -> tuple[str | None, str | None]:
    published = _first(
        *(to_iso(meta.get(k)) for k in _PUBLISHED_META),
        *(to_iso(_str(a.get("datePublished"))) for a in articles),
        _time_element_date(tree, updated=False),
        date_from_url(url),
    )
    updated = _first(
        *(to_iso(meta.get(k)) for k in _UPDATED_META),
        *(to_iso(_str(a.get("dateModified"))) for a in articles),
        _time_element_date(tree, updated=True),
    )
    if published is None:
        try:
            published = htmldate.find_date(
                tree, extensive_search=False, original_date=True, url=url
            )
        except Exception:  # noqa: BLE001 - htmldate's heuristics may fail on odd pages
            published = None
    return published, updated


def _str(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    return value if isinstance(value, str) else None


def _host(url: str | None) -> str | None:
    host = (urlsplit(url).hostname or "") if url else ""
    return host.removeprefix("www.") or None


def _links(tree: HtmlElement, rel: str) -> list[str]:
    return [
        link.get("href", "").strip()
        for link in tree.iter("link")
        if rel in (link.get("rel") or "").lower().split() and link.get("href", "").strip()
    ]


def _absolute(href: str | None, base: str | None) -> str | None:
    if not href:
        return None
    url = urljoin(base, href) if base else href
    return url if urlsplit(url).scheme in ("http", "https") else None


def _urls(
    tree: HtmlElement, meta: dict[str, str], given: str | None
) -> tuple[str | None, list[str]]:
    canonical = _absolute(next(iter(_links(tree, "canonical")), None), given)
    og_url = _absolute(meta.get("og:url"), given)
    amp = [_absolute(href, given) for href in _links(tree, "amphtml")]
    chosen = canonical or given or og_url
    known = [given, og_url, canonical, *amp]
    alternates = [u for u in dict.fromkeys(u for u in known if u) if u != chosen]
    return chosen, alternates


def _strip_site(title: str, site: str | None) -> str:
    """Drop a trailing or leading " | Site" from a <title>."""
    parts = re.split(r"\s+[|\-–—:·•]\s+", title)
    if len(parts) > 1 and site:
        key = site.lower()
        if parts[-1].strip().lower() in key or key in parts[-1].strip().lower():
            return " - ".join(parts[:-1]) if len(parts) > 2 else parts[0]
        if parts[0].strip().lower() in key or key in parts[0].strip().lower():
            return parts[-1]
    return title


def _faq(tree: HtmlElement, objects: list[dict[str, Any]]) -> list[QAPair]:
    pairs: list[QAPair] = []
    for obj in objects:
        if "question" not in _types(obj):
            continue
        answer = obj.get("acceptedAnswer") or obj.get("suggestedAnswer")
        if isinstance(answer, list):
            answer = answer[0] if answer else None
        text = answer.get("text") if isinstance(answer, dict) else None
        question = _name_of(obj.get("name"))
        if question and isinstance(text, str):
            pairs.append(QAPair(question, _clean(_TAGS.sub(" ", text))))
    if pairs:
        return pairs
    # Microdata FAQ markup (schema.org/Question with itemprop name and text).
    for item in tree.xpath('//*[@itemtype and contains(@itemtype, "Question")]'):
        names = item.xpath('.//*[@itemprop="name"]')
        texts = item.xpath('.//*[@itemprop="acceptedAnswer"]//*[@itemprop="text"]')
        if names and texts:
            pairs.append(QAPair(_clean(names[0].text_content()), _clean(texts[0].text_content())))
    return pairs


def page_meta(tree: HtmlElement, url: str | None = None) -> PageMeta:
    """Metadata of a parsed page (the tree is not modified)."""
    meta = _meta_values(tree)
    objects = json_ld_objects(tree)
    articles = [o for o in objects if _is_article(o)]
    chosen, alternates = _urls(tree, meta, url)

    source = _first(
        meta.get("og:site_name"),
        *(_name_of(a.get("publisher")) for a in articles),
        meta.get("application-name"),
        _host(chosen or url),
    )
    h1 = next((_clean(h.text_content()) for h in tree.iter("h1") if _clean(h.text_content())), None)
    title_tag = next((_clean(t.text_content()) for t in tree.iter("title")), None)
    headline = next((_name_of(a.get("headline")) for a in articles if a.get("headline")), None)
    title = _first(
        meta.get("og:title"),
        headline,
        h1,
        _strip_site(title_tag, source) if title_tag else None,
        meta.get("twitter:title"),
    )
    variants = [
        v for v in (meta.get("og:title"), headline, h1, title_tag, meta.get("twitter:title")) if v
    ]
    if title_tag:
        variants.append(_strip_site(title_tag, source))

    author = _first(
        *(_name_of(a.get("author")) for a in articles),
        meta.get("author"),
        meta.get("article:author")
        if not (meta.get("article:author") or "").startswith("http")
        else None,
        meta.get("parsely-author"),
        meta.get("dc.creator"),
    )
    published, updated = _dates(tree, meta, articles, chosen or url)
    root = tree.getroottree().getroot()
    language = _first(
        root.get("lang"),
        root.get("{http://www.w3.org/XML/1998/namespace}lang"),
        meta.get("content-language"),
        meta.get("og:locale"),
        *(_str(a.get("inLanguage")) for a in articles),
    )
    return PageMeta(
        title=title,
        url=chosen,
        alternate_urls=alternates,
        source=source,
        author=author,
        published=published,
        updated=updated,
        language=language.strip().replace("_", "-") if language else None,
        qa=_faq(tree, objects),
        title_variants=variants,
    )


def json_ld_article_body(tree: HtmlElement) -> str | None:
    """The longest articleBody the page's JSON-LD declares, if any."""
    bodies = [
        o["articleBody"] for o in json_ld_objects(tree) if isinstance(o.get("articleBody"), str)
    ]
    return max(bodies, key=len) if bodies else None
