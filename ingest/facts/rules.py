"""The rule pass: every figure of an article with a first reading of its metric and entity.

``rule_facts(text, gazetteer)`` finds every figure (``ingest.facts.numbers``), reads what it
measures from cue words (``ingest.facts.metrics``) and what it is about by position
(``ingest.facts.attribution``), and returns ``Fact`` records in text order with spans into
``text``. The learned models of ``ingest.facts.pipeline`` take these as candidates and may
re-read their metric and entity.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Protocol, TypeVar

from ingest.facts.attribution import (
    ASSET_SUBJECT_DOMINANCE,
    ASSET_SUBJECT_TYPES,
    SIDED_METRICS,
    anaphora_entity,
    attributable,
    candidate_name,
    choose_entity,
    document_subject,
    document_venue,
    segment_index,
    segments_of,
    side_of,
    sides_respectively,
    subject_fits,
)
from ingest.facts.metrics import (
    Cue,
    clause_distance,
    direction_of,
    find_cues,
    has_direction_verb,
    window_of,
    word_distance,
)
from ingest.facts.numbers import Quantity, find_quantities
from ingest.gazetteer import Gazetteer, Mention
from ingest.records import METRICS, Fact
from ingest.sentences import sentence_spans

_ALL_METRICS = frozenset(METRICS) - {"other"}
_ALLOWED = {
    "money": _ALL_METRICS
    - {
        "long_short_ratio",
        "put_call_ratio",
        "liquidated_traders",
        "funding_rate",
        "interest_rate",
        "inflation",
        "dominance",
    },
    "percent": frozenset(
        {
            "liquidations",
            "funding_rate",
            "dominance",
            "volume",
            "fund_flow",
            "aum",
            "holdings",
            "market_cap",
            "open_interest",
            "tvl",
            "interest_rate",
            "inflation",
            "supply",
            "price",
        }
    ),
    "bp": frozenset({"interest_rate", "funding_rate", "price"}),
    "count": frozenset({"liquidations", "open_interest"}),
    "coin": frozenset(
        {
            "holdings",
            "purchase",
            "supply",
            "exchange_flow",
            "exchange_reserve",
            "transfer",
            "fund_flow",
            "liquidations",
            "open_interest",
            "volume",
            "exploit_loss",
            "tvl",
            "options_notional",
        }
    ),
    "ratio": frozenset({"put_call_ratio", "long_short_ratio"}),
}
_CHANGEABLE = frozenset(
    {
        "volume",
        "open_interest",
        "market_cap",
        "tvl",
        "aum",
        "supply",
        "funding_rate",
        "holdings",
        "interest_rate",
    }
)
_PEOPLE_AFTER = re.compile(
    r"\s+(?:of\s+)?(?:all\s+|the\s+)?(?:\w+\s+)?(?:traders|accounts|users|people|investors)\b",
    re.IGNORECASE,
)
_RATIO_WORD = re.compile(r"\bratios?\b|\bPCR\b", re.IGNORECASE)
_PRICE_LIKE_ASSET_TYPES = ("asset", "index")
_HOLDER_METRICS = frozenset({"holdings", "purchase", "other", "interest_rate"})
# Measures stated of each asset in a list alike ("XRP and DOGE fell 10%"), or by its venue.
_PER_ASSET_METRICS = frozenset({"price", "price_change", "options_notional", "exchange_flow"})


@dataclass
class _ArticleState:
    """What earlier sentences said, for pronouns and figures without their own cue."""

    gazetteer: Gazetteer

    history: list[Mention] = field(default_factory=list)
    last_metric: dict[str, str] = field(default_factory=dict)
    last_coin: str | None = None
    seen_sentences: set[str] = field(default_factory=set)
    subject: Mention | None = None
    asset_subject: Mention | None = None
    venue: Mention | None = None
    topic: str | None = None


def rule_facts(text: str, gazetteer: Gazetteer) -> list[Fact]:
    """The figures of ``text`` read by the hand rules alone, in text order, spans into ``text``."""
    spans = sentence_spans(text)
    sentences = [text[a:b] for a, b in spans]
    mentions = [tuple(gazetteer.find_mentions(s)) for s in sentences]
    state = _ArticleState(
        gazetteer=gazetteer,
        subject=document_subject(mentions, sentences),
        asset_subject=document_subject(
            mentions, sentences, ASSET_SUBJECT_TYPES, ASSET_SUBJECT_DOMINANCE
        ),
        venue=document_venue(mentions),
        topic=document_topic([cues_of(s) for s in sentences]),
    )
    facts: list[Fact] = []
    for sent_start, sent_end in spans:
        sentence = text[sent_start:sent_end]
        # Scraped pages repeat their title and headings; a repeated line states nothing new.
        if sentence in state.seen_sentences:
            continue
        state.seen_sentences.add(sentence)
        for fact in _sentence_facts(sentence, gazetteer, state):
            fact.start += sent_start
            fact.end += sent_start
            facts.append(fact)
    return drop_restated(facts)


def _sentence_facts(sentence: str, gazetteer: Gazetteer, state: _ArticleState) -> list[Fact]:
    """Facts of one sentence; updates ``state`` for the sentences after it."""
    quantities = find_quantities(sentence, gazetteer)
    mentions = [
        _as_fund_group(sentence, m)
        for m in gazetteer.find_mentions(sentence)
        if attributable(sentence, m)
    ]
    cues = list(cues_of(sentence))
    if not quantities:
        _remember_context(cues, state)
        state.history.extend(mentions)
        return []
    segments = segments_of(sentence)
    spans = [(q.core_start, q.end) for q in quantities]
    free_mentions = [m for m in mentions if not any(a <= m.start < b for a, b in spans)]

    kept: list[tuple[Quantity, str]] = []
    hosts: dict[int, int] = {}
    for quantity in quantities:
        if not _resolve_unit(quantity, sentence, mentions, cues, gazetteer, state):
            continue
        host = _host_figure(sentence, quantity, kept)
        if host is not None:
            hosts[len(kept)] = host
            kept.append((quantity, kept[host][1]))
            continue
        sibling = next((m for q, m in reversed(kept) if q.kind == quantity.kind), None)
        metric, cued = _choose_metric(sentence, quantity, cues, state, sibling)
        if metric is None:
            continue
        if quantity.kind in {"money", "coin"} and _exchange_moved(sentence, quantity, mentions):
            metric = "exchange_flow"
        if cued and quantity.kind in {"money", "coin"} and metric != "price":
            state.last_metric[quantity.kind] = metric
        kept.append((quantity, metric))

    paired = _respectively(sentence, kept, free_mentions)
    paired_sides = sides_respectively(sentence, len(kept))
    facts: list[Fact] = []
    for index, (quantity, metric) in enumerate(kept):
        if index in hosts:
            host = facts[hosts[index]]
            entity_name, entity_type = host.entity, host.entity_type
        else:
            entity_name, entity_type = _entity_for(
                sentence, segments, free_mentions, quantity, metric, paired.get(index), state
            )
        metric = _owner_topic(metric, entity_type, state.topic)
        if metric == "fund_flow" and _exchange_side(sentence, entity_type, mentions):
            metric = "exchange_flow"
        side = None
        if metric in SIDED_METRICS:
            side = (
                paired_sides[index]
                if paired_sides
                else side_of(sentence, segments, quantity.core_start, quantity.end)
            )
            if metric == "fund_flow" and side == "long":
                side = None
        facts.append(
            Fact(
                value=quantity.value,
                unit=quantity.unit,
                metric=metric,
                text=sentence[quantity.start : quantity.end],
                start=quantity.start,
                end=quantity.end,
                sentence=sentence,
                entity=entity_name,
                entity_type=entity_type,
                side=side,
                direction=direction_of(
                    metric, sentence, quantity.core_start, quantity.end, quantity.signed
                ),
                window=window_of(sentence, quantity.core_start, quantity.end),
                qualifier=quantity.qualifier,
            )
        )
    state.history.extend(mentions)
    return _shared_moves(sentence, facts, free_mentions)


# "withdrew 76,987 ETH (~$285 million) from Kraken", "1,000 BTC was deposited to Binance":
# coins leaving or reaching an exchange are its flow, not a fund's.
_MOVE_VERB_BEFORE = re.compile(r"\b(?:withdr[ae]\w*|deposit\w*)\s+(?:\w+\s+){0,2}$", re.IGNORECASE)
_MOVE_TAIL = re.compile(
    r"\s*(?:\([^()]{0,40}\)\s*)?(?:(?:was|were|has been|have been|had been|being)\s+)?"
    r"(?P<verb>(?:withdr[ae]\w*|deposit\w*)\s+)?(?:from|to|into|onto|off|out of)\s+"
    r"(?:the\s+)?(?:crypto\s+)?(?:exchange\s+)?",
    re.IGNORECASE,
)


def _exchange_moved(sentence: str, quantity: Quantity, mentions: list[Mention]) -> Mention | None:
    """The exchange a figure was withdrawn from or deposited to, when the sentence says so."""
    tail = _MOVE_TAIL.match(sentence, quantity.end)
    if tail is None:
        return None
    if not tail.group("verb") and not _MOVE_VERB_BEFORE.search(sentence[: quantity.start]):
        return None
    return next((m for m in mentions if m.type == "exchange" and m.start == tail.end()), None)


_LIST_JOIN = re.compile(r"\s*(?:,\s*(?:and\s+)?|\s+and\s+|\s*&\s*)")


def _shared_moves(sentence: str, facts: list[Fact], mentions: list[Mention]) -> list[Fact]:
    """One price move per asset for "XRP and Dogecoin both fell 10%": the move is each one's."""
    if re.search(r"\brespectively\b", sentence, re.IGNORECASE):
        return facts
    out: list[Fact] = []
    for index, fact in enumerate(facts):
        out.append(fact)
        if fact.metric != "price_change" or fact.entity_type != "asset":
            continue
        owner = next(
            (m for m in reversed(mentions) if m.name == fact.entity and m.end <= fact.start), None
        )
        if owner is None or (index and facts[index - 1].end > owner.end):
            continue
        run = [owner]
        for mention in reversed([m for m in mentions if m.end <= run[0].start]):
            if mention.type != "asset" or not _LIST_JOIN.fullmatch(
                sentence[mention.end : run[0].start]
            ):
                break
            run.insert(0, mention)
        for mention in run[:-1]:
            if mention.name != fact.entity:
                out.insert(
                    len(out) - 1,
                    replace(fact, entity=mention.name, entity_type=mention.type),
                )
    return out


