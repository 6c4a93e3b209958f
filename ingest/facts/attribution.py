"""Who or what a figure is about (entity) and which side of the market (long/short) it counts.

A sentence is cut into segments at clause breaks (commas, "and", "while", dashes); a figure takes
the nearest entity of its own segment, then the nearest earlier one in the sentence, then a
pronoun's antecedent from earlier sentences. Lists closed by "respectively" pair up in order, and a
figure in parentheses belongs to the name just before them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ingest.dates import CALENDAR_WORDS
from ingest.gazetteer import Mention

_I = re.IGNORECASE
_SEGMENT_BREAK = re.compile(
    r",\s|;\s|:\s|\s[—–-]\s|—|\s(?:and|while|whereas|but|compared (?:to|with)|versus|vs\.?|"
    r"followed by|alongside|than)\s",
    _I,
)
_CONTINUATION = re.compile(
    r"^\s*(?:with|accounting|representing|totall?ing|amounting|of which|mostly|or|reaching|"
    r"making|bringing|including|led by|which)\b",
    _I,
)
_LONG = re.compile(
    r"(?<![-/])\blongs?\b(?![-/ ](?:term|short|to-short|run|time|way))|bets? on higher prices|"
    r"betting on (?:a )?(?:bullish|higher|rising)|bullish (?:bets|traders|positions)|\bbulls\b",
    _I,
)
_SHORT = re.compile(
    r"(?<!as )(?<![-/])\bshorts?\b(?![-/ ](?:term|long|to-long|lived|while|time))|short-sellers?|"
    r"bets? (?:on|against) (?:lower|falling)|betting against|bearish (?:bets|traders|"
    r"positions)|\bbears\b",
    _I,
)
_NOT_SIDE = re.compile(r"\bas long as\b|\bin short\b|\bshort of\b|\bfor long\b|\blong before\b", _I)
SIDED_METRICS = frozenset(
    {"liquidations", "liquidated_traders", "open_interest", "fund_flow", "other"}
)
_LOCATION_BEFORE = re.compile(
    r"\b(?:on|at|across|from|via|by)\s+(?:crypto\s+)?(?:exchange\s+)?$", _I
)
_ANAPHORA = (
    (
        re.compile(
            r"\b(?:the|this) (?:company|firm|miner|group|holding company|portfolio|treasury|"
            r"stash)\b|"
            r"\b(?:they|their|its holdings)\b",
            _I,
        ),
        ("company", "fund", "exchange"),
    ),
    (re.compile(r"\bthe (?:exchange|platform|venue)\b", _I), ("exchange",)),
    (re.compile(r"\bthe (?:fund|ETF|product|trust)\b", _I), ("fund",)),
    (
        re.compile(
            r"\bthe (?:token|coin|asset|cryptocurrency|crypto|memecoin)\b"
            r"(?! (?:market|sector|industry|space|ecosystem|community|derivatives))|\bits price\b",
            _I,
        ),
        ("asset",),
    ),
    (
        re.compile(r"\b(?:its|it)\b", _I),
        ("company", "fund", "exchange", "asset", "protocol", "network"),
    ),
)
# Mentions that name where data came from, not what it is about.
_SOURCE_AFTER = re.compile(
    r"^['’]?s?\s*(?:data|report|figures|analysis|research|analysts?|shows|showed)\b", _I
)
_ADJECTIVE_FOLLOWERS = re.compile(
    r"^(?:-\w+|\s+(?:[A-Z]\w*|spot|ETFs?|ETPs?|markets?|trading|stocks?|elections?|dollar|government|"
    r"treasury|economy|investors?|regulators?|lawmakers|banks?|exchanges?|session|hours|-traded)\b)"
)
# Capitalised words that start sentences or name data, not the thing a figure is about.
_NOT_CANDIDATE = frozenset(
    [
        "the",
        "a",
        "an",
        "this",
        "that",
        "these",
        "those",
        "in",
        "on",
        "at",
        "for",
        "of",
        "by",
        "with",
        "from",
        "to",
        "as",
        "and",
        "but",
        "or",
        "if",
        "it",
        "its",
        "their",
        "there",
        "here",
        "according",
        "data",
        "crypto",
        "cryptocurrency",
        "defi",
        "meanwhile",
        "however",
        "also",
        "while",
        "total",
        "overall",
        "long",
        "short",
        "longs",
        "shorts",
        "bitcoin",
        "ethereum",
        "etf",
        "etfs",
        "etps",
        "spot",
        "futures",
        "options",
        "market",
        "markets",
        *CALENDAR_WORDS,
        "ceo",
        "cio",
        "cfo",
        "head",
        "analyst",
        "analysts",
        "source",
        "report",
        "funds",
        "fund",
        "today",
        "yesterday",
        "over",
        "more",
        "nearly",
        "about",
        "around",
        "roughly",
        "approximately",
        "some",
        "just",
        "only",
        "despite",
        "after",
        "before",
        "since",
        "during",
        "among",
        "other",
        "others",
        "liquidations",
        "liquidation",
        "so",
    ]
)
_CAPITALISED = re.compile(r"\b([A-Z][\w.&'-]*[A-Za-z0-9](?:\s+[A-Z][\w.&'-]*[A-Za-z0-9])*)")


@dataclass
class Segment:
    """A clause-like piece of a sentence."""

    start: int
    end: int


def segments_of(sentence: str) -> list[Segment]:
    """Clause-like pieces of a sentence, split at commas, conjunctions and dashes."""
    pieces, cursor = [], 0
    for match in _SEGMENT_BREAK.finditer(sentence):
        if match.start() > cursor:
            pieces.append(Segment(cursor, match.start()))
        cursor = match.end()
    pieces.append(Segment(cursor, len(sentence)))
    return pieces


def segment_index(segments: list[Segment], position: int) -> int:
    """Index of the segment holding ``position``."""
    for index, segment in enumerate(segments):
        if position < segment.end:
            return index
    return len(segments) - 1


def side_of(sentence: str, segments: list[Segment], start: int, end: int) -> str | None:
    """long/short from the side words of the figure's segment (or the one it continues)."""
    index = segment_index(segments, start)
    blocked = [(m.start(), m.end()) for m in _NOT_SIDE.finditer(sentence)]
    while index >= 0:
        segment = segments[index]
        best: tuple[int, str] | None = None
        for pattern, label in ((_LONG, "long"), (_SHORT, "short")):
            for match in pattern.finditer(sentence, segment.start, segment.end):
                if any(a <= match.start() < b for a, b in blocked):
                    continue
                distance = (
                    abs(match.start() - start) if match.start() < start else match.start() - end
                )
                if best is None or distance < best[0]:
                    best = (distance, label)
        if best:
            return best[1]
        if not _CONTINUATION.match(sentence[segment.start : segment.end]):
            break
        index -= 1
    return _list_side(sentence, start)


