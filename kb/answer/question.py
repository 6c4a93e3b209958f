"""Reading a question for what it asks: the kind of answer, metric, entity type, side, unit,
the names and figures it already states (context, never the answer) and the time it names.

These are readings of the question's grammar (wh-words, the noun that names the asked type), not
scores: how much each reading counts is learned by the ranker (kb/answer/training.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from ingest.facts.metrics import find_cues
from ingest.facts.numbers import find_quantities
from ingest.gazetteer import Gazetteer
from kb.answer.when import TimeSpan, read_time
from kb.answer.words import terms_of

_WH = re.compile(
    r"\b(?:which|who|whom|whose|why|what|how (?:much|many|large|big|high|low|deep)|at what|"
    r"to what|where|when did)\b",
    re.IGNORECASE,
)
_EXPLAIN = re.compile(
    r"^(?:why|what (?:triggered|sparked|caused|made|drove|deepened|rumou?r|likely|did|does|"
    r"do|are|is|explains?|led|prompted|pushed|fuel\w*|behind|happened)|how (?:does|do|did|is|"
    r"are|can|could|would|will|has|have))\b",
    re.IGNORECASE,
)
_FIGURE = re.compile(
    r"^(?:how (?:much|many|large|big|high|low|deep)|at what|to what|what (?:was|is|were|are|"
    r"had|has) (?:the |\w+'s |its )(?:[\w'/-]+ ){0,5}(?:value|price|level|size|amount|"
    r"total|number|figure|share|ratio|rate|dominance|percentage|cap\w*|capitali[sz]ation|volume|interest|outflow|"
    r"inflow|balance|loss|liquidation price|max pain)|what (?:record|percentage|share|price|"
    r"level|amount|total|all-time high|average|dollar))\b",
    re.IGNORECASE,
)
_RANKING = re.compile(
    r"^(?:which|who|whose|what (?:exchange|asset|coin|token|fund|etf|issuer|"
    r"platform|protocol|company|country|blockchain|chain|dex|altcoin))\b",
    re.IGNORECASE,
)
_LOWEST = re.compile(r"\b(?:lowest|least|smallest|fewest|weakest|minimum)\b", re.IGNORECASE)

_ENTITY_TYPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("exchange", re.compile(r"\b(?:exchanges?|platforms?|venues?|trading venues?)\b", re.I)),
    ("fund", re.compile(r"\b(?:etfs?|etps?|funds?|issuers?|products?|trusts?)\b", re.I)),
    (
        "protocol",
        re.compile(
            r"\b(?:protocols?|dex(?:es)?|lenders?|blockchains?|chains?|"
            r"networks?)\b",
            re.I,
        ),
    ),
    ("company", re.compile(r"\b(?:compan(?:y|ies)|firms?|miners?|treasur(?:y|ies))\b", re.I)),
    ("country", re.compile(r"\b(?:countr(?:y|ies)|nations?|regions?|jurisdictions?)\b", re.I)),
    (
        "person",
        re.compile(
            r"\b(?:who|whom|person|people|trader|investor|founder|executive|"
            r"analyst|billionaire)\b",
            re.I,
        ),
    ),
    (
        "asset",
        re.compile(
            r"\b(?:assets?|coins?|tokens?|altcoins?|cryptocurrenc(?:y|ies)|"
            r"crypto(?:s)?|top-\d+ \w+)\b",
            re.I,
        ),
    ),
)
_UNIT_HINTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bhow many (?:bitcoins?|btc)\b|\bhow much (?:bitcoin|btc)\b", re.I), "BTC"),
    (re.compile(r"\bhow many (?:ether|eth)\b|\bhow much (?:ether|eth)\b", re.I), "ETH"),
    (
        re.compile(
            r"\bhow many (?:\w+ ){0,2}(?:traders|people|users|accounts|investors|wallets|"
            r"addresses|positions)\b",
            re.I,
        ),
        "count",
    ),
    (re.compile(r"\b(?:percentage|percent|dominance|share|%)\b", re.I), "%"),
    (re.compile(r"\bratio\b", re.I), "x"),
    (re.compile(r"\b(?:price|how much|dollar value|worth|value|loss|usd|\$)\b", re.I), "USD"),
)
_RELATIVE = re.compile(
    r"^(?:which|that|who) (?:\w+ed|is|was|were|are|has|had|have|saw|showed|"
    r"shows|took|fell|rose|hit|made|left|set)\b",
    re.IGNORECASE,
)
_FOCUS_END = re.compile(
    r"\s(?:when|after|as|while|during|in which|on which|amid|since|"
    r"following|despite|before|with|that)\s",
    re.IGNORECASE,
)
_SIDE = re.compile(r"\b(longs?|shorts?)\b", re.IGNORECASE)


_SUPERLATIVE_HEAD = re.compile(
    r"\b(?:most|largest|highest|biggest|steepest|strongest|sharpest|hardest|heaviest|greatest|"
    r"lowest|least|smallest|weakest|fewest|top)\s+([\w-]+)(?:\s+([\w-]+))?",
    re.IGNORECASE,
)
# Where the core of a wh-clause (its subject and verb) ends: "what are traders watching | for …".
_CORE_END = re.compile(
    r"\s(?:to|for|of|in|on|at|about|with|by|into|from|over|across|among|amid)\s", re.IGNORECASE
)
_CAUSE_ASK = re.compile(
    r"^(?:why|what (?:\w+ )?(?:caused|triggered|sparked|drove|prompted|fuell?ed|led to|"
    r"deepened|pushed|made|explains?|behind))\b",
    re.IGNORECASE,
)


def among(value: float, values: list[float]) -> bool:
    """Whether ``value`` is one of ``values`` within 0.5% (the same figure, rounded)."""
    return any(abs(value - v) <= 0.005 * max(abs(v), 1e-9) for v in values)


@dataclass
class Intent:
    """What a question asks for, and the words it asks with."""

    kind: str  # "ranking", "figure" or "explain"
    metric: str | None = None
    entity_type: str | None = None
    entities: list[str] = field(default_factory=list)
    side: str | None = None
    unit: str | None = None
    lowest: bool = False
    # Figures the question itself states: context to match, never the answer.
    stated_values: list[float] = field(default_factory=list)
    # The wh-clause up to its first subordinate clause: what is asked, without the context.
    clause: str = ""
    # Entities the asking clause itself names ("max pain for Bitcoin options"), not its context.
    clause_entities: list[str] = field(default_factory=list)
    text: str = ""
    terms: frozenset[str] = frozenset()  # content words of the whole question
    focus: frozenset[str] = frozenset()  # content words of the asking clause
    core: frozenset[str] = frozenset()  # its subject and verb
    head: frozenset[str] = frozenset()  # words a superlative of the question governs
    named: set[str] = field(default_factory=set)  # lower-cased names the question uses
    named_terms: frozenset[str] = frozenset()  # their content words
    causal: bool = False  # asks for a cause ("why", "what drove")
    time: TimeSpan | None = None  # the publication time the question names
    today: date | None = None  # the day the question was read against

    def states(self, value: float) -> bool:
        """Whether the question itself states ``value`` (within 0.5%): context, not an answer."""
        return among(value, self.stated_values)


def read_question(question: str, gazetteer: Gazetteer, today: date | None = None) -> Intent:
    """The intent of ``question``, read from its wh-clause first and its context second."""
    clauses = [question[m.start() :] for m in _WH.finditer(question)]
    clauses = [re.split(r"[,;?]", c, maxsplit=1)[0] for c in clauses] or [question]
    # A question may open with context ("On the day …, how much …"): the first clause that
    # reads as a known kind of ask decides.
    kind, clause = "explain", clauses[0]
    for number, candidate in enumerate(clauses):
        if _RELATIVE.match(candidate) and number < len(clauses) - 1:
            continue  # "…, which showed $2.2 billion of inflows, which country …"
        if _EXPLAIN.match(candidate):
            kind, clause = "explain", candidate
        elif _FIGURE.match(candidate):
            kind, clause = "figure", candidate
        elif _RANKING.match(candidate):
            kind, clause = "ranking", candidate
        else:
            continue
        break
    cues = sorted(find_cues(clause) or find_cues(question), key=lambda cue: cue.start)
    metric = cues[0].metric if cues else None
    entity_type = next((name for name, pattern in _ENTITY_TYPES if pattern.search(clause)), None)
    unit = None
    if kind == "figure":
        unit = next((unit for pattern, unit in _UNIT_HINTS if pattern.search(clause)), None)
    side_match = _SIDE.search(clause)
    focus = _FOCUS_END.split(clause, maxsplit=1)[0]
    mentions = gazetteer.find_mentions(question)
    head_match = _SUPERLATIVE_HEAD.search(focus)
    named = {m.name.lower() for m in mentions} | {m.surface.lower() for m in mentions}
    head = terms_of(" ".join(g for g in head_match.groups() if g)) if head_match else frozenset()
    named_terms = terms_of(" ".join(named))
    return Intent(
        kind=kind,
        metric=metric,
        entity_type=entity_type,
        entities=list(dict.fromkeys(m.name for m in mentions)),
        side=side_match.group(1).lower().rstrip("s") if side_match else None,
        unit=unit,
        lowest=bool(_LOWEST.search(clause)),
        stated_values=[q.value for q in find_quantities(question, gazetteer)],
        clause=focus,
        clause_entities=list(dict.fromkeys(m.name for m in gazetteer.find_mentions(focus))),
        text=question,
        terms=terms_of(question),
        focus=terms_of(focus) or terms_of(question),
        core=terms_of(_CORE_END.split(focus, maxsplit=1)[0]),
        head=head - named_terms,
        named_terms=named_terms,
        named=named,
        causal=bool(_CAUSE_ASK.match(focus.strip())),
        time=read_time(question, today or date.today()),
        today=today or date.today(),
    )