_FUND_AFTER = re.compile(r"\s+(?:spot\s+)?(?:ETFs?|ETPs?|funds?|investment products|trusts?)\b")


def _as_fund_group(sentence: str, mention: Mention) -> Mention:
    """ "Bitcoin ETFs" names the group of funds holding an asset: same name, type fund."""
    if mention.type == "asset" and _FUND_AFTER.match(sentence, mention.end):
        return Mention(mention.start, mention.end, mention.surface, mention.name, "fund")
    return mention


_CONTEXT_METRICS = frozenset(
    {
        "liquidations",
        "fund_flow",
        "tvl",
        "volume",
        "open_interest",
        "options_notional",
        "market_cap",
        "exploit_loss",
        "aum",
    }
)


def _remember_context(cues: list[Cue], state: _ArticleState) -> None:
    """A sentence without figures still sets the topic for the figures right after it."""
    topical = [c for c in cues if c.metric in _CONTEXT_METRICS]
    if topical:
        state.last_metric["money"] = topical[-1].metric


def _resolve_unit(
    quantity: Quantity,
    sentence: str,
    mentions: list[Mention],
    cues: list[Cue],
    gazetteer: Gazetteer,
    state: _ArticleState,
) -> bool:
    """Settle units that depend on context ("398 coins", "21 million" supply); False drops it."""
    if quantity.kind == "ratio_bare":
        if "." not in sentence[quantity.core_start : quantity.end]:
            return False
        near = [c for c in cues if c.metric in {"put_call_ratio", "long_short_ratio"}]
        near_ratio = any(
            word_distance(sentence, m.start(), quantity.core_start) <= 12
            for m in _RATIO_WORD.finditer(sentence)
        )
        if not near and not near_ratio:
            return False
        quantity.kind = "ratio"
        return True
    if quantity.unit == "COIN":
        assets = [m for m in mentions if m.type == "asset"]
        ticker = gazetteer.ticker(assets[-1].name) if assets else state.last_coin
        if not ticker:
            return False
        quantity.unit = ticker
    if quantity.kind == "scaled":
        supply = any(c.metric == "supply" for c in cues)
        assets = [m for m in mentions if m.type == "asset" and m.end <= quantity.core_start]
        if supply and assets:
            quantity.unit = gazetteer.ticker(assets[-1].name) or "count"
            quantity.kind = "coin"
        else:
            quantity.kind = "count"
    if quantity.kind == "coin":
        state.last_coin = quantity.unit
    return True


