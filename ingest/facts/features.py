"""Named features of a figure (for its metric) and of a figure–entity pair (for attribution).

Each feature function returns sparse ``{name: value}`` pairs; the learned models in
``ingest.facts.model`` weigh them. Features read the rule pass's reading, the cue lexicon, the
words around the figure and the dependency parse of its sentence.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ingest.facts.metrics import Cue
from ingest.facts.numbers import CURRENCY_CODES
from ingest.facts.parsing import Parse
from ingest.gazetteer import Mention
from ingest.records import Fact

Features = dict[str, float]

_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*|\d[\d.,]*")
# Relations through which a noun phrase owns what it governs.
_SUBJECTS = frozenset({"nsubj", "nsubjpass", "csubj", "expl"})
_MODIFIERS = frozenset({"compound", "amod", "nmod", "npadvmod", "nummod"})
# Words that introduce where a figure comes from rather than what it is about.
_SOURCE_BEFORE = re.compile(
    r"\b(?:according to|reported by|data (?:from|by)|per|as per|via|compiled by|tracked by|"
    r"cited by|shared by|flagged by)\s+(?:(?:the|a|an|blockchain|analytics|security|data|"
    r"research|firm|platform|provider|company|tracker)\s+){0,4}$",
    re.IGNORECASE,
)
_QUOTE_WORDS = frozenset({"against", "versus", "vs", "vs."})


@dataclass(frozen=True)
class Candidate:
    """Something a figure may be about: a name at a place in the article, or nothing (NULL)."""

    key: str | None  # casefolded canonical name; None for the market-wide reading
    name: str | None
    type: str | None
    known: bool
    sentence: int  # index of the sentence holding this mention (-1 for NULL)
    start: int  # offsets into that sentence
    end: int


def unit_kind(unit: str) -> str:
    """The family of a unit: money, percent, bp, ratio, count or coin."""
    special = {"%": "percent", "bp": "bp", "count": "count", "x": "ratio"}
    if unit in special:
        return special[unit]
    return "money" if unit in CURRENCY_CODES else "coin"


def _bucket(distance: int) -> str:
    """A coarse distance class in words."""
    if distance <= 2:
        return "0-2"
    if distance <= 5:
        return "3-5"
    if distance <= 10:
        return "6-10"
    return "11+"


def _words(text: str) -> list[str]:
    """Lower-cased words of ``text``."""
    return [w.lower() for w in _WORD.findall(text)]


def governing_verb(parse: Parse, index: int) -> int | None:
    """The nearest verb above a token in the tree (the verb whose clause states the figure)."""
    for head in parse.ancestors(index):
        if parse.tokens[head].tag.startswith("VB"):
            return head
    return None


def metric_features(
    fact: Fact,
    sentence_start: int,
    cues: list[Cue],
    parse: Parse | None,
    topic: str | None,
    previous_metric: str | None,
    mentions: Sequence[Mention] = (),
) -> Features:
    """Features for the metric of one figure in its sentence (``mentions``: the named things
    of the sentence, whose types say what kind of measure is likely)."""
    sentence = fact.sentence
    start, end = fact.start - sentence_start, fact.end - sentence_start
    kind = unit_kind(fact.unit)
    out: Features = {
        "bias": 1.0,
        f"unit={kind}": 1.0,
        f"rule={fact.metric}": 1.0,
        f"rule={fact.metric}|unit={kind}": 1.0,
        f"qualifier={fact.qualifier}": 1.0,
        f"topic={topic}": 1.0,
        f"topic={topic}|unit={kind}": 1.0,
        f"prev={previous_metric}": 1.0,
    }
    if fact.value < 0:
        out["negative"] = 1.0
    out[f"magnitude={min(int(math.log10(abs(fact.value) + 1)), 12)}|unit={kind}"] = 1.0
    left, right = _words(sentence[:start]), _words(sentence[end:])
    # Only the nearest words: farther ones overfit (measured by cross-validation).
    for word in left[-3:]:
        out[f"L1:{word}"] = 1.0
    for word in right[:3]:
        out[f"R1:{word}"] = 1.0
    nearest: dict[str, int] = {}
    for cue in cues:
        if cue.end <= start:
            distance = len(_words(sentence[cue.end : start]))
            side = "L"
        elif cue.start >= end:
            distance = len(_words(sentence[end : cue.start]))
            side = "R"
        else:
            distance, side = 0, "in"
        out[f"cue={cue.metric}|{side}|{_bucket(distance)}"] = 1.0
        out[f"cue={cue.metric}|unit={kind}"] = 1.0
        nearest[cue.metric] = min(distance, nearest.get(cue.metric, distance))
    if nearest:
        best = min(nearest, key=nearest.get)
        out[f"nearest_cue={best}|unit={kind}"] = 1.0
    for mention in mentions:
        out[f"names_type={mention.type}"] = 1.0
        out[f"names_type={mention.type}|unit={kind}"] = 1.0
    if mentions:
        nearest_name = min(mentions, key=lambda m: min(abs(m.start - end), abs(start - m.end)))
        out[f"nearest_type={nearest_name.type}|unit={kind}"] = 1.0
    if parse is not None:
        out.update(_syntax_for_metric(parse, start, end))
    return out


def _syntax_for_metric(parse: Parse, start: int, end: int) -> Features:
    """The words that govern the figure in the tree: its head, its verb, their relations."""
    index = parse.token_at(start, end)
    if index is None:
        return {}
    token = parse.tokens[index]
    out: Features = {f"dep={token.dep}": 1.0}
    chain = parse.ancestors(index)
    for depth, head in enumerate(chain[:3]):
        word = parse.tokens[head].text.lower()
        out[f"head{depth}={word}"] = 1.0
        out[f"head_any={word}"] = 1.0
    verb = governing_verb(parse, index)
    if verb is not None:
        out[f"verb={parse.tokens[verb].text.lower()}"] = 1.0
    # Nouns modifying the figure ("$2 billion in ETF inflows": inflows is the figure's object).
    for child in parse.children(index):
        if parse.tokens[child].dep == "prep":
            for grand in parse.children(child):
                out[f"prep_obj={parse.tokens[grand].text.lower()}"] = 1.0
    return out


def candidate_features(
    candidate: Candidate,
    fact_sentence: int,
    fact_start: int,
    fact_end: int,
    metric: str,
    parse: Parse | None,
    context: dict,
) -> Features:
    """Features of one (figure, candidate) pair; offsets are into the figure's sentence."""
    if candidate.key is None:
        out = {"null": 1.0, f"null|metric={metric}": 1.0}
        if context.get("rule_key") is None:
            out["null|rule_null"] = 1.0
        if context.get("market_word"):
            out["null|market_word"] = 1.0
        if not context.get("names_in_sentence"):
            out["null|no_names_in_sentence"] = 1.0
        return out
    kind = candidate.type or "unknown"
    out: Features = {
        f"type={kind}": 1.0,
        f"type={kind}|metric={metric}": 1.0,
        "known" if candidate.known else "unknown_name": 1.0,
    }
    if candidate.key == context.get("rule_key"):
        out["rule_pick"] = 1.0
        out[f"rule_pick|metric={metric}"] = 1.0
    count = context["counts"].get(candidate.key, 0)
    out[f"article_count={min(count, 5)}"] = 1.0
    if candidate.key == context.get("subject_key"):
        out["article_subject"] = 1.0
        out[f"article_subject|metric={metric}"] = 1.0
    if candidate.key in context.get("title_keys", ()):
        out["in_title"] = 1.0
    gap = fact_sentence - candidate.sentence
    if gap == 0:
        out.update(_same_sentence(candidate, fact_start, fact_end, metric, parse, context))
    else:
        out[f"sentences_back={min(gap, 3)}"] = 1.0
        out[f"sentences_back={min(gap, 3)}|no_names={not context.get('names_in_sentence')}"] = 1.0
    return out


