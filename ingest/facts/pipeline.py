"""The two passes of extraction: read an article's figures and their evidence, then decide.

``analyze`` runs the number reader and the rule pass, parses the sentences that hold figures and
gathers every feature the models need; ``decide`` applies the fitted models to that evidence.
Training reads the same ``Analysis``, so the features a model is fit on are the features it sees.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from dataclasses import dataclass, replace

from ingest.facts.attribution import SIDED_METRICS, segments_of, side_of
from ingest.facts.candidates import (
    candidates_for,
    capitalised_names,
    needs_parse,
    unknown_names,
)
from ingest.facts.features import (
    Candidate,
    Features,
    candidate_features,
    metric_features,
    unit_kind,
)
from ingest.facts.metrics import direction_of
from ingest.facts.model import FactModels
from ingest.facts.parsing import Parse, parse_sentences
from ingest.facts.rules import cues_of, document_topic, joined_runs, rule_facts
from ingest.gazetteer import Gazetteer
from ingest.records import Fact
from ingest.sentences import sentence_spans

# "market" in the name of a measure ("market cap", "market share") says nothing about scope.
_MARKET_WORDS = re.compile(
    r"\b(?:market(?!\s+(?:cap|capitali[sz]ation|value|share|dominance)\b)|markets|total|overall|"
    r"across|crypto|altcoins?|sector|industry|global|whole|"
    r"entire|combined|collectively)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Figure:
    """One figure the rule pass found, with everything the models read about it."""

    fact: Fact
    sentence_index: int
    sentence_start: int
    parse: Parse | None
    metric_features: Features
    candidates: tuple[Candidate, ...]
    context: dict


@dataclass(frozen=True)
class Analysis:
    """The figures of one article and their evidence, in text order."""

    figures: tuple[Figure, ...]


def analyze(text: str, gazetteer: Gazetteer, parser=None) -> Analysis:  # noqa: ANN001
    """Figures of ``text`` with their features (``parser`` None: no syntax features)."""
    facts = rule_facts(text, gazetteer)
    if not facts:
        return Analysis(())
    spans = sentence_spans(text)
    starts = [a for a, _ in spans]
    sentences = [text[a:b] for a, b in spans]
    where = [max(0, bisect.bisect_right(starts, f.start) - 1) for f in facts]
    mentions = [gazetteer.find_mentions(s) for s in sentences]
    # Only sentences that name two or more things are parsed: with one name or none, the tree
    # has nothing to choose between (and parsing is most of the time extraction takes).
    held = sorted(i for i in set(where) if needs_parse(sentences[i], mentions[i]))
    parses: dict[int, Parse] = {}
    if parser is not None:
        parses = dict(zip(held, parse_sentences(parser, [sentences[i] for i in held]), strict=True))
    names = {
        i: (
            unknown_names(sentences[i], parses[i], mentions[i])
            if i in parses
            else capitalised_names(sentences[i], mentions[i])
        )
        for i in set(where)
    }
    counts = Counter(m.name.casefold() for row in mentions for m in row)
    subject = counts.most_common(1)[0] if counts else None
    cues_by_sentence = [cues_of(s) for s in sentences]
    shared = {
        "counts": counts,
        "subject_key": subject[0] if subject and subject[1] >= 2 else None,
        "title_keys": frozenset(m.name.casefold() for m in mentions[0]),
    }
    topic = document_topic(cues_by_sentence)
    copies = Counter((f.start, f.end) for f in facts)
    figures = []
    for n, (fact, index) in enumerate(zip(facts, where, strict=True)):
        sentence_start = starts[index]
        sentence = sentences[index]
        parse = parses.get(index)
        candidates = candidates_for(
            index, mentions, names, gazetteer, (fact.entity, fact.entity_type)
        )
        context = {
            **shared,
            "sentence": sentence,
            "rule_key": fact.entity.casefold() if fact.entity else None,
            "market_word": bool(_MARKET_WORDS.search(sentence)),
            "spread": fact.entity is not None and copies[(fact.start, fact.end)] > 1,
            "names_in_sentence": any(c.sentence == index for c in candidates),
            "respectively": _respectively_ranks(
                fact, facts, where, index, sentence_start, candidates
            ),
        }
        figures.append(
            Figure(
                fact,
                index,
                sentence_start,
                parse,
                metric_features(
                    fact,
                    sentence_start,
                    list(cues_by_sentence[index]),
                    parse,
                    topic,
                    facts[n - 1].metric if n else None,
                    mentions[index],
                ),
                tuple(candidates),
                context,
            )
        )
    return Analysis(tuple(figures))


def _respectively_ranks(
    fact: Fact,
    facts: list[Fact],
    where: list[int],
    index: int,
    sentence_start: int,
    candidates: list[Candidate],
) -> tuple[str, int, dict[int, int]] | None:
    """For a sentence pairing a list of names with a list of like figures, (how it pairs them,
    the figure's rank among them, name start → rank); else None.

    "respectively" says so outright; otherwise as many distinct names before the first figure
    as there are like figures reads as a parallel list ("A and B saw x and y").
    """
    kind = unit_kind(fact.unit)
    peers = [
        f for f, i in zip(facts, where, strict=True) if i == index and unit_kind(f.unit) == kind
    ]
    first = min(f.start for f in peers) - sentence_start
    named: list[Candidate] = []
    for candidate in sorted(
        (c for c in candidates if c.sentence == index and c.end <= first), key=lambda c: c.start
    ):
        if all(candidate.key != c.key for c in named):
            named.append(candidate)
    listed = _coordinated(named, fact.sentence)
    if "respectively" in fact.sentence.lower():
        mode = "respectively"
        if len(listed) >= len(peers):
            named = listed
    elif len(peers) >= 2 and len(listed) == len(peers):
        mode, named = "parallel", listed
    else:
        return None
    return mode, peers.index(fact), {c.start: rank for rank, c in enumerate(named)}


def _coordinated(named: list[Candidate], sentence: str) -> list[Candidate]:
    """The names of ``named`` (in text order) that the sentence joins as a list ("A, B and C"):
    the last such run of two or more, else the longest, else none."""
    runs = joined_runs(named, sentence)
    if not runs:
        return []
    longest = max(runs, key=len)
    return runs[-1] if len(runs[-1]) >= 2 else (longest if len(longest) >= 2 else [])


def entity_rows(figure: Figure, metric: str) -> list[Features]:
    """The features of each of a figure's candidates, read with ``metric``."""
    start = figure.fact.start - figure.sentence_start
    end = figure.fact.end - figure.sentence_start
    return [
        candidate_features(
            c, figure.sentence_index, start, end, metric, figure.parse, figure.context
        )
        for c in figure.candidates
    ]


def decide(analysis: Analysis, models: FactModels) -> list[Fact]:
    """The facts the models keep, with their metric, entity and side."""
    out = []
    for figure in analysis.figures:
        probabilities = models.metric.probabilities(figure.metric_features)
        metric = max(probabilities, key=probabilities.get)
        # The model overrides the rule pass only when it is confident.
        if probabilities[metric] < models.confidence:
            metric = figure.fact.metric
        if figure.context["spread"]:
            # The rule pass gave one stated figure to each name of a list ("A and B fell 5%"):
            # each copy keeps its own name.
            best = next(c for c in figure.candidates if c.key == figure.context["rule_key"])
        else:
            rows = entity_rows(figure, metric)
            scores = [models.entity.scores(row)[0] for row in rows]
            best = figure.candidates[max(range(len(rows)), key=scores.__getitem__)]
        out.append((figure.sentence_index, _with_reading(figure, metric, best)))
    return restated_once(out)


def restated_once(facts: list[tuple[int, Fact]]) -> list[Fact]:
    """The facts of (sentence index, fact) pairs, less later sentences' restatements of a
    figure already given.

    Commentary repeats its headline figure (title, lead, summary); a figure with the value, unit
    and entity of one an earlier sentence stated is the same fact told again, not a new one.
    Copies within one sentence stay: there each copy is a different name's figure.
    """
    first_sentence: dict[tuple, int] = {}
    kept = []
    for sentence, fact in facts:
        key = (fact.value, fact.unit, fact.entity.casefold() if fact.entity else None)
        if first_sentence.setdefault(key, sentence) == sentence:
            kept.append(fact)
    return kept


def _with_reading(figure: Figure, metric: str, entity: Candidate) -> Fact:
    """The rule pass's fact with the models' metric and entity (side and direction re-read)."""
    fact = figure.fact
    sentence = fact.sentence
    start = fact.start - figure.sentence_start
    end = fact.end - figure.sentence_start
    side = fact.side
    if metric not in SIDED_METRICS:
        side = None
    elif fact.metric not in SIDED_METRICS:
        side = side_of(sentence, segments_of(sentence), start, end)
    if metric == "fund_flow" and side == "long":
        side = None
    direction = fact.direction
    if metric != fact.metric:
        direction = direction_of(metric, sentence, start, end, fact.value < 0)
    return replace(
        fact,
        metric=metric,
        entity=entity.name,
        entity_type=entity.type,
        side=side,
        direction=direction,
    )
