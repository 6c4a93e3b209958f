"""Features of a (question, candidate) pair that carry over to any question.

Each feature is a small named function with a one-line docstring; the ranker (kb/answer/model.py)
learns how much each counts, per kind of question. Three candidate kinds are scored: sentences
(which one answers), names in the chosen sentence (which one an entity question asks for) and
facts in it (which figure a figure question asks for).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from ingest.records import Fact
from kb.answer.candidates import Name, Sentence, new_names
from kb.answer.question import Intent, among
from kb.answer.words import TermMatcher, matches, overlap, share, terms_of, weighted_share

KINDS = ("ranking", "figure", "explain")
# Sentences shorter than this are headings or fragments.
SHORT_SENTENCE_WORDS = 7
# Words around a figure that say what it measures ("a flash loan of $143 million to …").
CUE_BEFORE = 6
CUE_AFTER = 3

_CAUSAL = re.compile(
    r"\b(?:because|due to|driven by|drove|triggers?|triggered|sparked|caused|cause|as a result|"
    r"led to|prompted|fuell?ed|blamed|attributed|thanks to|on the back of|reasons?|"
    r"concerns?|fears?|expectations?|amplif\w+|implies|means)\b",
    re.IGNORECASE,
)
_HINT = re.compile(
    r"\b(?:after|amid|following|behind|suggests?|suggesting|citing|explains?|believes?|"
    r"indicates?|signals?|points? to|so)\b",
    re.IGNORECASE,
)
_SUPERLATIVE = re.compile(
    r"\b(?:most|largest|highest|biggest|steepest|strongest|sharpest|hardest|heaviest|greatest|"
    r"lowest|least|smallest|weakest|worst|best|led|leads|leading|topped|tops|first|second|"
    r"followed by|majority|bulk|dominat\w*|accounted for)\b",
    re.IGNORECASE,
)
# Openers that refer back to the sentence before ("This suggests …", "As a result …").
_CONTINUING = re.compile(
    r"^(?:this|that|these|those|such|it|as a result|consequently|in turn|which|as such|"
    r"therefore|thus|hence)\b",
    re.IGNORECASE,
)
_MAGNITUDE_TERMS = frozenset(["thousand", "million", "billion", "trillion", "usd", "dollar"])


@dataclass
class Evidence:
    """What every feature may look at besides the question and the candidate."""

    intent: Intent
    weights: dict[str, float]  # IDF of the question's terms
    dense: dict[tuple[str, int], float] = field(default_factory=dict)  # sentence key -> cosine
    passage_dense: dict[int, float] = field(default_factory=dict)  # passage id -> cosine
    # sentence key -> the term sets of the sentence and its neighbours in the article
    around: dict[tuple[str, int], tuple[frozenset[str], ...]] = field(default_factory=dict)
    best_dense: float = 0.0
    context: dict[str, int] = field(default_factory=dict)  # article id -> restating sentence
    next_start: dict[tuple[str, int], int] = field(default_factory=dict)  # key -> next's start
    matcher: TermMatcher = field(init=False, repr=False)

    def __post_init__(self) -> None:
        q = self.intent
        self.matcher = TermMatcher(q.terms | q.focus | q.core | q.head)

    def found(self, terms: frozenset[str]) -> frozenset[str]:
        """The question's terms that ``terms`` matches (``words.matches``)."""
        return self.matcher.found(terms)

    def neighbour_terms(self, s: Sentence) -> frozenset[str]:
        """The terms of the sentence and its two neighbours."""
        return frozenset().union(*self.around.get(s.key, (s.terms,)))

    def found_around(self, s: Sentence) -> frozenset[str]:
        """The question's terms the sentence or its neighbours match: the union of each one's
        (memoised) matches, so no merged set is scanned again."""
        return frozenset().union(*(self.found(t) for t in self.around.get(s.key, (s.terms,))))


def find_context(
    intent: Intent,
    sentences: list[Sentence],
    weights: dict[str, float],
    matcher: TermMatcher | None = None,
) -> dict:
    """Per article, the order of the sentence best restating the question's words and figures;
    ``matcher`` (over the question's terms, or more) is the evidence's, to scan sets once."""
    best: dict[str, tuple[float, int]] = {}
    matcher = matcher or TermMatcher(intent.terms)
    for s in sentences:
        stated = sum(1 for f in s.facts if intent.states(f.value)) / (len(s.facts) or 1)
        score = weighted_share(intent.terms, matcher.found(s.terms), weights) + 0.5 * stated
        if s.article_id not in best or score > best[s.article_id][0]:
            best[s.article_id] = (score, s.order)
    return {article_id: order for article_id, (_, order) in best.items()}