def _same_sentence(
    candidate: Candidate,
    fact_start: int,
    fact_end: int,
    metric: str,
    parse: Parse | None,
    context: dict,
) -> Features:
    """Position, list and tree relations between a figure and a name in its sentence."""
    sentence = context["sentence"]
    before = candidate.end <= fact_start
    between = (
        sentence[candidate.end : fact_start] if before else sentence[fact_end : candidate.start]
    )
    distance = len(_words(between))
    out: Features = {
        "same_sentence": 1.0,
        f"position={'before' if before else 'after'}|{_bucket(distance)}": 1.0,
    }
    if re.search(r"[;:]|\bwhile\b|\bwhereas\b|\bbut\b", between):
        out["clause_break"] = 1.0
    preceding = _words(sentence[max(0, candidate.start - 12) : candidate.start])
    if preceding and preceding[-1] in _QUOTE_WORDS:
        out["quote_position"] = 1.0
    if (
        sentence[candidate.end : candidate.end + 1] == "/"
        or sentence[max(0, candidate.start - 1) : candidate.start] == "/"
    ):
        out["pair_member"] = 1.0
    if before and re.match(r"['’]s?\b", sentence[candidate.end : candidate.end + 2]):
        # "X's market cap ... $N": the name owns the measure (the parse's possessor, read
        # without the parse).
        out["possessive"] = 1.0
        if "clause_break" not in out:
            out["possessive|same_clause"] = 1.0
    if "(" in sentence[max(0, candidate.start - 2) : candidate.start] and before:
        out["in_parenthesis"] = 1.0
    order = context.get("respectively")
    if order is not None:
        mode, figure_rank, name_ranks = order
        rank = name_ranks.get(candidate.start)
        if rank is not None:
            out[f"{mode}_{'match' if rank == figure_rank else 'other'}"] = 1.0
    if _SOURCE_BEFORE.search(sentence[max(0, candidate.start - 40) : candidate.start]):
        out["source_context"] = 1.0
    if parse is not None:
        out.update(_tree_relation(parse, candidate, fact_start, fact_end))
    return out


