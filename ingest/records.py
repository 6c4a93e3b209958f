"""Plain records that flow between ingest stages, and from ingest into the store."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Query parameters that only track a click; dropping them lets two links to one page share an id.
_TRACKING_PARAMS = ("utm_", "fbclid", "gclid", "mc_cid", "mc_eid", "ref_src", "cmpid")


# The metric vocabulary of shared/eval/FACTS.md: what a fact's figure measures.
METRICS = (
    "liquidations",
    "liquidated_traders",
    "open_interest",
    "funding_rate",
    "long_short_ratio",
    "price",
    "price_change",
    "market_cap",
    "dominance",
    "volume",
    "fund_flow",
    "aum",
    "holdings",
    "purchase",
    "supply",
    "tvl",
    "exploit_loss",
    "options_notional",
    "put_call_ratio",
    "exchange_flow",
    "exchange_reserve",
    "transfer",
    "interest_rate",
    "inflation",
    "other",
)


@dataclass
class QAPair:
    """A question shown with an article, and its answer."""

    question: str
    answer: str


@dataclass
class RelatedTeaser:
    """A teaser of another article shown beside this one."""

    title: str
    summary: str = ""
    source: str | None = None
    time: str | None = None
    url: str | None = None


@dataclass
class Article:
    """One article as parsed from a source, before it is stored."""

    title: str
    body: str
    url: str | None = None
    alternate_urls: list[str] = field(default_factory=list)
    source: str | None = None
    author: str | None = None
    published: str | None = None
    updated: str | None = None
    language: str | None = None
    headings: list[str] = field(default_factory=list)
    qa: list[QAPair] = field(default_factory=list)
    related: list[RelatedTeaser] = field(default_factory=list)
    origin: str = ""

    @property
    def id(self) -> str:
        """Stable id: from the canonical URL, or from the body when there is no URL."""
        return article_id(self.url, self.body)

    def to_dict(self) -> dict[str, Any]:
        """The article as JSON-ready data, id first."""
        data = asdict(self)
        return {"id": self.id, **data}


@dataclass
class Passage:
    """A run of whole sentences of an article body; ``body[start:end] == text``."""

    article_id: str
    ordinal: int
    text: str
    start: int
    end: int
    heading: str | None = None
    # Sentence spans within ``text``, as the chunker cut them; empty when not known (passages
    # stored before they were recorded), and ``passage_sentences`` then splits the text again.
    sentences: tuple[tuple[int, int], ...] = ()


@dataclass
class Fact:
    """One figure stated in commentary (the schema of shared/eval/FACTS.md plus provenance)."""

    value: float
    unit: str
    metric: str
    text: str
    start: int
    end: int
    sentence: str = ""
    entity: str | None = None
    entity_type: str | None = None
    side: str | None = None
    direction: str | None = None
    window: str | None = None
    qualifier: str = "exact"
    article_id: str | None = None
    passage_id: int | None = None
    as_of: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The fact as JSON-ready data."""
        return asdict(self)


def canonical_url(url: str) -> str:
    """Normalise a URL for identity: lower-case scheme and host, no fragment, no tracking params."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    if parts.port and not (
        (parts.scheme == "http" and parts.port == 80)
        or (parts.scheme == "https" and parts.port == 443)
    ):
        host = f"{host}:{parts.port}"
    query = parts.query
    if query:
        kept = [
            (k, v)
            for k, v in parse_qsl(query, keep_blank_values=True)
            if not k.lower().startswith(_TRACKING_PARAMS)
        ]
        query = (
            urlencode(kept) if len(kept) != len(parse_qsl(query, keep_blank_values=True)) else query
        )
    return urlunsplit((parts.scheme.lower(), host, parts.path or "/", query, ""))


def article_id(url: str | None, body: str) -> str:
    """sha1 of the canonical URL (or of the body when there is none), first 12 hex digits."""
    key = canonical_url(url) if url else "body:" + " ".join(body.split())
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:12]