def _stated(intent: Intent, fact: Fact) -> bool:
    return intent.states(fact.value)


# -- sentence features -----------------------------------------------------------------------


def dense_question(q: Intent, s: Sentence, e: Evidence) -> float:
    """Cosine of the question and the sentence."""
    return e.dense.get(s.key, 0.0)


def dense_margin(q: Intent, s: Sentence, e: Evidence) -> float:
    """How far the sentence's cosine falls short of the best candidate's."""
    return e.dense.get(s.key, 0.0) - e.best_dense


def dense_passage(q: Intent, s: Sentence, e: Evidence) -> float:
    """Cosine of the question and the passage around the sentence."""
    return e.passage_dense.get(s.passage_id, 0.0)


def idf_overlap(q: Intent, s: Sentence, e: Evidence) -> float:
    """IDF-weighted share of the question's words the sentence uses."""
    return weighted_share(q.terms, e.found(s.terms), e.weights)


def focus_overlap(q: Intent, s: Sentence, e: Evidence) -> float:
    """IDF-weighted share of the asking clause's words the sentence uses."""
    return weighted_share(q.focus, e.found(s.terms), e.weights)


def core_overlap(q: Intent, s: Sentence, e: Evidence) -> float:
    """Share of the asking clause's subject and verb the sentence uses."""
    return share(q.core, e.found(s.terms))


def head_overlap(q: Intent, s: Sentence, e: Evidence) -> float:
    """Share of the words the question's superlative governs that the sentence uses."""
    return share(q.head, e.found(s.terms))


def neighbour_overlap(q: Intent, s: Sentence, e: Evidence) -> float:
    """IDF-weighted share of the question's words in the sentence and its two neighbours."""
    return weighted_share(q.terms, e.found_around(s), e.weights)


def context_overlap(q: Intent, s: Sentence, e: Evidence) -> float:
    """IDF-weighted share of the question's context words (outside the asking clause) used."""
    return weighted_share(q.terms - q.focus, e.found(s.terms), e.weights)


def is_context(q: Intent, s: Sentence, e: Evidence) -> float:
    """Whether this is the sentence of its article that best restates the question."""
    return float(e.context.get(s.article_id) == s.order)


def after_context(q: Intent, s: Sentence, e: Evidence) -> float:
    """Whether the sentence follows its article's restating sentence closely (1-2 sentences)."""
    context = e.context.get(s.article_id)
    return float(context is not None and 1 <= s.order - context <= 2)


def before_context(q: Intent, s: Sentence, e: Evidence) -> float:
    """Whether the sentence comes right before its article's restating sentence."""
    context = e.context.get(s.article_id)
    return float(context is not None and s.order - context == -1)


def context_distance(q: Intent, s: Sentence, e: Evidence) -> float:
    """Sentences between this one and its article's restating sentence (capped at 5, over 5)."""
    context = e.context.get(s.article_id)
    return 1.0 if context is None else min(abs(s.order - context), 5) / 5.0


def novelty(q: Intent, s: Sentence, e: Evidence) -> float:
    """Share of the sentence's words the question does not use."""
    if not s.terms:
        return 0.0
    # Matching is symmetric, so the words matching a question term are counted from its side.
    return (len(s.terms) - e.matcher.scan(s.terms)[1]) / len(s.terms)


def stated_share(q: Intent, s: Sentence, e: Evidence) -> float:
    """Share of the sentence's figures that the question itself states."""
    if not s.facts:
        return 0.0
    return sum(1 for f in s.facts if _stated(q, f)) / len(s.facts)


def new_figures(q: Intent, s: Sentence, e: Evidence) -> float:
    """Whether the sentence states a figure the question does not."""
    return float(any(not _stated(q, f) for f in s.facts))


def names_shared(q: Intent, s: Sentence, e: Evidence) -> float:
    """Share of the question's entities that the sentence names."""
    if not q.entities:
        return 0.0
    mine = {n.name for n in s.names}
    return sum(1 for name in q.entities if name in mine) / len(q.entities)


def typed_new_name(q: Intent, s: Sentence, e: Evidence) -> float:
    """Whether the sentence names an entity of the asked type that the question does not."""
    return float(any(type_fits(n.type, q.entity_type) for n in new_names(s, q.named, q.text)))