def _list_side(sentence: str, start: int) -> str | None:
    """The side a list's lead-in names: "Short liquidation dominance…: Binance (52.94%)"."""
    colon = sentence.rfind(": ", 0, start)
    if colon < 0:
        return None
    lead = sentence[:colon]
    blocked = [(m.start(), m.end()) for m in _NOT_SIDE.finditer(lead)]
    found = {
        label
        for pattern, label in ((_LONG, "long"), (_SHORT, "short"))
        for match in pattern.finditer(lead)
        if not any(a <= match.start() < b for a, b in blocked)
    }
    return found.pop() if len(found) == 1 else None


def sides_respectively(sentence: str, count: int) -> list[str] | None:
    """Sides listed in order before "respectively", when there is one per figure."""
    if "respectively" not in sentence.lower():
        return None
    labels = sorted(
        [(m.start(), "long") for m in _LONG.finditer(sentence)]
        + [(m.start(), "short") for m in _SHORT.finditer(sentence)]
    )
    return [label for _, label in labels] if len(labels) == count else None


_HOLDER_METRICS = frozenset({"holdings", "purchase", "other", "interest_rate"})
# Measures whose entity is the holder, never the asset held; and what may be held.
_HELD_BY_OWNER = frozenset({"holdings", "purchase"})
_HELD_TYPES = frozenset({"asset", "index"})
_VENUE_METRICS = frozenset(
    {
        "liquidations",
        "open_interest",
        "volume",
        "long_short_ratio",
        "funding_rate",
        "liquidated_traders",
    }
)
_AFTER_REACH = 3
# Words that may sit between a figure and the thing it is about: "$4.3 billion in Bitcoin".
_LINKS_AFTER = frozenset(
    {
        "in",
        "of",
        "worth",
        "for",
        "on",
        "across",
        "at",
        "the",
        "from",
        "(",
        "by",
        "into",
        "inflow",
        "inflows",
        "outflow",
        "outflows",
        "net",
        "liquidations",
        "options",
        "long",
        "short",
        "positions",
    }
)


