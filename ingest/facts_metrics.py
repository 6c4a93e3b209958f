"""What a figure measures: its metric, direction and time window, read from the words around it.

Each metric has cue words; the metric of a figure is the one whose cue sits nearest to it in the
sentence (crossing a clause boundary costs extra), among the metrics its unit allows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_I = re.IGNORECASE

# Cue patterns per metric; order breaks ties (earlier wins).
METRIC_CUES: dict[str, re.Pattern[str]] = {
    "put_call_ratio": re.compile(r"put[/-](?:to-)?call|put-call|\bPCR\b", _I),
    "long_short_ratio": re.compile(
        r"long[/-](?:to-)?short(?: account)? ratios?|long/short|long-short|longs? to shorts? ratio",
        _I,
    ),
    "funding_rate": re.compile(r"funding rates?|\bfunding\b", _I),
    "exploit_loss": re.compile(
        r"\bhack\w*|exploit\w*|stolen|\bstole\b|drain(?:ed|ing)|heist|attacker", _I
    ),
    "options_notional": re.compile(
        r"\boptions?\b|notional|nominal value|expir(?:y|ies|e|es|ing|ation)\b", _I
    ),
    "open_interest": re.compile(
        r"open interest|\bOI\b|outstanding|open (?:futures )?positions", _I
    ),
    "liquidations": re.compile(
        r"liquidat\w*|wiped[ -]out|wipe-?out|\brekt\b|flush\w*|forced (?:sell\w*|clos\w*|"
        r"unwind\w*)|"
        r"closed out|margin calls?|\b(?:long|short) positions\b",
        _I,
    ),
    "tvl": re.compile(r"\bTVL\b|total value locked|value locked|\blocked\b", _I),
    "market_cap": re.compile(
        r"(?<!by )(?<!by its )(?<!in terms of )(?:market cap\w*|market-cap\w*|market value|"
        r"valuation|\bmcap\b)",
        _I,
    ),
    "dominance": re.compile(
        r"dominance|market share|share of|\bshare\b|captur\w+|\bcommands?\b|of (?:the |"
        r"\w+['’]s )?total\b|"
        r"of the (?:entire|whole|overall)\b",
        _I,
    ),
    "volume": re.compile(
        r"volumes?|turnover|(?<!-)\btraded\b(?! (?:at|around|near|above|below|as))|trading "
        r"activity|\bprocessed\b",
        _I,
    ),
    "aum": re.compile(
        r"assets under management|\bAUM\b|managed assets|\bin assets\b|total assets|net assets|"
        r"assets (?:are |were )?(?:locked|held)|of the assets",
        _I,
    ),
    "fund_flow": re.compile(
        r"inflows?|outflows?|net flows?|\bin flows\b|flowed|flowing (?:in|out)|withdrawals?|"
        r"\bwithdrew\b|redemptions?|"
        r"pulled in|brought in|gathered|investment products",
        _I,
    ),
    "exchange_reserve": re.compile(
        r"exchange reserves?|exchange balances?|reserves? on exchanges|balances? on exchanges", _I
    ),
    "exchange_flow": re.compile(
        r"netflows?|exchange (?:in|out)flows?|withdr\w+ [^.]{0,40}\bfrom\b|deposit\w* "
        r"[^.]{0,40}\b(?:to|into)\b|"
        r"moved (?:to|onto|off)",
        _I,
    ),
    "holdings": re.compile(
        r"holdings?|\bholds?\b|\bheld\b|\bhold\b|treasury|stash|reserves?|balance sheet|"
        r"\bowns?\b|portfolio",
        _I,
    ),
    "purchase": re.compile(
        r"\bbought\b|\bbuys?\b|\bbuying\b|acquir\w+|purchas\w+|acquisition|\badd(?:ed|s|ing)?\b|spending|"
        r"\bspent\b|to sell\b|seeks to sell",
        _I,
    ),
    "supply": re.compile(
        r"supply|circulating|\bminted\b|\bmint(?:s|ing)?\b|\bissue\b|issuance|\bburn\w*|mining "
        r"production|"
        r"\bmined\b",
        _I,
    ),
    "transfer": re.compile(r"transferr?\w*|\bsent\b", _I),
    "interest_rate": re.compile(
        r"interest rates?|\byields?\b|\bAPY\b|\bAPR\b|rate cuts?|rate hikes?|coupon|federal funds",
        _I,
    ),
    "inflation": re.compile(r"inflation|\bCPI\b|\bPCE\b|consumer prices", _I),
    "other": re.compile(
        r"\bshares?\b|convertible|\bnotes?\b|\braise[ds]?\b|\braising\b|offering|unrealized|\bprofits?\b|"
        r"capacity|\bsecured\b|donat\w+|revenue|earnings|\bdebt\b|\bodds\b|chances?",
        _I,
    ),
    "price": re.compile(
        r"\bprices?\b|trad(?:ed|ing|es) (?:at|around|near|above|below)|changing hands|support|"
        r"resistance|"
        r"target|max(?:imum)? pain|high of|low of|all-time high|record high|\bATH\b|\bpeak\w*|"
        r"bottom\w*|\blevel\b|per (?:coin|bitcoin|btc|eth|ether|token|share)|average (?:cost|"
        r"price)|"
        r"cost basis|\bhit(?:s|ting)?\b|touch\w*|reclaim\w*|sits?\b|sitting|floating|hover\w*|"
        r"intraday (?:high|low)|\bto\b(?= \$)",
        _I,
    ),
}

_UP = re.compile(
    r"\b(?:rose|rise[sn]?|rising|up|gain(?:s|ed|ing)?|surg\w+|jump\w*|climb\w*|rall\w+|rebound\w*|"
    r"increas\w+|soar\w*|spik\w+|add(?:ed|s)|higher|advanc\w+|grew|grow\w*|rocket\w*|doubl\w+|"
    r"bounc\w+|recover\w*|pump\w*|upside)\b",
    _I,
)
_DOWN = re.compile(
    r"\b(?:fell|fall\w*|drop\w*|down|declin\w+|slid\w*|slide|plung\w+|plummet\w*|lost|los(?:e|es|ing)|"
    r"shed\w*|sank|sink\w*|tumbl\w+|crash\w*|slump\w*|dip\w*|decreas\w+|lower|retreat\w*|shrank|"
    r"shrunk|dump\w*|correction|nosediv\w+|wiped|slipp?\w*|pullback|downturn)\b",
    _I,
)
_IN = re.compile(
    r"\b(?:inflows?|bought|buys?|buying|acquir\w+|purchas\w+|add(?:ed|s|ing)?|minted|mint|"
    r"pulled in|"
    r"brought in|gathered|flowed into|into)\b",
    _I,
)
_OUT = re.compile(
    r"\b(?:outflows?|sold|sell\w*|sale|withdr\w+|redemptions?|burn\w*|leaving|left|lost|loss|"
    r"out of|dumped)\b",
    _I,
)
_FLOW_METRICS = frozenset({"fund_flow", "exchange_flow", "purchase", "supply", "transfer"})
_CHANGE_METRICS = frozenset(
    {"price_change", "volume", "open_interest", "market_cap", "tvl", "aum", "dominance", "holdings"}
)

_WINDOWS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, _I), window)
    for pattern, window in (
        (r"(?:single|one|an?|past|last) hour\b|\bhourly\b|(?:1|one)-hour", "1h"),
        (r"\b(?:4|four)[- ]hours?\b", "4h"),
        (r"\b(?:12|twelve)[- ]hours?\b", "12h"),
        (r"\b(?:2|two)[- ]hours?\b", "2h"),
        (
            r"\b24[- ]?(?:hours?|hrs?|h)\b|\b(?:past|last|one|single|a) day\b|\bdaily\b|"
            r"\bintraday\b|\bovernight\b|\bsingle-day\b|\bon the day\b|\btoday\b",
            "24h",
        ),
        (
            r"\b(?:past|last|this|previous|prior|the) week\b|\bweekly\b|\b(?:7|seven)[- ]days?\b|"
            r"\bweek-over-week\b|\ba week\b|\bwithin last week\b",
            "7d",
        ),
        (
            r"\b(?:past|last|this|previous) month\b|\bmonthly\b|\b30[- ]days?\b|\bthat month\b|"
            r"\bmonth-over-month\b",
            "30d",
        ),
        (
            r"\b(?:past|last|next|over the next) year\b|\bannual\w*\b|\byearly\b|\b(?:12|"
            r"twelve) months\b|"
            r"\byear-over-year\b|\bper year\b",
            "1y",
        ),
        (r"\b(\d+)[- ]days?\b", "{n}d"),
        (r"\b(\d+)[- ]hours?\b", "{n}h"),
        (r"\b(\d+)[- ]weeks?\b", "{n}w"),
    )
)


@dataclass
class Cue:
    """A word in a sentence that points at a metric."""

    metric: str
    start: int
    end: int


def find_cues(sentence: str) -> list[Cue]:
    """All metric cues of a sentence, with their spans."""
    cues = []
    for metric, pattern in METRIC_CUES.items():
        for match in pattern.finditer(sentence):
            cues.append(Cue(metric, match.start(), match.end()))
    return cues


def word_distance(sentence: str, a: int, b: int) -> int:
    """Number of words between two character positions."""
    lo, hi = (a, b) if a <= b else (b, a)
    return len(re.findall(r"\S+", sentence[lo:hi]))


_STRONG_BREAK = re.compile(r";|\s(?:while|whereas|but|compared (?:to|with))\s|—|\s–\s", _I)
_COMMA = re.compile(r",\s|\(|\)")


def clause_distance(sentence: str, a: int, b: int) -> float:
    """Words between two positions, plus a toll per clause break (6) and comma (1.5) crossed."""
    lo, hi = (a, b) if a <= b else (b, a)
    piece = sentence[lo:hi]
    if piece.count("—") == 2 or piece.count(" – ") == 2:
        # A pair of dashes sets off an aside; it does not separate clauses.
        piece = re.sub(r"[—–]", " ", piece)
    return (
        len(re.findall(r"\S+", piece))
        + 6 * len(_STRONG_BREAK.findall(piece))
        + 1.5 * len(_COMMA.findall(piece))
    )


def window_of(sentence: str, start: int, end: int) -> str | None:
    """The time window nearest to a figure in its sentence ("in the past 24 hours" → "24h")."""
    best: tuple[int, str] | None = None
    for pattern, window in _WINDOWS:
        for match in pattern.finditer(sentence):
            if match.start() <= start < match.end():
                continue
            label = window
            if "{n}" in window:
                n = int(match.group(1))
                if window == "{n}w":
                    label = f"{n * 7}d"
                elif window == "{n}h" and n == 24:
                    label = "24h"
                else:
                    label = window.format(n=n)
            distance = word_distance(
                sentence, match.start(), start if match.start() < start else end
            )
            if best is None or distance < best[0]:
                best = (distance, label)
    return best[1] if best else None


def direction_of(metric: str, sentence: str, start: int, end: int, signed: bool) -> str | None:
    """in/out for flows, up/down for changes, from the verbs nearest to the figure."""
    if metric in _FLOW_METRICS:
        if signed:
            return "out"
        return _nearest_label(sentence, start, end, ((_IN, "in"), (_OUT, "out")))
    if metric in _CHANGE_METRICS:
        if signed:
            return "down"
        found = _nearest_label(sentence, start, end, ((_UP, "up"), (_DOWN, "down")), reach=8)
        return found if metric == "price_change" or found else None
    return None


def _nearest_label(
    sentence: str, start: int, end: int, patterns: tuple, reach: int = 14
) -> str | None:
    """Label of the pattern with a match nearest to the span, within ``reach`` words."""
    best: tuple[int, str] | None = None
    for pattern, label in patterns:
        for match in pattern.finditer(sentence):
            if start <= match.start() < end:
                continue
            distance = (
                clause_distance(sentence, match.end(), start)
                if match.end() <= start
                else clause_distance(sentence, end, match.start()) + 1
            )
            if distance <= reach and (best is None or distance < best[0]):
                best = (distance, label)
    return best[1] if best else None


def has_direction_verb(sentence: str, start: int, end: int, reach: int = 6) -> bool:
    """Whether an up/down verb sits within ``reach`` words of the figure."""
    return _nearest_label(sentence, start, end, ((_UP, "up"), (_DOWN, "down")), reach) is not None