def any_new_name(q: Intent, s: Sentence, e: Evidence) -> float:
    """Whether the sentence uses any name the question does not."""
    return float(bool(new_names(s, q.named, q.text)))


def superlative(q: Intent, s: Sentence, e: Evidence) -> float:
    """Whether the sentence singles something out (largest, led, followed by …)."""
    return float(bool(_SUPERLATIVE.search(s.text)))


def causal(q: Intent, s: Sentence, e: Evidence) -> float:
    """Whether the sentence states a cause outright."""
    return float(bool(_CAUSAL.search(s.text)))


def hint(q: Intent, s: Sentence, e: Evidence) -> float:
    """Whether the sentence hints at a cause or an inference."""
    return float(bool(_HINT.search(s.text)))


def causal_asked(q: Intent, s: Sentence, e: Evidence) -> float:
    """A stated cause when the question asks for one."""
    return float(q.causal and bool(_CAUSAL.search(s.text)))


def refers_back(text: str) -> bool:
    """Whether a sentence opens by referring back to the one before ("This suggests …")."""
    return bool(_CONTINUING.match(text))


def continues(q: Intent, s: Sentence, e: Evidence) -> float:
    """Whether the sentence opens by referring back to the one before."""
    return float(refers_back(s.text))


def unit_fit(q: Intent, s: Sentence, e: Evidence) -> float:
    """Whether the sentence states a new figure in the unit the question asks for."""
    return float(bool(q.unit) and any(f.unit == q.unit and not _stated(q, f) for f in s.facts))


def metric_fit(q: Intent, s: Sentence, e: Evidence) -> float:
    """Whether the sentence states a new figure of the metric the question asks about."""
    return float(
        bool(q.metric) and any(f.metric == q.metric and not _stated(q, f) for f in s.facts)
    )


def figure_cue(q: Intent, s: Sentence, e: Evidence) -> float:
    """Best share of the asking words found right around one of the sentence's new figures."""
    return max((fact_cue(q, f, s) for f in s.facts if not _stated(q, f)), default=0.0)


def prose(q: Intent, s: Sentence, e: Evidence) -> float:
    """Share of the sentence's tokens that are lower-case words (page furniture has few)."""
    tokens = s.text.split()
    return sum(1 for t in tokens if t[:1].islower() and t.strip(".,;:").isalpha()) / (
        len(tokens) or 1
    )


def dense_next(q: Intent, s: Sentence, e: Evidence) -> float:
    """Cosine of the question and the sentence after this one (an answer may continue there)."""
    return e.dense.get((s.article_id, e.next_start.get(s.key, -1)), 0.0)


def short(q: Intent, s: Sentence, e: Evidence) -> float:
    """Whether the sentence is a heading or a fragment."""
    return float(len(s.text.split()) < SHORT_SENTENCE_WORDS)


def lead_sentence(q: Intent, s: Sentence, e: Evidence) -> float:
    """Whether the sentence opens its article."""
    return float(s.order == 0)


def in_hit(q: Intent, s: Sentence, e: Evidence) -> float:
    """Whether the sentence lies in a passage that retrieval returned."""
    return float(s.passage_id in s.article.hit_passages)


def article_first(q: Intent, s: Sentence, e: Evidence) -> float:
    """Whether the sentence's article is the best-retrieved one."""
    return float(s.article.rank == 0)


def article_rank(q: Intent, s: Sentence, e: Evidence) -> float:
    """The retrieval rank of the sentence's article (0 for the best)."""
    return float(s.article.rank)


def article_score(q: Intent, s: Sentence, e: Evidence) -> float:
    """The fused retrieval score of the article's best passage."""
    return s.article.score


def article_dense(q: Intent, s: Sentence, e: Evidence) -> float:
    """The best cosine of the question and the article's retrieved passages."""
    return s.article.dense


def article_coverage(q: Intent, s: Sentence, e: Evidence) -> float:
    """IDF-weighted share of the question's words the whole article uses."""
    return weighted_share(q.terms, e.found(s.article.terms), e.weights)


def in_time(q: Intent, s: Sentence, e: Evidence) -> float:
    """+1 when the article was published in the time the question names, -1 when dated outside
    it, 0 when undated or the question names no time."""
    published = (s.article.published or "")[:10]
    if q.time is None or not published:
        return 0.0
    inside = q.time.since.isoformat() <= published <= q.time.until.isoformat()
    return 1.0 if inside else -1.0