def _cue_cost(sentence: str, cue: Cue, quantity: Quantity) -> float:
    """Distance in words from a cue to the figure, plus a toll for each clause break crossed."""
    if cue.end <= quantity.core_start:
        return clause_distance(sentence, cue.end, quantity.core_start)
    return clause_distance(sentence, quantity.end, cue.start) + 2


def _nearest(
    sentence: str, quantity: Quantity, cues: list[Cue], allowed: frozenset[str], reach: float = 14.0
) -> tuple[float, str] | None:
    """The cheapest allowed cue for a figure, as (cost, metric)."""
    best: tuple[float, str] | None = None
    for cue in cues:
        if cue.metric not in allowed or quantity.start <= cue.start < quantity.end:
            continue
        cost = _cue_cost(sentence, cue, quantity)
        if cost <= reach and (best is None or cost < best[0]):
            best = (cost, cue.metric)
    return best


def _choose_metric(
    sentence: str, quantity: Quantity, cues: list[Cue], state: _ArticleState, sibling: str | None
) -> tuple[str | None, bool]:
    """The metric of a figure from the cues around it, and whether a cue decided it."""
    kind = quantity.kind
    if kind == "ratio":
        found = _nearest(sentence, quantity, cues, _ALLOWED["ratio"], reach=25)
        return (found[1], True) if found else ("other", False)
    if kind == "count":
        found = _nearest(sentence, quantity, cues, _ALLOWED["count"])
        if not found:
            return "other", False
        return ("liquidated_traders" if found[1] == "liquidations" else found[1]), True
    if kind in {"percent", "bp"}:
        return _percent_metric(sentence, quantity, cues, state.topic), True
    if kind == "coin":
        found = _nearest(sentence, quantity, cues, _ALLOWED["coin"] | {"other"})
        if found:
            return found[1], True
        return state.last_metric.get("coin", "other"), False
    # money
    price_range = abs(quantity.value) < 1e6 and not quantity.signed
    allowed = _ALLOWED["money"] if price_range else _ALLOWED["money"] - {"price"}
    found = _nearest(sentence, quantity, cues, allowed | {"other"})
    if price_range:
        non_price = _nearest(sentence, quantity, cues, allowed - {"price"})
        if non_price and non_price[0] <= 2:
            return non_price[1], True
        price = _nearest(sentence, quantity, cues, frozenset({"price"}), reach=6)
        if price and re.search(r"\b(?:lost|gained|shed|added)\s+$", sentence[: quantity.start]):
            return "price_change", True
        if price is None and sibling and sibling != "price":
            # A small sum listed beside larger ones ("XRP ($700,000)") measures what they do.
            return sibling, False
        return "price", True
    if found:
        return _in_topic(found[1], sentence, state.topic), True
    return state.last_metric.get("money", "other"), False