def entity_cost(sentence: str, mention: Mention, start: int, end: int, metric: str) -> float | None:
    """How unlikely a mention is to be what the figure at ``start:end`` is about (lower is "
    "likelier); None when it cannot be."""
    if metric in _HELD_BY_OWNER and mention.type in _HELD_TYPES:
        # Holdings and purchases belong to who holds or buys; the coin is what is held.
        return None
    if mention.end <= start:
        cost = float(len(sentence[mention.end : start].split()))
    else:
        between = sentence[end : mention.start].split()
        venue = (
            mention.type == "exchange"
            and metric in _VENUE_METRICS
            and re.search(
                r"\b(?:on|at)\s+(?:crypto\s+)?(?:exchange\s+)?$", sentence[: mention.start], _I
            )
        )
        if not venue and (
            len(between) > _AFTER_REACH or any(w.lower() not in _LINKS_AFTER for w in between)
        ):
            return None
        cost = len(between) + 2.5
    if mention.type == "person":
        cost += 6
    elif mention.type == "country":
        cost += 3
    if metric in _HOLDER_METRICS and mention.type in _HELD_TYPES:
        cost += 8
    if (
        mention.type == "exchange"
        and metric in _VENUE_METRICS
        and (
            _LOCATION_BEFORE.search(sentence[: mention.start])
            or re.match(r"['’]s\b", sentence[mention.end : mention.end + 2])
        )
    ):
        cost -= 12
    return cost


def choose_entity(
    sentence: str,
    segments: list[Segment],
    mentions: list[Mention],
    start: int,
    end: int,
    metric: str,
) -> Mention | None:
    """The mention a figure is about: own segment first, then earlier in the sentence."""
    if not mentions:
        return None
    issuers = {m.name for m in mentions if m.type == "fund"}
    usable = [m for m in mentions if not (m.type == "company" and _is_issuer_of(m.name, issuers))]
    paren = _parenthesis_owner(sentence, usable, start)
    if paren:
        return paren
    index = segment_index(segments, start)
    segment = segments[index]
    for pool in (
        [m for m in usable if segment.start <= m.start < segment.end],
        [m for m in usable if m.end <= segment.start],
    ):
        scored = [(entity_cost(sentence, m, start, end, metric), m) for m in pool]
        scored = [(cost, m) for cost, m in scored if cost is not None]
        if scored:
            best = min(scored, key=lambda pair: pair[0])[1]
            if best.type in {"asset", "index"} and metric in _VENUE_METRICS:
                venues = [
                    m
                    for m in usable
                    if m.type == "exchange"
                    and m.end <= start
                    and (entity_cost(sentence, m, start, end, metric) or 0) < 0
                ]
                if venues:
                    return venues[-1]
            return best
    return None


def _is_issuer_of(company: str, funds: set[str]) -> bool:
    """Whether a company name is the issuer prefix of a fund named in the same sentence."""
    return any(fund.startswith(company + " ") for fund in funds)


def _parenthesis_owner(sentence: str, mentions: list[Mention], start: int) -> Mention | None:
    """The mention right before "(" when the figure opens a parenthesis: "Bitcoin ($84 million)"."""
    head = sentence[:start].rstrip()
    if not head.endswith("("):
        return None
    head = head[:-1].rstrip()
    for mention in mentions:
        if mention.end == len(head):
            return mention
    return None


def attributable(sentence: str, mention: Mention) -> bool:
    """Whether a mention can be what a figure is about (not a data source or an adjective)."""
    if mention.type == "source":
        return False
    after = sentence[mention.end :]
    if mention.type == "country" and _ADJECTIVE_FOLLOWERS.match(after):
        return False
    # Exchanges stay: "according to Deribit" names the venue the options trade on.
    return not (
        mention.type == "company"
        and (
            _SOURCE_AFTER.match(after)
            or re.search(
                r"(?:according to|data from|reported by|shared by|cited by)\s+(?:the\s+)?$",
                sentence[: mention.start],
                _I,
            )
        )
    )


def anaphora_entity(sentence: str, start: int, history: list[Mention]) -> Mention | None:
    """The earlier mention a pronoun before the figure ("the company", "its") refers to."""
    head = sentence[:start]
    for pattern, types in _ANAPHORA:
        if pattern.search(head):
            for mention in reversed(history):
                if mention.type in types:
                    return mention
    return None