def _tree_relation(parse: Parse, candidate: Candidate, fact_start: int, fact_end: int) -> Features:
    """How the name's token hangs from the figure's in the dependency tree."""
    figure = parse.token_at(fact_start, fact_end)
    name = parse.token_at(candidate.start, candidate.end)
    if figure is None or name is None:
        return {}
    out: Features = {}
    figure_chain = [figure, *parse.ancestors(figure)]
    name_chain = [name, *parse.ancestors(name)]
    common = next((t for t in name_chain if t in figure_chain), None)
    if common is not None:
        steps = figure_chain.index(common) + name_chain.index(common)
        out[f"tree_steps={min(steps, 6)}"] = 1.0
        if common == name:
            out["name_governs_figure"] = 1.0
        # The relation by which the name's branch joins the figure's path.
        if common != name:
            joiner = name_chain[name_chain.index(common) - 1]
            relation = parse.tokens[joiner].dep
            out[f"joins_by={relation}"] = 1.0
            if parse.tokens[common].tag.startswith("VB"):
                out[f"joins_verb_by={relation}"] = 1.0
            if relation == "pobj" or (relation == "prep"):
                prep = joiner if relation == "prep" else parse.tokens[joiner].head
                out[f"joins_prep={parse.tokens[prep].text.lower()}"] = 1.0
    verb = governing_verb(parse, figure)
    if verb is not None:
        head = parse.tokens[name].head
        dep = parse.tokens[name].dep
        if head == verb and dep in _SUBJECTS:
            out["subject_of_verb"] = 1.0
        # Passive agent: the name is the object of "by" attached to the verb.
        if dep == "pobj" and parse.tokens[head].dep == "agent" and parse.tokens[head].head == verb:
            out["agent_of_verb"] = 1.0
        # A name in a compound ("Binance users") or possessive ("Binance's") of the subject.
        if parse.tokens[head].dep in _SUBJECTS and parse.tokens[head].head == verb:
            out[f"in_subject_by={dep}"] = 1.0
    if parse.tokens[name].dep == "poss":
        out["possessor"] = 1.0
    if parse.tokens[name].dep in _MODIFIERS and parse.tokens[name].head in figure_chain:
        out["modifies_figure_path"] = 1.0
    if any(parse.tokens[t].dep == "appos" for t in name_chain[1:4]):
        out["inside_appositive"] = 1.0
    if parse.tokens[name].dep == "conj" or any(
        parse.tokens[c].dep == "conj" for c in parse.children(name)
    ):
        out["in_list"] = 1.0
    return out
