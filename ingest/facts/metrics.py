"""What a figure measures: its metric, direction and time window, read from the words around it.

Each metric has cue words; the metric of a figure is the one whose cue sits nearest to it in the
sentence (crossing a clause boundary costs extra), among the metrics its unit allows.
"""

from __future__ import annotations

import re
import re._constants as _sre
import re._parser as _sre_parse
from dataclasses import dataclass
from functools import lru_cache

from ingest.gazetteer import trie_pattern

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
        r"dominance|domination|market share|share of|\bshare\b|captur\w+|\bcommands?\b|of (?:the |"
        r"\w+['’]s )?total\b|"
        r"of the (?:entire|whole|overall)\b|\bof all\b(?! (?:traders|accounts|users|investors))",
        _I,
    ),
    # "traded" before a percentage states a price move ("traded 3% higher"), not an amount.
    "volume": re.compile(
        r"volumes?|turnover|(?<!-)\btraded\b(?! (?:at|around|near|above|below|as|[\d.,]+ ?%))|"
        r"trading activity|\bprocessed\b",
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
        r"interest rates?|\byields?\b|\bAPY\b|\bAPR\b|rate cuts?|rate hikes?|coupon|federal funds|"
        r"(?:benchmark|policy|base|key|lending|borrowing) rates?|target range|"
        r"(?<!open )\binterest\b",
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
        r"intraday (?:high|low)|\bstrikes?\b|\bto\b(?= \$)",
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
    r"\b(?:fell|fall\w*|drop\w*|down|declin\w+|slid\w*|slide|plung\w+|plummet\w*|lost|"
    r"los(?:e|es|ing)|losses|"
    r"shed\w*|sank|sink\w*|tumbl\w+|crash\w*|slump\w*|dip\w*|decreas\w+|lower|retreat\w*|shrank|"
    r"shrunk|dump\w*|correction|nosediv\w+|wiped|slipp?\w*|pullback|downturn)\b",
    _I,
)
_IN = re.compile(
    r"\b(?:inflows?|bought|buys?|buying|acquir\w+|purchas\w+|add(?:ed|s|ing)?|minted|mint|deposit\w*|"
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


# ASCII matching: the cues are English words, and case-folding only ASCII is much faster.
_ASCII_CUES = {metric: re.compile(p.pattern, _I | re.ASCII) for metric, p in METRIC_CUES.items()}
_ASCII_LOWER = {code: code + 32 for code in range(ord("A"), ord("Z") + 1)}


def _top_level_branches(pattern: str) -> list[str]:
    """The alternatives of a pattern split at its top-level ``|`` (outside groups and sets)."""
    branches, depth, in_set, start, index = [], 0, False, 0, 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 2
            continue
        if in_set:
            in_set = char != "]"
        elif char == "[":
            in_set = True
            # A "]" right after "[" or "[^" is a member of the set, not its end.
            if pattern[index + 1 : index + 2] == "^":
                index += 1
            if pattern[index + 1 : index + 2] == "]":
                index += 1
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            branches.append(pattern[start:index])
            start = index + 1
        index += 1
    branches.append(pattern[start:])
    return branches


def _required_words(items: list) -> frozenset[str] | None:
    """Lower-case strings one of which every match of a parsed pattern contains (None: unknown).

    A cheap ``in`` test for them tells that a cue pattern cannot match a sentence, so most
    patterns are never run; this keeps cue finding fast without changing what it finds.
    """
    best: frozenset[str] | None = None
    run: list[str] = []

    def consider(candidate: frozenset[str] | None) -> None:
        nonlocal best
        if not candidate or "" in candidate:
            return
        if best is None or min(map(len, candidate)) > min(map(len, best)):
            best = candidate

    for op, arg in items:
        if op is _sre.LITERAL:
            run.append(chr(arg).lower())
            continue
        if op is _sre.AT:
            continue  # \b and anchors take no characters: the run of literals goes on
        consider(frozenset({"".join(run)}))
        run = []
        if op is _sre.SUBPATTERN:
            consider(_required_words(list(arg[-1])))
        elif op is _sre.BRANCH:
            alternatives = [_required_words(list(branch)) for branch in arg[1]]
            if all(alternatives):
                consider(frozenset().union(*alternatives))
        elif op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT) and arg[0] >= 1:
            consider(_required_words(list(arg[2])))
    consider(frozenset({"".join(run)}))
    return best


@dataclass(frozen=True)
class _Branch:
    """One alternative of a metric's cue pattern, with the words it cannot match without."""

    source: str
    required: frozenset[str] | None


def _branches_of(pattern: re.Pattern[str]) -> tuple[_Branch, ...]:
    """A cue pattern's top-level alternatives, each with its required words."""
    branches = []
    for source in _top_level_branches(pattern.pattern):
        try:
            required = _required_words(list(_sre_parse.parse(source, _I | re.ASCII)))
        except Exception:  # noqa: BLE001 - an unreadable pattern is simply never skipped
            required = None
        branches.append(_Branch(source, required))
    return tuple(branches)


_CUE_BRANCHES = {metric: _branches_of(p) for metric, p in METRIC_CUES.items()}