def candidate_name(sentence: str, segment: Segment, start: int) -> str | None:
    """An unknown capitalised name shortly before the figure in its segment, kept as a candidate."""
    head = sentence[segment.start : start]
    words = head.split()
    if len(words) > 4:
        head = " ".join(words[-4:])
    best = None
    for match in _CAPITALISED.finditer(head):
        name = match.group(1)
        parts = [p for p in name.split() if p.lower() not in _NOT_CANDIDATE]
        if (
            not parts
            or parts[0][0].isdigit()
            or "-" in name
            or re.fullmatch(r"[A-Z]{2,5}s?", parts[-1])
        ):
            continue
        # One capitalised word opening a sentence is usually just the first word.
        if (
            match.start() == 0
            and segment.start == 0
            and len(parts) == 1
            and parts[0].lower() == name.lower()
            and not re.search(r"[A-Z].*[A-Z]|\d", name)
        ):
            continue
        best = " ".join(parts)
    return best


# Only a company reads as an article's subject: asset and exchange names run through market-wide
# reports too (a liquidation report names Bitcoin throughout yet counts the whole market).
_SUBJECT_TYPES = frozenset({"company"})
_LEAD_SENTENCES = 3


def document_subject(
    mentions_per_sentence: list[tuple[Mention, ...]],
    sentences: list[str],
    types: frozenset[str] = _SUBJECT_TYPES,
    dominance: float = 2.0,
) -> Mention | None:
    """The company an article is plainly about: named most, in its lead above all.

    Readers take a holding or a deal without a named owner ("Approximately $119 million was also
    generated") to be the subject's; only a clear subject qualifies (a score of 4+, lead sentences
    counting double, and twice any other company's).
    """
    counts: dict[str, float] = {}
    first: dict[str, Mention] = {}
    for index, (mentions, sentence) in enumerate(
        zip(mentions_per_sentence, sentences, strict=True)
    ):
        weight = 2.0 if index < _LEAD_SENTENCES else 1.0
        for mention in mentions:
            if mention.type not in types or not attributable(sentence, mention):
                continue
            counts[mention.name] = counts.get(mention.name, 0.0) + weight
            first.setdefault(mention.name, mention)
    if not counts:
        return None
    ranked = sorted(counts.items(), key=lambda item: -item[1])
    name, score = ranked[0]
    runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
    if score < 4 or score < dominance * runner_up:
        return None
    return first[name]


# An asset is the subject of a piece about it alone ("XRP derivatives saw…"), but market-wide
# reports name Bitcoin throughout too: it must outweigh every other asset three to one, and it
# only stands in for figures of single-asset measures in sentences naming no one and nothing
# market-wide.
ASSET_SUBJECT_TYPES = frozenset({"asset"})
ASSET_SUBJECT_DOMINANCE = 3.0


def document_venue(mentions_per_sentence: list[tuple[Mention, ...]]) -> Mention | None:
    """The exchange an article names most (strictly), taken as the venue of options it reports."""
    counts: dict[str, int] = {}
    first: dict[str, Mention] = {}
    for mention in (m for mentions in mentions_per_sentence for m in mentions):
        if mention.type == "exchange":
            counts[mention.name] = counts.get(mention.name, 0) + 1
            first.setdefault(mention.name, mention)
    ranked = sorted(counts.values(), reverse=True)
    if not ranked or (len(ranked) > 1 and ranked[0] == ranked[1]):
        return None
    return first[max(counts, key=lambda name: counts[name])]


_SUBJECT_METRICS = {
    "company": frozenset({"holdings", "purchase", "other", "interest_rate"}),
    "asset": frozenset(
        {
            "open_interest",
            "funding_rate",
            "long_short_ratio",
            "liquidations",
            "liquidated_traders",
            "volume",
            "price_change",
        }
    ),
}
# Sentences that speak of the whole market are not about the article's subject.
_MARKET_WIDE = re.compile(
    r"\b(?:market|markets|total|overall|across|crypto|cryptocurrenc\w*|altcoins?|all|sector|"
    r"industry|global|whole|entire|combined)\b",
    _I,
)


def subject_fits(sentence: str, subject: Mention | None, metric: str) -> bool:
    """Whether a figure with no named owner in its sentence is about the article's subject."""
    if subject is None or _MARKET_WIDE.search(sentence):
        return False
    return metric in _SUBJECT_METRICS.get(subject.type, frozenset())