def article_figures(q: Intent, s: Sentence, e: Evidence) -> float:
    """Share of the question's stated figures that the article states."""
    if not q.stated_values:
        return 0.0
    return sum(1 for v in q.stated_values if among(v, s.article.values)) / len(q.stated_values)


SENTENCE_FEATURES: tuple[Callable[[Intent, Sentence, Evidence], float], ...] = (
    dense_question,
    dense_margin,
    dense_passage,
    idf_overlap,
    focus_overlap,
    context_overlap,
    is_context,
    after_context,
    before_context,
    context_distance,
    core_overlap,
    head_overlap,
    neighbour_overlap,
    novelty,
    stated_share,
    new_figures,
    names_shared,
    typed_new_name,
    any_new_name,
    superlative,
    causal,
    hint,
    causal_asked,
    continues,
    unit_fit,
    metric_fit,
    figure_cue,
    short,
    prose,
    dense_next,
    lead_sentence,
    in_hit,
    article_first,
    article_rank,
    article_score,
    article_dense,
    article_coverage,
    article_figures,
    in_time,
)


# -- name features (entity questions) ----------------------------------------------------------


def type_fits(kind: str | None, wanted: str | None) -> bool:
    """Whether an entity of type ``kind`` can answer a question asking for ``wanted``."""
    if kind is None:
        return False
    if wanted is None:
        return True
    related = {
        "exchange": ("exchange", "protocol"),
        "protocol": ("protocol", "network", "asset"),
        "fund": ("fund", "company"),
        "asset": ("asset", "network"),
    }
    return kind in related.get(wanted, (wanted,))


def name_type_fit(q: Intent, n: Name, s: Sentence) -> float:
    """Whether the name is a known entity of the asked type."""
    return float(type_fits(n.type, q.entity_type))


def name_known(q: Intent, n: Name, s: Sentence) -> float:
    """Whether the gazetteer knows the name."""
    return float(n.type is not None)


def name_source(q: Intent, n: Name, s: Sentence) -> float:
    """Whether the name is a data source (who reports a figure is rarely what it is about)."""
    return float(n.type == "source")


def name_first(q: Intent, n: Name, s: Sentence) -> float:
    """Whether the name is the first new name of the sentence."""
    fresh = new_names(s, q.named, q.text)
    return float(bool(fresh) and fresh[0] == n)


def name_near_superlative(q: Intent, n: Name, s: Sentence) -> float:
    """Closeness (1 = adjacent) of the name to a word that singles something out."""
    distances = [
        len(s.text[min(n.end, m.start()) : max(n.start, m.end())].split())
        for m in _SUPERLATIVE.finditer(s.text)
    ]
    return 1.0 / (1.0 + min(distances)) if distances else 0.0


def name_with_figure(q: Intent, n: Name, s: Sentence) -> float:
    """Whether a figure follows the name within a few words."""
    base = s.body_start
    return float(
        any(
            f.start - base >= n.end and len(s.text[n.end : f.start - base].split()) <= 6
            for f in s.facts
        )
    )


def name_fact_metric(q: Intent, n: Name, s: Sentence) -> float:
    """Whether a fact of the asked metric is attributed to the name."""
    return float(
        bool(q.metric) and any(f.entity == n.name and f.metric == q.metric for f in s.facts)
    )


def name_subject(q: Intent, n: Name, s: Sentence) -> float:
    """Whether the name stands in the sentence's first few words (its subject, mostly)."""
    return float(len(s.text[: n.start].split()) <= 3)


def name_article_count(q: Intent, n: Name, s: Sentence) -> float:
    """Whether the article's words include the name's (a name the article is about)."""
    return float(n.name.lower() in s.article.terms or terms_of(n.name) <= s.article.terms)


NAME_FEATURES: tuple[Callable[[Intent, Name, Sentence], float], ...] = (
    name_type_fit,
    name_known,
    name_source,
    name_first,
    name_near_superlative,
    name_with_figure,
    name_fact_metric,
    name_subject,
    name_article_count,
)


# -- fact features (figure questions) ----------------------------------------------------------