# "Volume" with nothing about trading beside it, in an article about liquidations, is the
# volume of liquidations ("the volume of $386.5 million").
_TRADING = re.compile(r"\btrad\w*|\bspot\b|\bDEX\w*|\bexchange volume|\bturnover\b", re.IGNORECASE)


def _in_topic(metric: str, sentence: str, topic: str | None) -> str:
    """A weak cue read in the light of the article's topic."""
    if metric == "volume" and topic == "liquidations" and not _TRADING.search(sentence):
        return "liquidations"
    return metric


# By the schema a fund flow moves money into or out of funds; flows that an exchange
# records, with no fund named or implied, are coins moving on or off that exchange.
_FUND_WORDS = re.compile(
    r"\b(?:ETF|ETP|fund|trust|investment product|product|vehicle)s?\b", re.IGNORECASE
)
_EXCHANGE_WORD = re.compile(r"\bexchanges?\b|\bplatforms?\b", re.IGNORECASE)


def _exchange_side(sentence: str, entity_type: str | None, mentions: list[Mention]) -> bool:
    """Whether a flow in ``sentence`` is an exchange's rather than a fund's."""
    if _FUND_WORDS.search(sentence) or any(m.type == "fund" for m in mentions):
        return False
    return (
        entity_type == "exchange"
        or any(m.type == "exchange" for m in mentions)
        or bool(_EXCHANGE_WORD.search(sentence))
    )