@lru_cache(maxsize=2048)
def _pattern_for(metric: str, present: tuple[int, ...]) -> re.Pattern[str]:
    """The alternation of a metric's branches that can match: dropping one that cannot match
    anywhere in the sentence changes no match, so this finds exactly what the full pattern does."""
    if len(present) == len(_CUE_BRANCHES[metric]):
        return _ASCII_CUES[metric]
    sources = [_CUE_BRANCHES[metric][i].source for i in present]
    return re.compile("|".join(sources), _I | re.ASCII)


def _required_word_finder() -> tuple[re.Pattern[str], dict[str, frozenset[str]]]:
    """One regex reporting, at each position, the longest required word starting there, and
    for each word the required words inside it (so a word found implies those it contains)."""
    words = {w for bs in _CUE_BRANCHES.values() for b in bs if b.required for w in b.required}
    finder = re.compile(trie_pattern(sorted(words)))
    inside = {w: frozenset(v for v in words if v in w) for w in words}
    return finder, inside


_REQUIRED_FINDER, _REQUIRED_INSIDE = _required_word_finder()
# A metric none of whose branches can match is skipped whole; a branch without required words
# makes the metric always run (its sentinel "" is in every ``seen``).
_METRIC_REQUIRED = {
    metric: frozenset(w for b in branches for w in (b.required or {""}))
    for metric, branches in _CUE_BRANCHES.items()
}


def find_cues(sentence: str) -> list[Cue]:
    """All metric cues of a sentence, with their spans."""
    lowered = sentence.translate(_ASCII_LOWER)
    seen: set[str] = {""}
    # Searching again one character after each hit finds overlapping words too.
    found = _REQUIRED_FINDER.search(lowered)
    while found:
        seen |= _REQUIRED_INSIDE[found.group(0)]
        found = _REQUIRED_FINDER.search(lowered, found.start() + 1)
    cues = []
    for metric, branches in _CUE_BRANCHES.items():
        if _METRIC_REQUIRED[metric].isdisjoint(seen):
            continue
        present = tuple(
            index
            for index, branch in enumerate(branches)
            if branch.required is None or not branch.required.isdisjoint(seen)
        )
        if not present:
            continue
        for match in _pattern_for(metric, present).finditer(sentence):
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
        # A pair of dashes sets off an aside: it neither separates clauses nor adds distance.
        piece = re.sub(r"[—–][^—–]*[—–]", " ", piece)
    return (
        len(re.findall(r"\S+", piece))
        + 6 * len(_STRONG_BREAK.findall(piece))
        + 1.5 * len(_COMMA.findall(piece))
    )


# Every window pattern needs one of these words; most sentences have none and skip them all.
_ANY_WINDOW = re.compile(r"hour|day|daily|week|month|year|annual|24|overnight", _I)


@lru_cache(maxsize=1024)
def _window_mentions(sentence: str) -> tuple[tuple[int, int, str], ...]:
    """(start, end, label) of every stated window in a sentence (cached: read once per figure)."""
    found: list[tuple[int, int, str]] = []
    if not _ANY_WINDOW.search(sentence):
        return ()
    for pattern, window in _WINDOWS:
        for match in pattern.finditer(sentence):
            label = window
            if "{n}" in window:
                n = int(match.group(1))
                if window == "{n}w":
                    label = f"{n * 7}d"
                elif window == "{n}h" and n == 24:
                    label = "24h"
                else:
                    label = window.format(n=n)
            found.append((match.start(), match.end(), label))
    return tuple(found)


def window_of(sentence: str, start: int, end: int) -> str | None:
    """The time window nearest to a figure in its sentence ("in the past 24 hours" → "24h")."""
    best: tuple[int, str] | None = None
    for w_start, w_end, label in _window_mentions(sentence):
        if w_start <= start < w_end:
            continue
        distance = word_distance(sentence, w_start, start if w_start < start else end)
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


@lru_cache(maxsize=4096)
def _spans(pattern: re.Pattern[str], sentence: str) -> tuple[tuple[int, int], ...]:
    """Spans of a pattern's matches in a sentence (cached: several figures ask the same)."""
    return tuple(match.span() for match in pattern.finditer(sentence))


def _nearest_label(
    sentence: str, start: int, end: int, patterns: tuple, reach: int = 14
) -> str | None:
    """Label of the pattern with a match nearest to the span, within ``reach`` words."""
    best: tuple[int, str] | None = None
    for pattern, label in patterns:
        for m_start, m_end in _spans(pattern, sentence):
            if start <= m_start < end:
                continue
            distance = (
                clause_distance(sentence, m_end, start)
                if m_end <= start
                else clause_distance(sentence, end, m_start) + 1
            )
            if distance <= reach and (best is None or distance < best[0]):
                best = (distance, label)
    return best[1] if best else None


def has_direction_verb(sentence: str, start: int, end: int, reach: int = 6) -> bool:
    """Whether an up/down verb sits within ``reach`` words of the figure."""
    return _nearest_label(sentence, start, end, ((_UP, "up"), (_DOWN, "down")), reach) is not None