def fact_cue(q: Intent, f: Fact, s: Sentence) -> float:
    """Share of the asking words among the few words around the figure, up to its neighbours."""
    asking = {
        t
        for t in (q.core or q.focus)
        if not matches(t, q.named_terms)
        and t not in _MAGNITUDE_TERMS
        and not any(c.isdigit() for c in t)
    }
    if not asking:
        return 0.0
    start = max(0, f.start - s.body_start)
    end = max(start, f.end - s.body_start)
    earlier = [o.end - s.body_start for o in s.facts if o.end <= f.start]
    later = [o.start - s.body_start for o in s.facts if o.start >= f.end]
    before = s.text[max([0, *earlier]) : start].split()[-CUE_BEFORE:]
    after = s.text[end : min([len(s.text), *later])].split()[:CUE_AFTER]
    # The figure's own words count too: "85,000 traders" names what it counts.
    own = s.text[start:end].split()
    return overlap(asking, terms_of(" ".join(before + own + after)))


def fact_unit(q: Intent, f: Fact, s: Sentence) -> float:
    """+1 when the figure is in the asked unit, -1 when another unit is asked, 0 when none is."""
    return 0.0 if not q.unit else (1.0 if f.unit == q.unit else -1.0)


def fact_metric(q: Intent, f: Fact, s: Sentence) -> float:
    """Whether the figure measures the asked metric."""
    return float(bool(q.metric) and f.metric == q.metric)


def fact_side(q: Intent, f: Fact, s: Sentence) -> float:
    """+1 for the asked side, -1 for the other side."""
    if not q.side or not f.side:
        return 0.0
    return 1.0 if f.side == q.side else -1.0


def fact_clause_entity(q: Intent, f: Fact, s: Sentence) -> float:
    """Whether the figure is about an entity the asking clause names."""
    return float(bool(f.entity) and f.entity in q.clause_entities)


def fact_question_entity(q: Intent, f: Fact, s: Sentence) -> float:
    """Whether the figure is about an entity the question names."""
    return float(bool(f.entity) and f.entity in q.entities)


def fact_other_entity(q: Intent, f: Fact, s: Sentence) -> float:
    """Whether the figure is about an entity the question does not name, while it names some."""
    return float(bool(f.entity) and bool(q.entities) and f.entity not in q.entities)


def fact_stated(q: Intent, f: Fact, s: Sentence) -> float:
    """Whether the question itself states the figure."""
    return float(_stated(q, f))


def fact_first(q: Intent, f: Fact, s: Sentence) -> float:
    """Whether it is the first new figure of the sentence."""
    fresh = [o for o in s.facts if not _stated(q, o)]
    return float(bool(fresh) and fresh[0] is f)


def fact_windowed(q: Intent, f: Fact, s: Sentence) -> float:
    """Whether the figure carries a time window."""
    return float(f.window is not None)


FACT_FEATURES: tuple[Callable[[Intent, Fact, Sentence], float], ...] = (
    fact_cue,
    fact_unit,
    fact_metric,
    fact_side,
    fact_clause_entity,
    fact_question_entity,
    fact_other_entity,
    fact_stated,
    fact_first,
    fact_windowed,
)


# Features also given relative to the question's best candidate: a cosine of 0.5 means much when
# the best is 0.55 and little when it is 0.9.
RELATIVE = (
    "dense_question",
    "focus_overlap",
    "idf_overlap",
    "figure_cue",
    "core_overlap",
)


def sentence_matrix(q: Intent, sentences: list[Sentence], e: Evidence) -> list[list[float]]:
    """Per candidate: its features, each relative one less the best candidate's, the kind's code."""
    rows = [[feature(q, s, e) for feature in SENTENCE_FEATURES] for s in sentences]
    columns = [_FEATURE_AT[name] for name in RELATIVE]
    best = [max((row[c] for row in rows), default=0.0) for c in columns]
    kind = float(KINDS.index(q.kind))
    return [row + [row[c] - b for c, b in zip(columns, best, strict=True)] + [kind] for row in rows]


def sentence_feature_names() -> list[str]:
    """Names of the values of a ``sentence_matrix`` row, in order."""
    names = [f.__name__ for f in SENTENCE_FEATURES]
    return names + [f"{name}_below_best" for name in RELATIVE] + ["kind"]


_FEATURE_AT = {f.__name__: n for n, f in enumerate(SENTENCE_FEATURES)}


def name_vector(q: Intent, n: Name, s: Sentence) -> list[float]:
    """Every name feature of ``n`` in ``s``."""
    return [feature(q, n, s) for feature in NAME_FEATURES]


def fact_vector(q: Intent, f: Fact, s: Sentence) -> list[float]:
    """Every fact feature of ``f`` in ``s``."""
    return [feature(q, f, s) for feature in FACT_FEATURES]