def _owner_topic(metric: str, entity_type: str | None, topic: str | None) -> str:
    """In an article about TVL, what a protocol or chain "holds" or gains is its TVL."""
    if topic == "tvl" and (
        (metric == "holdings" and entity_type in {"protocol", "asset", "network"})
        or (metric == "price_change" and entity_type == "protocol")
    ):
        return "tvl"
    return metric


@lru_cache(maxsize=4096)
def cues_of(sentence: str) -> tuple[Cue, ...]:
    """The metric cues of a sentence (cached: the topic pass, the fact pass and the feature
    pass all read them)."""
    return tuple(find_cues(sentence))


def document_topic(cues_per_sentence: list[tuple[Cue, ...]]) -> str | None:
    """The measure an article is plainly about: the topical cue named most, twice any other."""
    counts: dict[str, int] = {}
    for cue in (c for cues in cues_per_sentence for c in cues):
        if cue.metric in _CONTEXT_METRICS:
            counts[cue.metric] = counts.get(cue.metric, 0) + 1
    ranked = sorted(counts.items(), key=lambda item: -item[1])
    if not ranked or ranked[0][1] < 3:
        return None
    if len(ranked) > 1 and ranked[0][1] < 2 * ranked[1][1]:
        return None
    return ranked[0][0]


def _host_figure(sentence: str, quantity: Quantity, kept: list[tuple[Quantity, str]]) -> int | None:
    """Index of the figure a parenthesised figure restates: "76,987 ETH (~$285 million)"."""
    if not kept:
        return None
    previous = kept[-1][0]
    gap = sentence[previous.end : quantity.start]
    if re.fullmatch(r"\s*\(\s*", gap) and previous.unit != quantity.unit:
        return len(kept) - 1
    return None


# "79% of total liquidations", "3% of all spot ETF volume": a share of a measure counts as
# that measure (a share of TVL or of a market stays dominance, as labellers read it).
_SHARE_OF = re.compile(r"\s+of\s", re.IGNORECASE)
# "capturing 62.8% of the total volume": a venue's share of a market is its dominance.
_CAPTURED = re.compile(
    r"(?:dominance|market share|captur\w+|commands?|controls?)\W+(?:\w+\W+){0,2}$", re.IGNORECASE
)
_SHARED_MEASURES = frozenset({"liquidations", "volume"})
_ACCOUNTED_FOR = re.compile(
    r"\b(?:account(?:ing|ed|s)? for|made up|making up|represent(?:ing|ed|s)?)\s+"
    r"(?:about |around |roughly |nearly |over |some |approximately |~)?$",
    re.IGNORECASE,
)
_MEASURE_DOMINANCE = re.compile(r"(?:liquidation|volume)s?\s+dominance", re.IGNORECASE)


def _share_measure(sentence: str, quantity: Quantity, cues: list[Cue]) -> str | None:
    """The measure a percentage is a share of, when it names liquidations or volume."""
    head = sentence[: quantity.start]
    for match in _MEASURE_DOMINANCE.finditer(head):
        if not re.search(r";|\.\s", head[match.end() :]):
            return "liquidations" if match.group(0).lower().startswith("liq") else "volume"
    if _CAPTURED.search(head):
        return None
    share = _SHARE_OF.match(sentence, quantity.end)
    if not share:
        return _accounted_measure(head, cues)
    tail = re.split(r"[,;:()]|\s[—–]\s", sentence[share.start() :], maxsplit=1)[0]
    horizon = share.start() + min(len(tail), 40)
    for cue in sorted(cues, key=lambda c: c.start):
        if share.start() < cue.start < horizon and cue.metric != "dominance":
            return cue.metric if cue.metric in _SHARED_MEASURES else None
    return None


