"""What each figure may be about: named things near it, the article's subject, or nothing.

Candidates are the gazetteer's mentions in the figure's sentence, the two sentences before it
and the title, plus proper names the parser tags that the gazetteer does not know (kept with a
type guessed from their last word, rather than dropped), plus the market-wide reading (NULL).
"""

from __future__ import annotations

import re

from ingest.dates import CALENDAR_WORDS
from ingest.facts.features import Candidate
from ingest.facts.parsing import Parse
from ingest.gazetteer import Gazetteer, Mention

# The last word of an unknown name says what kind of thing it is ("Foo Capital", "Bar Protocol").
_TYPE_BY_LAST_WORD = {
    "protocol": "protocol",
    "finance": "protocol",
    "dao": "protocol",
    "swap": "protocol",
    "capital": "company",
    "digital": "company",
    "research": "company",
    "labs": "company",
    "group": "company",
    "holdings": "company",
    "inc": "company",
    "corp": "company",
    "ventures": "company",
    "partners": "company",
    "etf": "fund",
    "etfs": "fund",
    "etp": "fund",
    "trust": "fund",
    "fund": "fund",
    "exchange": "exchange",
    "network": "network",
    "chain": "network",
}
_PROPER_TAGS = frozenset({"NNP", "NNPS"})
_CALENDAR = frozenset(w.lower() for w in CALENDAR_WORDS)
_LOOKBACK = 2


def guess_type(name: str) -> str:
    """The entity type an unknown name's last word suggests, else ``"unknown"``."""
    last = re.sub(r"\W+$", "", name.split()[-1]).lower() if name.split() else ""
    return _TYPE_BY_LAST_WORD.get(last, "unknown")


def unknown_names(sentence: str, parse: Parse, mentions: list[Mention]) -> list[Mention]:
    """Runs of proper-noun tokens that no gazetteer mention covers, as typed mentions."""
    found: list[Mention] = []
    run: list[int] = []
    for token in (*parse.tokens, None):
        proper = (
            token is not None
            and token.tag in _PROPER_TAGS
            and token.text[:1].isupper()
            and token.text.lower() not in _CALENDAR
            and not any(m.start < token.end and token.start < m.end for m in mentions)
        )
        if proper:
            run.append(token.index)
            continue
        if run:
            start, end = parse.tokens[run[0]].start, parse.tokens[run[-1]].end
            # Tokens may carry a sentence's final stop or a possessive; names do not.
            surface = re.sub(r"(?:['’]s?|\.)$", "", sentence[start:end])
            end = start + len(surface)
            # A lone capitalised first word is usually just the sentence's opening.
            if not (len(run) == 1 and run[0] == 0) and len(surface) > 1:
                found.append(Mention(start, end, surface, surface, guess_type(surface)))
            run = []
    return found


# A run of capitalised words (a name the tagger would call proper), for sentences not parsed.
_CAPITALISED_RUN = re.compile(r"(?<![\w$])[A-Z][\w.&-]*(?:\s+[A-Z][\w.&-]*)*")


def capitalised_names(sentence: str, mentions: list[Mention]) -> list[Mention]:
    """Runs of capitalised words no gazetteer mention covers (the sentence's first word and
    calendar words aside), as typed mentions: the parse-free reading of ``unknown_names``."""
    found = []
    for match in _CAPITALISED_RUN.finditer(sentence):
        words = match.group(0).split()
        start = match.start()
        if start == 0 or not sentence[:start].strip(" \"'“‘(-•*"):
            words = words[1:]
            if not words:
                continue
            start = sentence.index(words[0], start)
        if any(w.rstrip(".").lower() in _CALENDAR for w in words):
            continue
        surface = re.sub(r"(?:['’]s?|\.)$", "", sentence[start : start + len(" ".join(words))])
        end = start + len(surface)
        if len(surface) < 2 or any(m.start < end and start < m.end for m in mentions):
            continue
        found.append(Mention(start, end, surface, surface, guess_type(surface)))
    return found


def needs_parse(sentence: str, mentions: list[Mention]) -> bool:
    """Whether a figure's sentence names two or more things, so the tree must choose."""
    names = {m.name.casefold() for m in mentions}
    names |= {m.name.casefold() for m in capitalised_names(sentence, mentions)}
    return len(names) >= 2


def candidates_for(
    fact_sentence: int,
    mentions: list[list[Mention]],
    names: dict[int, list[Mention]],
    gazetteer: Gazetteer,
    rule_entity: tuple[str | None, str | None],
) -> list[Candidate]:
    """Candidates for a figure in sentence ``fact_sentence`` (NULL first)."""
    out = [Candidate(None, None, None, False, -1, 0, 0)]
    seen_sentences = {0, *range(max(0, fact_sentence - _LOOKBACK), fact_sentence + 1)}
    for index in sorted(seen_sentences):
        for mention in mentions[index]:
            out.append(
                Candidate(
                    mention.name.casefold(),
                    mention.name,
                    mention.type,
                    True,
                    index,
                    mention.start,
                    mention.end,
                )
            )
    for mention in names.get(fact_sentence, []):
        out.append(
            Candidate(
                mention.name.casefold(),
                mention.name,
                mention.type,
                False,
                fact_sentence,
                mention.start,
                mention.end,
            )
        )
    name, kind = rule_entity
    if kind == "candidate" and name is not None:
        kind = guess_type(name)
    if name is not None and all(c.key != name.casefold() for c in out):
        known = gazetteer.lookup(name) is not None
        out.append(Candidate(name.casefold(), name, kind, known, fact_sentence - 3, 0, 0))
    return out
