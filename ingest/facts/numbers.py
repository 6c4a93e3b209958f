"""Find the figures in a sentence and read their value, unit and qualifier.

A figure is a number with what makes it a measure: a currency ("$59M", "US$22 million",
"36 million dollars"), a percent or basis-point sign, a coin ("4,980 BTC"), a counted noun
("85,494 traders"), a ratio form ("2.67:1", "500x", "3 times") or a magnitude word
("204.2 million"). Bare numbers that are years, dates, times, ordinals, durations or labels
("top 10", "Layer 2") are not figures.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ingest.dates import CALENDAR_WORDS
from ingest.gazetteer import Gazetteer

_NUMBER = re.compile(r"(?<![\w.,/:#@])(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)(?!\d)")
_MAGNITUDE_WORD = re.compile(
    # Not followed by an ASCII letter (a stray non-ASCII glyph glued on still ends the word).
    r"\s?(trillion|billion|million|thousand|tn|bn|mn|mln|mil|bil)(?![A-Za-z])",
    re.IGNORECASE,
)
_MAGNITUDE_LETTER = re.compile(r"([kKmMbBtT])(?![\w])")
_THOUSAND_TAIL = re.compile(r"\s(thousand)\s(\d{1,3})(?![\d,.])", re.IGNORECASE)
_SCALE = {
    "trillion": 1e12,
    "tn": 1e12,
    "t": 1e12,
    "billion": 1e9,
    "bn": 1e9,
    "b": 1e9,
    "million": 1e6,
    "mn": 1e6,
    "mln": 1e6,
    "mil": 1e6,
    "bil": 1e9,
    "m": 1e6,
    "thousand": 1e3,
    "k": 1e3,
}
_PREFIX_CURRENCY = re.compile(
    r"(US\$|U\.S\.\s?\$|USD\s?|C\$|CA\$|A\$|AU\$|HK\$|S\$|NZ\$|R\$|\$|€|EUR\s?|£|GBP\s?|¥|JPY\s?|₹|₩|CHF\s?)\s?$"
)
_PREFIX_CODE = {
    "$": "USD",
    "US$": "USD",
    "U.S.$": "USD",
    "USD": "USD",
    "C$": "CAD",
    "CA$": "CAD",
    "A$": "AUD",
    "AU$": "AUD",
    "HK$": "HKD",
    "S$": "SGD",
    "NZ$": "NZD",
    "R$": "BRL",
    "€": "EUR",
    "EUR": "EUR",
    "£": "GBP",
    "GBP": "GBP",
    "¥": "JPY",
    "JPY": "JPY",
    "₹": "INR",
    "₩": "KRW",
    "CHF": "CHF",
}
_SUFFIX_CURRENCY = re.compile(
    r"\s?(USD|US dollars?|U\.S\. dollars?|dollars?|EUR|euros?|GBP|pounds sterling|pounds|JPY|"
    r"yen|CNY|yuan|"
    r"RMB|KRW|won|INR|rupees?|CHF|Swiss francs?|HKD|AUD|CAD)\b",
)
_SUFFIX_CODE = {
    "usd": "USD",
    "us dollar": "USD",
    "us dollars": "USD",
    "u.s. dollar": "USD",
    "u.s. dollars": "USD",
    "dollar": "USD",
    "dollars": "USD",
    "eur": "EUR",
    "euro": "EUR",
    "euros": "EUR",
    "gbp": "GBP",
    "pounds sterling": "GBP",
    "pounds": "GBP",
    "jpy": "JPY",
    "yen": "JPY",
    "cny": "CNY",
    "yuan": "CNY",
    "rmb": "CNY",
    "krw": "KRW",
    "won": "KRW",
    "inr": "INR",
    "rupee": "INR",
    "rupees": "INR",
    "chf": "CHF",
    "swiss franc": "CHF",
    "swiss francs": "CHF",
    "hkd": "HKD",
    "aud": "AUD",
    "cad": "CAD",
}
# Every fiat code the reader emits; any other unit of money-like form is a coin ticker.
CURRENCY_CODES = frozenset(_PREFIX_CODE.values()) | frozenset(_SUFFIX_CODE.values())
_PERCENT = re.compile(r"\s?(%|percent\b|per cent\b|pct\b|percentage points?\b)", re.IGNORECASE)
_BASIS_POINTS = re.compile(r"[\s-]?(bps|bp|basis[\s-]points?)\b", re.IGNORECASE)
_TIMES = re.compile(r"(?:x(?![\w])|\s?(?:times\b|-fold\b|fold\b))", re.IGNORECASE)
_COLON_RATIO = re.compile(r":1(?![\d:])")
_RANGE_JOIN = re.compile(r"\s?(?:-|–|to)\s?(?=[$€£¥]?\s?\d)")
_NEXT_WORD = re.compile(r"\s?(\$?[A-Za-z][\w.]*)")
_COUNT_NOUNS = frozenset(
    [
        "traders",
        "trader",
        "accounts",
        "account",
        "people",
        "persons",
        "users",
        "user",
        "addresses",
        "address",
        "wallets",
        "wallet",
        "contracts",
        "contract",
        "transactions",
        "transaction",
        "transfers",
        "transfer",
        "trades",
        "trade",
        "orders",
        "order",
        "positions",
        "holders",
        "holder",
        "investors",
        "investor",
        "companies",
        "company",
        "firms",
        "firm",
        "etfs",
        "etf",
        "etps",
        "etp",
        "funds",
        "fund",
        "filings",
        "shares",
        "miners",
        "nodes",
        "validators",
        "nfts",
        "customers",
        "participants",
        "entities",
        "institutions",
        "countries",
        "exchanges",
        "projects",
        "protocols",
        "applications",
        "apps",
        "blocks",
        "tokens",
        "coins",
        "whales",
        "individuals",
        "members",
        "employees",
        "clients",
        "deals",
        "votes",
        "signatures",
        "liquidations",
        "stablecoins",
    ]
)
_COIN_NOUNS = frozenset({"coins", "coin", "tokens", "token"})
# Month names and their abbreviations, as a regex alternation.
_MONTH_WORDS = "|".join(
    [*CALENDAR_WORDS[:12], *(name[:3] for name in CALENDAR_WORDS[:12] if name != "may"), "sept"]
)
_DURATION_OR_LABEL_AFTER = re.compile(
    r"(?:\s?-?(?:hours?|hrs?|h|days?|d|weeks?|wks?|months?|mos?|years?|yrs?|y|minutes?|mins?|min|seconds?|"
    r"secs?|s|quarters?|decades?|centur(?:y|ies)|am|pm|a\.m\.|p\.m\.|UTC|GMT|EST|ET)\b"
    r"|(?:st|nd|rd|th)\b|\s?(?:" + _MONTH_WORDS + r")\b\.?|[:/]\d|\.\d+\.\d)",
    re.IGNORECASE,
)
_MONTH_BEFORE = re.compile(
    r"\b(?:" + _MONTH_WORDS + r")\.?\s$",
    re.IGNORECASE,
)
_LABEL_BEFORE = re.compile(
    r"\b(?:top|no\.|number|layer|phase|class|series|version|v|q|h|fy|hut|web|section|chapter|page|"
    r"figure|fig\.|step|tier|level|round|day|week|month|year|part|article|rule|item|#)\s?$",
    re.IGNORECASE,
)
_QUALIFIERS = (
    (
        "approx",
        r"approximately|approx\.?|about|around|nearly|almost|roughly|some|close to(?: the)?|"
        r"near|circa|an estimated|estimated|~|≈|c\.",
    ),
    (
        "over",
        r"(?:just |well |slightly )?(?:over|above)|more than|at least|exceeding|exceeds|exceeded|"
        r"in excess of|upwards of|north of|surpassing|surpassed|topping|greater than|beyond",
    ),
    (
        "under",
        r"(?:just |slightly |well )?(?:under|below)|less than|fewer than|up to|at most|no more "
        r"than|"
        r"shy of|south of",
    ),
)
_QUALIFIER_BEFORE = [
    (name, re.compile(rf"(?<![\w])({words})\s?$", re.IGNORECASE)) for name, words in _QUALIFIERS
]
_URL = re.compile(r"\b(?:https?://|www\.|pic\.)\S+|\b\S+\.(?:com|net|org|io|co)/\S*", re.IGNORECASE)


@dataclass
class Quantity:
    """One figure in a sentence: its span (qualifier included) and what it measures in."""

    start: int
    end: int
    value: float
    unit: str
    kind: str  # money, percent, bp, ratio, coin, count, scaled, bare
    qualifier: str = "exact"
    core_start: int = 0
    magnitude: bool = False
    signed: bool = False
    range_part: str | None = None
    noun: str | None = None


def _parse_number(raw: str) -> float:
    """The float a written number stands for ("1,234.5" → 1234.5)."""
    return float(raw.replace(",", ""))


def _read_magnitude(text: str, pos: int) -> tuple[float, int, str | None]:
    """Scale after position ``pos`` (million, bn, K…), its end, and "word" or "letter" if any."""
    word = _MAGNITUDE_WORD.match(text, pos)
    if word:
        return _SCALE[word.group(1).lower()], word.end(), "word"
    letter = _MAGNITUDE_LETTER.match(text, pos)
    if letter:
        return _SCALE[letter.group(1).lower()], letter.end(), "letter"
    return 1.0, pos, None


def _is_year(raw: str) -> bool:
    """Whether a bare number reads as a calendar year."""
    return raw.isdigit() and len(raw) == 4 and 1900 <= int(raw) <= 2100


_ANY_DIGIT = re.compile(r"\d")
# Dates written in digits ("2024-03-01", "3/1/2024"): none of their numbers is a figure.
_NUMERIC_DATE = re.compile(r"\b\d{4}-\d{1,2}-\d{1,2}\b|\b\d{1,2}/\d{1,2}/\d{2,4}\b")


def find_quantities(sentence: str, gazetteer: Gazetteer) -> list[Quantity]:
    """The figures of one sentence, in order; ranges give two quantities."""
    quantities: list[Quantity] = []
    if not _ANY_DIGIT.search(sentence):
        return quantities
    blocked = [(m.start(), m.end()) for m in _URL.finditer(sentence)]
    blocked += [(m.start(), m.end()) for m in _NUMERIC_DATE.finditer(sentence)]
    blocked += [
        (m.start, m.end) for m in gazetteer.find_mentions(sentence) if _ANY_DIGIT.search(m.surface)
    ]
    consumed_until = -1
    for match in _NUMBER.finditer(sentence):
        start, end = match.span()
        if start < consumed_until or any(a <= start < b for a, b in blocked):
            continue
        found = _read_quantity(sentence, match, gazetteer)
        if not found:
            continue
        quantities.extend(found)
        consumed_until = max(q.end for q in found)
    _mark_between_ranges(sentence, quantities)
    return quantities


def _read_quantity(sentence: str, match: re.Match[str], gazetteer: Gazetteer) -> list[Quantity]:
    """The quantity (or range of two) that starts with the number ``match``, or nothing."""
    raw = match.group(1)
    start, pos = match.span()
    before = sentence[:start]
    value = _parse_number(raw)

    currency = None
    prefix = _PREFIX_CURRENCY.search(before)
    core_start = start
    if prefix:
        currency = _PREFIX_CODE[re.sub(r"\s", "", prefix.group(1))]
        core_start = prefix.start()
    signed = False
    if (
        core_start > 0
        and sentence[core_start - 1] in "-−"
        # After a word, a figure or a percent sign the dash joins a range ("5%-6%").
        and (
            core_start == 1
            or not (sentence[core_start - 2].isalnum() or sentence[core_start - 2] in "%)")
        )
    ):
        signed = True
        core_start -= 1

    tail = _THOUSAND_TAIL.match(sentence, pos)
    if tail and currency is None:
        value = value * 1000 + int(tail.group(2))
        pos = tail.end()
    scale, pos, magnitude_kind = _read_magnitude(sentence, pos)
    magnitude = magnitude_kind is not None
    value *= scale

    second = None
    join = _RANGE_JOIN.match(sentence, pos)
    if (
        join
        and join.group(0).strip() == "to"
        and re.search(r"\bfrom\b", before[-60:], re.IGNORECASE)
    ):
        join = None
    if join and (not magnitude or sentence[join.end() : join.end() + 1] in "$€£¥"):
        next_match = _NUMBER.search(sentence, join.end())
        gap = sentence[join.end() : next_match.start()] if next_match else "x"
        if next_match and re.fullmatch(r"[$€£¥]?\s?", gap):
            raw2 = next_match.group(1)
            scale2, pos2, magnitude2 = _read_magnitude(sentence, next_match.end())
            value2 = _parse_number(raw2) * scale2
            if not magnitude and magnitude2:
                value *= scale2
                magnitude = True
            if value2 > value and not (_is_year(raw) and _is_year(raw2)):
                second = value2
                pos = pos2

    unit, kind, pos, noun = _read_unit(sentence, pos, currency, magnitude, gazetteer)
    if unit is None or kind == "scaled" and magnitude_kind == "letter":
        return []
    if kind in {"count", "bare", "scaled", "ratio_bare"} and not magnitude:
        after = sentence[match.end() :]
        if _is_year(raw) or _MONTH_BEFORE.search(before) or _LABEL_BEFORE.search(before):
            return []
        if _DURATION_OR_LABEL_AFTER.match(after):
            return []
    if kind in {"coin", "count"} and _is_year(raw) and not magnitude:
        return []
    if unit == "%" and _MONTH_BEFORE.search(before):
        return []
    if signed:
        value = -value

    qualifier, q_start = "exact", core_start
    for name, pattern in _QUALIFIER_BEFORE:
        found = pattern.search(sentence[:core_start])
        if found:
            qualifier, q_start = name, found.start()
            break
    quantity = Quantity(
        start=q_start,
        end=pos,
        value=value,
        unit=unit,
        kind=kind,
        qualifier=qualifier,
        core_start=core_start,
        magnitude=magnitude,
        signed=signed,
        noun=noun,
    )
    if second is None:
        return [quantity]
    low = Quantity(**{**quantity.__dict__, "qualifier": "over", "range_part": "low"})
    high = Quantity(
        **{**quantity.__dict__, "value": second, "qualifier": "under", "range_part": "high"}
    )
    return [low, high]


def _read_unit(
    sentence: str, pos: int, currency: str | None, magnitude: bool, gazetteer: Gazetteer
) -> tuple[str | None, str, int, str | None]:
    """Unit, kind, end position and counted noun of the figure whose number ends at ``pos``."""
    if currency:
        return currency, "money", pos, None
    suffix = _SUFFIX_CURRENCY.match(sentence, pos)
    if suffix and (magnitude or suffix.group(1).isupper() or suffix.group(1).lower() != "won"):
        return _SUFFIX_CODE[suffix.group(1).lower()], "money", suffix.end(), None
    percent = _PERCENT.match(sentence, pos)
    if percent:
        return "%", "percent", percent.end(), None
    bp = _BASIS_POINTS.match(sentence, pos)
    if bp:
        return "bp", "bp", bp.end(), None
    times = _TIMES.match(sentence, pos)
    if times:
        return "x", "ratio", times.end(), None
    colon = _COLON_RATIO.match(sentence, pos)
    if colon:
        return "x", "ratio", colon.end(), None
    word = _NEXT_WORD.match(sentence, pos)
    if word:
        token = word.group(1).rstrip(".")
        ticker = _coin_ticker(token, gazetteer)
        if ticker:
            return ticker, "coin", word.start(1) + len(token), token
        if token.lower() in _COIN_NOUNS:
            return "COIN", "coin", word.start(1) + len(token), token
    noun_end = _counted_noun(sentence, pos)
    if noun_end:
        return "count", "count", noun_end[0], noun_end[1]
    if magnitude:
        return "count", "scaled", pos, None
    return "x", "ratio_bare", pos, None


def _coin_ticker(token: str, gazetteer: Gazetteer) -> str | None:
    """Ticker when ``token`` names a coin ("BTC", "bitcoins", "Ether"), else None."""
    entity = gazetteer.asset_for_ticker(token.lstrip("$"))
    if entity is None:
        for candidate in (token, token[:-1] if token.endswith("s") else token):
            found = gazetteer.lookup(candidate)
            # A coin's name or a word alias of it ("bitcoins", "ether") counts its units.
            if found and found.type == "asset" and found.ticker and candidate.isalpha():
                entity = found
                break
    return entity.ticker if entity else None


def _counted_noun(sentence: str, pos: int) -> tuple[int, str] | None:
    """End and noun of a counted noun within four words after ``pos`` ("10 spot Bitcoin ETFs")."""
    cursor = pos
    for _ in range(5):
        word = re.compile(r"[ \u00a0]([A-Za-z][\w.&'’-]*)").match(sentence, cursor)
        if not word:
            return None
        token = word.group(1).rstrip(".")
        if token.lower() in _COUNT_NOUNS:
            return word.start(1) + len(token), token.lower()
        if token.lower() in {
            "and",
            "or",
            "of",
            "in",
            "to",
            "for",
            "from",
            "with",
            "at",
            "on",
            "by",
            "was",
            "were",
            "is",
            "are",
            "had",
            "has",
            "have",
            "the",
            "a",
            "than",
        }:
            return None
        cursor = word.end()
    return None


def _mark_between_ranges(sentence: str, quantities: list[Quantity]) -> None:
    """Mark "between X and Y" pairs as the low and high ends of a range."""
    for first, second in zip(quantities, quantities[1:], strict=False):
        gap = sentence[first.end : second.start]
        if (
            first.unit == second.unit
            and re.fullmatch(r"\s+and\s+", gap)
            and re.search(r"\bbetween\s+$", sentence[: first.start], re.IGNORECASE)
        ):
            first.qualifier, first.range_part = "over", "low"
            second.qualifier, second.range_part = "under", "high"