def _accounted_measure(head: str, cues: list[Cue]) -> str | None:
    """ "liquidations … were $5 billion, with BTC accounting for 40%": a share of that measure."""
    accounted = _ACCOUNTED_FOR.search(head)
    if not accounted:
        return None
    clause_start = max(head.rfind(";"), head.rfind(". ")) + 1
    earlier = [c for c in cues if clause_start <= c.start < accounted.start()]
    if earlier and earlier[-1].metric in _SHARED_MEASURES:
        return earlier[-1].metric
    return None


def _percent_metric(
    sentence: str, quantity: Quantity, cues: list[Cue], topic: str | None = None
) -> str:
    """Metric of a percentage: a change of the named measure, a share, a rate, or a price move."""
    allowed = _ALLOWED["percent"] if quantity.kind == "percent" else _ALLOWED["bp"]
    shared = _share_measure(sentence, quantity, cues)
    if shared:
        if shared == "liquidations" and _PEOPLE_AFTER.match(sentence, quantity.end):
            return "liquidated_traders"
        return shared
    found = _nearest(sentence, quantity, cues, allowed)
    if found and found[1] == "liquidations" and _PEOPLE_AFTER.match(sentence, quantity.end):
        return "liquidated_traders"
    if found and found[1] in {"holdings", "tvl", "volume"}:
        share = _nearest(sentence, quantity, cues, frozenset({"dominance"}), reach=8)
        if share:
            return "dominance"
    if has_direction_verb(sentence, quantity.start, quantity.end):
        changeable = _nearest(sentence, quantity, cues, _CHANGEABLE)
        if changeable and changeable[0] <= 6:
            return changeable[1]
        return "price_change"
    if found:
        return "price_change" if found[1] == "price" else found[1]
    return "other"


def _respectively(
    sentence: str, kept: list[tuple[Quantity, str]], mentions: list[Mention]
) -> dict[int, Mention]:
    """Figure index → mention, for "A and B … $X and $Y, respectively" lists."""
    marker = re.search(r"\brespective(?:ly)?\b", sentence, re.IGNORECASE)
    if len(kept) < 2:
        return {}
    if not marker:
        return _parallel(sentence, kept, mentions)
    run = [i for i, (q, _) in enumerate(kept) if q.end <= marker.start()]
    # The list is the run of figures joined only by commas and "and" just before "respectively".
    chain: list[int] = []
    for i in reversed(run):
        if chain:
            gap = sentence[kept[i][0].end : kept[chain[-1]][0].start]
            if not _FIGURE_GAP.fullmatch(gap):
                break
        chain.append(i)
    chain.reverse()
    if len(chain) < 2:
        return {}
    first = kept[chain[0]][0].start
    floor = kept[chain[0] - 1][0].end if chain[0] > 0 else 0
    names: list[Mention] = []
    for mention in mentions:
        if floor <= mention.start < first and all(mention.name != m.name for m in names):
            names.append(mention)
    if len(names) < len(chain):
        return {}
    return dict(zip(chain, names[-len(chain) :], strict=True))


_FIGURE_GAP = re.compile(r"[\s,]*(?:and\s+)?")
# What may stand between two items of a list of names: a comma or "and", after an optional
# short parenthesis (a ticker) or possessive.
_NAME_LIST_GAP = re.compile(
    r"(?:['’]s?)?\s*(?:\([^()]{1,12}\))?\s*(?:,\s*(?:and\s+|&\s*)?|and\s+|&\s*)"
)


class _Span(Protocol):
    start: int
    end: int


_Spanned = TypeVar("_Spanned", bound=_Span)


def joined_runs(names: Sequence[_Spanned], sentence: str) -> list[list[_Spanned]]:
    """``names`` (in text order) cut into runs the sentence joins as lists ("A, B and C")."""
    runs: list[list[_Spanned]] = []
    for name in names:
        if runs and _NAME_LIST_GAP.fullmatch(sentence[runs[-1][-1].end : name.start]):
            runs[-1].append(name)
        else:
            runs.append([name])
    return runs


def _parallel(
    sentence: str, kept: list[tuple[Quantity, str]], mentions: list[Mention]
) -> dict[int, Mention]:
    """Figure index → mention for "A and B saw $X and $Y": a list of figures joined only by
    commas and "and", after a list of as many names joined the same way, pair in order."""
    first = 0
    while first < len(kept):
        chain = [first]
        while chain[-1] + 1 < len(kept) and _FIGURE_GAP.fullmatch(
            sentence[kept[chain[-1]][0].end : kept[chain[-1] + 1][0].start]
        ):
            chain.append(chain[-1] + 1)
        if len(chain) >= 2:
            floor = kept[first - 1][0].end if first else 0
            names = [m for m in mentions if floor <= m.start and m.end <= kept[first][0].start]
            runs = joined_runs(names, sentence)
            listed = runs[-1][-len(chain) :] if runs else []
            distinct = len({m.name for m in listed}) == len(listed)
            if len(listed) == len(chain) and distinct:
                return dict(zip(chain, listed, strict=True))
        first = chain[-1] + 1
    return {}


_TOGETHER = re.compile(
    r"\b(?:together|combined|collectively|in total)\b\W+(?:\w+\W+){0,3}(?:[~≈]|about |around |"
    r"nearly |over |more than |some |roughly |approximately )?$",
    re.IGNORECASE,
)


def _entity_for(
    sentence: str,
    segments: list,
    mentions: list[Mention],
    quantity: Quantity,
    metric: str,
    paired: Mention | None,
    state: _ArticleState,
) -> tuple[str | None, str | None]:
    """Canonical entity name and type for a figure, or (None, None) when market-wide."""
    if _TOGETHER.search(sentence[: quantity.start]):
        # "together representing 62%": a sum over the names before it, about none of them alone.
        return None, None
    if metric == "exchange_flow":
        paired = paired or _exchange_moved(sentence, quantity, mentions)
    mention = paired or choose_entity(
        sentence, segments, mentions, quantity.core_start, quantity.end, metric
    )
    if (
        paired is None
        and mention is not None
        and metric not in _PER_ASSET_METRICS
        and _names_asset(mention, state.gazetteer)
        and _ends_asset_list(sentence, mention, mentions, quantity.start, state.gazetteer)
    ):
        # "inflows to Solana, XRP, Polygon … amount to $3 million": a sum over the list.
        return None, None
    if (
        mention is not None
        and metric in _MARKET_TOTAL_METRICS
        and _CRYPTO_AFTER.match(sentence, quantity.end)
    ):
        # "over $1 billion in crypto short positions": the whole market's, whoever led it.
        return None, None
    if mention is None or (metric in _HOLDER_METRICS and mention.type in _PRICE_LIKE_ASSET_TYPES):
        mention = anaphora_entity(sentence, len(sentence), state.history) or mention
    if mention is None and not mentions and subject_fits(sentence, state.subject, metric):
        mention = state.subject
    if metric == "options_notional":
        mention = _options_owner(sentence, mentions, mention, state)
    # A price, a move, a supply and a put/call ratio are always some asset's: the last one named.
    if mention is None and metric in {"price", "price_change", "supply", "put_call_ratio"}:
        mention = next(
            (m for m in reversed(state.history) if m.type in _PRICE_LIKE_ASSET_TYPES), None
        )
    if mention is None and not mentions and subject_fits(sentence, state.asset_subject, metric):
        mention = state.asset_subject
    if mention is not None:
        return mention.name, mention.type
    if _is_heading(sentence):
        return None, None
    segment = segments[segment_index(segments, quantity.start)]
    name = candidate_name(sentence, segment, quantity.start)
    if name and state.gazetteer.lookup(name) is None:
        return name, "candidate"
    return None, None


_COMBINED = re.compile(r"\b(?:combined|total|together|in all)\b", re.IGNORECASE)
_ASSET_LIST_GAP = re.compile(r"\)?\s*(?:\([^()]{1,12}\)\s*)?(?:,\s*(?:and\s+)?|and\s+|&\s*)")


def _options_owner(
    sentence: str, mentions: list[Mention], chosen: Mention | None, state: _ArticleState
) -> Mention | None:
    """Options on a list of assets ("BTC and ETH options") or a combined total are counted at
    their venue, the exchange the article reports from; options on one asset are that asset's."""
    listed = (
        chosen is not None and chosen.type == "asset" and _in_asset_list(sentence, chosen, mentions)
    )
    if listed or (chosen is None and _COMBINED.search(sentence)):
        return state.venue
    return chosen


def _in_asset_list(sentence: str, chosen: Mention, mentions: list[Mention]) -> bool:
    """Whether ``chosen`` is joined with a different asset in a list: "Bitcoin (BTC) and ETH"."""
    assets = [m for m in mentions if m.type == "asset"]
    return any(
        a.name != b.name
        and (chosen.start == b.start or (chosen.name == a.name and chosen.start <= a.start))
        and _ASSET_LIST_GAP.fullmatch(sentence[a.end : b.start])
        for a, b in zip(assets, assets[1:], strict=False)
    )


_MARKET_TOTAL_METRICS = frozenset(
    {"liquidations", "liquidated_traders", "volume", "open_interest", "market_cap"}
)
_CRYPTO_AFTER = re.compile(
    r"\s+(?:worth\s+)?(?:in|of|across)\s+(?:the\s+)?(?:broader\s+)?crypto(?:currency)?\b"
    r"(?!\s+(?:from|by|at|on)\b)",
    re.IGNORECASE,
)


_EACH = re.compile(r"[^\s,.;]*\s+each\b", re.IGNORECASE)


def _names_asset(mention: Mention, gazetteer: Gazetteer) -> bool:
    """Whether a mention names an asset, also as its group of funds ("Polygon funds")."""
    return mention.type == "asset" or gazetteer.entity_type(mention.name) == "asset"


def _ends_asset_list(
    sentence: str, chosen: Mention, mentions: list[Mention], start: int, gazetteer: Gazetteer
) -> bool:
    """Whether ``chosen`` closes a list of assets ("Solana, XRP and Polygon") the figure sums."""
    # A figure or parenthesis between them means the list's items have figures of their own.
    between = sentence[chosen.end : start]
    if chosen.end > start or re.search(r"[\d(]", between) or _EACH.match(sentence, start):
        return False
    assets = [m for m in mentions if _names_asset(m, gazetteer) and m.end <= chosen.start]
    return bool(assets) and (
        assets[-1].name != chosen.name
        and _ASSET_LIST_GAP.fullmatch(sentence[assets[-1].end : chosen.start]) is not None
    )


def _is_heading(sentence: str) -> bool:
    """Whether a line is Title Case, as headlines are (their capitals say nothing about names)."""
    words = [w for w in re.findall(r"[A-Za-z][\w'’-]*", sentence) if len(w) > 3]
    if len(words) < 3:
        return False
    return sum(w[0].isupper() for w in words) / len(words) >= 0.7


def drop_restated(facts: list[Fact]) -> list[Fact]:
    """Facts less the ones that restate another: headline echoes, repeated lines and counts."""
    kept: list[Fact] = []
    for index, fact in enumerate(facts):
        others = facts[:index] + facts[index + 1 :]
        if _is_headline(fact.sentence) and any(
            _same_figure(fact, other) and not _is_headline(other.sentence) for other in others
        ):
            continue
        if any(
            _same_figure(fact, earlier)
            and (fact.metric, fact.entity) == (earlier.metric, earlier.entity)
            and earlier.sentence != fact.sentence
            and _near_duplicate(fact.sentence, earlier.sentence)
            for earlier in kept
        ):
            continue
        if fact.unit == "count" and any(
            _same_figure(fact, earlier) and _counted(fact) == _counted(earlier) for earlier in kept
        ):
            continue
        kept.append(fact)
    return kept


def _is_headline(sentence: str) -> bool:
    """A title or heading line: Title Case, without a closing full stop."""
    return not sentence.rstrip().endswith(".") and _is_heading(sentence)


def _same_figure(a: Fact, b: Fact) -> bool:
    """Same unit and a value within 0.5% (how FACTS.md compares figures)."""
    return a.unit == b.unit and abs(a.value - b.value) <= 0.005 * max(abs(a.value), abs(b.value))


def _near_duplicate(a: str, b: str) -> bool:
    """Whether two sentences share nearly all their words (a summary bullet and its body line)."""
    words_a = set(re.findall(r"\w+", a.lower()))
    words_b = set(re.findall(r"\w+", b.lower()))
    smaller = min(len(words_a), len(words_b))
    return smaller >= 6 and len(words_a & words_b) >= 0.8 * smaller


def _counted(fact: Fact) -> str:
    """The thing a count counts, singular: "10 spot Bitcoin ETFs" → "etf"."""
    words = re.findall(r"[A-Za-z]+", fact.text)
    return words[-1].lower().rstrip("s") if words else ""
