"""Finding the evidence: every sentence of the best articles, scored for what the question asks.

Questions carry much context (names, figures, dates) and the answer is usually a *different*
sentence of the same article than the one restating that context. So the pool is every sentence
of the top retrieved articles, not just the hit passages, and a sentence scores for what it adds:
an entity the question does not name (entity questions), a figure of the asked unit and metric the
question does not state (figure questions), causal language (explain questions), plus how well
its words match the question's wh-clause.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ingest.dates import CALENDAR_WORDS
from ingest.facts_metrics import find_cues
from ingest.gazetteer import canonical, find_mentions
from ingest.records import Fact
from ingest.sentences import sentence_spans
from kb.knowledge import KnowledgeBase
from kb.questions import Intent

_WORD = re.compile(r"[a-z0-9]+(?:[.'/][a-z0-9]+)*")
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "from",
        "with",
        "as",
        "is",
        "was",
        "were",
        "are",
        "be",
        "been",
        "being",
        "did",
        "do",
        "does",
        "which",
        "what",
        "who",
        "whom",
        "whose",
        "why",
        "how",
        "when",
        "where",
        "that",
        "this",
        "these",
        "those",
        "it",
        "its",
        "their",
        "there",
        "than",
        "into",
        "over",
        "under",
        "after",
        "before",
        "during",
        "while",
        "about",
        "according",
        "much",
        "many",
        "more",
        "per",
        "had",
        "has",
        "have",
        "s",
        "said",
        "data",
        "report",
        "reported",
        "showed",
        "shows",
        "show",
    ]
)
# Words that mark a sentence as naming a leader, a runner-up or an extreme.
_LEADER = re.compile(
    r"\b(?:most|largest|highest|top(?:ped|s)?|biggest|steepest|strongest|sharpest|second|third|"
    r"led|leads?|leading|leader|first|hardest|heaviest|spearhead\w*|majority|bulk|dominat\w*|"
    r"followed by|notabl[ey]|record(?:ed)? high|lowest|least|smallest|weakest|worst|best|"
    r"greatest|primar(?:y|ily)|mainly|main)\b",
    re.IGNORECASE,
)
_SUPERLATIVES = (
    r"most|largest|highest|biggest|steepest|strongest|sharpest|hardest|heaviest|greatest|"
    r"lowest|least|smallest|weakest"
)
# Superlatives that single out one entity of several ("BingX recording the strongest dip").
SUPERLATIVE = re.compile(
    rf"\b(?:{_SUPERLATIVES}|worst|best|led|leads|leading|topped|first)\b", re.IGNORECASE
)
# The words a question's superlative governs: "the steepest decline in …" -> "decline".
_SUPERLATIVE_HEAD = re.compile(
    rf"\b(?:{_SUPERLATIVES}|fewest)\s+([\w-]+)(?:\s+([\w-]+))?", re.IGNORECASE
)
# Bonus of a sentence that ranks two or more entities of the asked type on the asked metric.
LISTED_RANKING_BONUS = 0.5
LISTED_RANKING_STEP = 0.1
LISTED_RANKING_MOST = 0.8
# Bonus of a sentence with a superlative about what the question's superlative governs.
SUPERLATIVE_HEAD_BONUS = 0.3
# Weight of the words just before a figure matching the asking clause ("liquidation threshold of
# $104,035" for "at what price would … be liquidated"), and how many such words make a full match.
FIGURE_CUE_WEIGHT = 1.0
FIGURE_CUE_WORDS = 3
# The words around a figure that say what it measures: "a $143 million flash loan to".
FIGURE_CUE_BEFORE = 6
FIGURE_CUE_AFTER = 3
_MAGNITUDES = frozenset(["thousand", "million", "billion", "trillion", "usd", "dollar"])
# A figure of the entity the asking clause names fits; one of another named entity less so.
CLAUSE_ENTITY_FIT = 0.3
OTHER_ENTITY_MISFIT = 0.2
# Share of the asking clause's core words a sentence must use to count as restating it.
RESTATED_CLAUSE_SHARE = 0.6
# Words that state a cause outright, and words that only hint at one.
_CAUSAL = re.compile(
    r"\b(?:because|due to|driven by|drove|triggers?|triggered|sparked|caused|cause|as a result|"
    r"led to|prompted|fuell?ed|blamed|attributed|thanks to|on the back of|reasons?|rumou?rs?|"
    r"concerns?|fears?|expectations?|exacerbated|deepened|amplif\w+|implies|means)\b",
    re.IGNORECASE,
)
_HINT = re.compile(
    r"\b(?:after|amid|following|behind|suggests?|suggesting|citing|explains?|believes?|"
    r"indicates?|signals?|points? to|showing|so)\b",
    re.IGNORECASE,
)
_NAME = re.compile(r"\b[A-Z][\w&.'-]*(?:\s+(?:[A-Z][\w&.'-]*|of|de))*")
_COMMON_CAPITALS = frozenset(
    [
        "the",
        "this",
        "that",
        "these",
        "those",
        "a",
        "an",
        "however",
        "meanwhile",
        "currently",
        "also",
        "but",
        "and",
        "in",
        "on",
        "at",
        "as",
        "of",
        "for",
        "according",
        "data",
        "while",
        "with",
        "after",
        "since",
        "despite",
        "among",
        "overall",
        "notably",
        "first",
        "second",
        "it",
        "its",
        "there",
        "here",
        "then",
        "when",
        "what",
        "which",
        "who",
        "why",
        "how",
        "some",
        "many",
        "most",
        "other",
        "others",
        "such",
        "bitcoin's",
        *CALENDAR_WORDS,
        "usd",
        "us",
        "u.s.",
        "ceo",
        "cto",
    ]
)
# Reach of a sentence's context bonus: sentences this close after the question's context count.
NEIGHBOUR_REACH = 3
SHORTEST_ANSWER_WORDS = 7
# Past this many words (or with any figure) a question carries context the answer must not repeat.
LOADED_QUESTION_WORDS = 18
# Weight of the question-sentence cosine in explain scores (only there do words fail to match).
SIMILARITY_WEIGHT = 1.0
# An explain candidate sharing more than this share of the question's words mostly restates it.
RESTATING_OVERLAP = 0.5
# Score lost per step down the retrieved articles: the best-retrieved article is usually the one.
ARTICLE_RANK_PENALTY = 0.8
# An explain candidate whose words are less than this share new to the question restates it
# ("Traders are monitoring whether … broader market weakness" for "What are traders monitoring to
# gauge broader market weakness?"); it loses RESTATING_WEIGHT per missing share.
NOVEL_SHARE = 0.7
# Weight of matching the wh-clause's core words (its subject and verb) in explain scores.
CORE_WEIGHT = 0.6
RESTATING_WEIGHT = 3.0
# Extra weight of causal language when the question asks for a cause.
CAUSE_BONUS = 0.4
_ASKS_CAUSE = re.compile(
    r"^what (?:\w+ )?(?:caused|triggered|sparked|drove|prompted|fuell?ed|led to|deepened|"
    r"pushed|made)\b",
    re.IGNORECASE,
)
# Where the core of a wh-clause (its subject and verb) ends: "What are traders monitoring | to …".
_CORE_END = re.compile(
    r"\s(?:to|for|of|in|on|at|about|with|by|into|from|over|across|among|amid)\s", re.IGNORECASE
)
# Openers that make a sentence continue the one before it ("This suggests …", "As a result …").
_CONTINUING = re.compile(
    r"^(?:this|that|these|those|such|it|as a result|consequently|in turn|which)\b", re.IGNORECASE
)
# "CryptoQuant notes that this metric …": a demonstrative early on points at the sentence before.
_BACK_REFERENCE = re.compile(
    r"^(?:[\w’'-]+,?\s+){1,4}(?:this|these|that|those)\s+(?!week|month|year|day|morning|"
    r"afternoon|evening|time|quarter|season|is|was|are|were|has|had|will|would|could|may)[a-z]+",
    re.IGNORECASE,
)
# Openers that make a sentence the consequence of the one before it: the reason comes first.
_CONSEQUENCE = re.compile(
    r"^(?:as such|therefore|thus|hence|so|as a result|consequently|accordingly)\b", re.IGNORECASE
)


@dataclass
class Sentence:
    """One sentence of a candidate article, located in a stored passage."""

    text: str
    article_id: str
    article_rank: int  # 0 for the best-retrieved article
    order: int  # position in the article
    passage_id: int
    span: tuple[int, int]  # inside the passage text
    body_start: int
    facts: list[Fact] = field(default_factory=list)
    terms: set[str] = field(default_factory=set)


@dataclass
class Reading:
    """What the scorer needs of the question."""

    intent: Intent
    terms: set[str]
    focus: set[str]
    named: set[str]  # lower-cased names and words the question already uses
    question_lower: str
    metrics: frozenset[str] = frozenset()  # every metric the wh-clause names
    loaded: bool = False  # the question carries its own context (figures, many words)
    why: bool = False
    similarity: dict[int, float] = field(default_factory=dict)  # sentence body_start -> cosine
    causal: bool = False  # asks for a cause: "why …", "what caused / triggered / drove …"
    context_order: int | None = None  # the top article's sentence restating the question
    core: set[str] = field(default_factory=set)  # subject and verb of the wh-clause
    context_follows: bool = False  # the context sentence opens as a consequence ("As such, …")
    head: set[str] = field(default_factory=set)  # words the question's superlative governs
    head_metrics: frozenset[str] = frozenset()  # metrics those words name


def terms_of(text: str) -> set[str]:
    """Content words of ``text``, lower-cased and crudely stemmed (six-letter prefix)."""
    return {_stem(word) for word in _WORD.findall(text.lower()) if word not in _STOPWORDS}


def _stem(word: str) -> str:
    word = word[:-1] if len(word) > 4 and word.endswith("s") and not word.endswith("ss") else word
    return word[:6] if len(word) > 6 else word


def read_terms(question: str, intent: Intent) -> Reading:
    """The question's words, the words of its wh-clause, and the names it already uses."""
    focus_text = intent.clause or question
    named = {name.lower() for name in intent.entities}
    named |= {m.surface.lower() for m in find_mentions(question)}
    metrics = frozenset(cue.metric for cue in find_cues(focus_text))
    loaded = bool(intent.stated_values) or len(question.split()) > LOADED_QUESTION_WORDS
    why = focus_text.lower().startswith("why")
    head_match = _SUPERLATIVE_HEAD.search(focus_text)
    head_text = " ".join(g for g in head_match.groups() if g) if head_match else ""
    causal = why or bool(_ASKS_CAUSE.match(focus_text))
    return Reading(
        intent,
        terms_of(question),
        terms_of(focus_text) or terms_of(question),
        named,
        question.lower(),
        metrics,
        loaded,
        why,
        causal=causal,
        core=terms_of(_CORE_END.split(focus_text, maxsplit=1)[0]),
        head={t for t in terms_of(head_text) if t not in terms_of(" ".join(named))},
        head_metrics=frozenset(cue.metric for cue in find_cues(head_text)),
    )


def article_sentences(kb: KnowledgeBase, article_ids: list[str]) -> list[Sentence]:
    """Every sentence of the given articles (best first), each with the facts it states."""
    found: list[Sentence] = []
    for rank, article_id in enumerate(article_ids):
        passage_ids = kb.store.article_passage_ids(article_id)
        passages = kb.store.get_passages(passage_ids)
        facts = kb.store.article_facts(article_id)
        seen: set[int] = set()
        order = 0
        for pid in passage_ids:
            stored = passages.get(pid)
            if stored is None:
                continue
            passage = stored.passage
            for start, end in sentence_spans(passage.text):
                body_start = passage.start + start
                # Overlapping passages repeat sentences; keep the first copy.
                if body_start in seen or not passage.text[start:end].strip():
                    continue
                seen.add(body_start)
                text = passage.text[start:end].strip()
                mine = [f for f in facts if body_start <= f.start < passage.start + end]
                found.append(
                    Sentence(
                        text,
                        article_id,
                        rank,
                        order,
                        pid,
                        (start, end),
                        body_start,
                        mine,
                        terms_of(text),
                    )
                )
                order += 1
    return found


def _overlap(sentence: Sentence, terms: set[str]) -> float:
    """Share of ``terms`` the sentence uses; a word matches words it prefixes (hold/holdings)."""
    found = 0
    for term in terms:
        if term in sentence.terms or (
            len(term) >= 4
            and any(
                word.startswith(term) or (len(word) >= 4 and term.startswith(word))
                for word in sentence.terms
            )
        ):
            found += 1
    return found / (len(terms) or 1)


def novelty(sentence: Sentence, reading: Reading) -> float:
    """Share of the sentence's content words that the question does not use."""
    if not sentence.terms:
        return 0.0
    return len(sentence.terms - reading.terms) / len(sentence.terms)


def restated_premise(sentences: list[Sentence], reading: Reading) -> list[Sentence]:
    """The lead-up to a sentence restating the asking clause as a consequence, then that sentence.

    "X. Y. This made the market very fragile." answers "What made the market so fragile?" with
    X and Y: the restating sentence only points back at them.
    """
    asking = reading.core or reading.focus
    top = [s for s in sentences if s.article_rank == 0]
    if not asking or not top:
        return []
    best = max(top, key=lambda s: (_overlap(s, asking), -s.order))
    # Only an opening pointer ("This made …", "As such, …") makes the restatement a conclusion.
    pointing = _CONTINUING.match(best.text) or _CONSEQUENCE.match(best.text)
    if _overlap(best, asking) < RESTATED_CLAUSE_SHARE or not pointing:
        return []
    by_order = {s.order: s for s in top}
    lead = [by_order.get(best.order - n) for n in (2, 1)]
    lead = [s for s in lead if s is not None and len(s.text.split()) >= SHORTEST_ANSWER_WORDS]
    return [*lead, best] if lead else []


def continues(sentence: Sentence) -> bool:
    """Whether the sentence opens by referring back to the one before it."""
    return bool(_CONTINUING.match(sentence.text) or _BACK_REFERENCE.match(sentence.text))


def _stated_share(sentence: Sentence, intent: Intent) -> float:
    if not sentence.facts:
        return 0.0
    return sum(1 for f in sentence.facts if intent.states(f.value)) / len(sentence.facts)


def new_names(sentence: Sentence, reading: Reading) -> list[tuple[str, str | None, int]]:
    """Names in the sentence the question does not use: (name, gazetteer type or None, offset)."""
    names: list[tuple[str, str | None, int]] = []
    covered: list[tuple[int, int]] = []
    for mention in find_mentions(sentence.text):
        covered.append((mention.start, mention.end))
        if (
            mention.name.lower() in reading.named
            or mention.surface.lower() in reading.named
            or mention.surface.lower() in reading.question_lower
        ):
            continue
        names.append((mention.name, mention.type, mention.start))
    for match in _NAME.finditer(sentence.text):
        if any(s <= match.start() < e for s, e in covered):
            continue
        words = [w for w in match.group(0).split() if w.lower() not in _COMMON_CAPITALS]
        if not words:
            continue
        name = " ".join(words)
        # A lone capitalised word opening the sentence is usually just the sentence's first word.
        if match.start() == 0 and len(words) == 1:
            continue
        if (
            name.lower() in reading.question_lower
            or canonical(name)
            and (canonical(name).lower() in reading.named)
        ):
            continue
        names.append((name, None, match.start()))
    return names


def type_fits(kind: str | None, wanted: str | None) -> bool:
    """Whether an entity of type ``kind`` can answer a question asking for ``wanted``."""
    if wanted is None or kind is None:
        return kind is not None or wanted is None
    if wanted == "exchange":
        return kind in ("exchange", "protocol")
    if wanted == "protocol":
        return kind in ("protocol", "network", "asset")
    if wanted == "fund":
        return kind in ("fund", "company")
    return kind == wanted


def ranked_facts(sentence: Sentence, intent: Intent) -> list[Fact]:
    """Facts of one sentence ranking entities of the asked type on the asked metric, best first."""
    if intent.lowest or not intent.metric:
        return []
    units = {f.unit for f in sentence.facts if f.metric == intent.metric}
    # Extractors label some items of one listed sentence "other" ("Binance (52.94%), Gate
    # (70.26%)"): an unlabelled figure in the unit of the labelled ones measures the same.
    pool = [
        f
        for f in sentence.facts
        if f.entity
        and (f.metric == intent.metric or (f.metric == "other" and f.unit in units))
        and f.entity not in intent.entities
        and not intent.states(f.value)
        and type_fits(f.entity_type, intent.entity_type)
    ]
    best: dict[str, Fact] = {}
    for fact in pool:
        if fact.entity not in best or fact.value > best[fact.entity].value:
            best[fact.entity] = fact
    if len(best) < 2 or len({f.unit for f in best.values()}) != 1:
        return []
    return sorted(best.values(), key=lambda f: f.value, reverse=True)


def _governs_head(sentence: Sentence, reading: Reading) -> bool:
    """Whether a superlative of the sentence is about what the question's superlative governs."""
    if not (reading.head or reading.head_metrics) or not SUPERLATIVE.search(sentence.text):
        return False
    if reading.head and _overlap(sentence, reading.head) > 0:
        return True
    return any(f.metric in reading.head_metrics for f in sentence.facts)


def _metric_fits(sentence: Sentence, intent: Intent) -> bool:
    if not intent.metric:
        return False
    return any(f.metric == intent.metric for f in sentence.facts) or any(
        cue.metric == intent.metric for cue in find_cues(sentence.text)
    )


def fact_fit(fact: Fact, intent: Intent, asked_metrics: frozenset[str] = frozenset()) -> float:
    """How well a fact answers a figure question (stated figures never do)."""
    if intent.states(fact.value):
        return -2.0
    score = 0.0
    if intent.unit:
        score += 1.0 if fact.unit == intent.unit else -1.0
    if intent.metric:
        score += 0.8 if fact.metric == intent.metric or fact.metric in asked_metrics else 0.0
    if intent.side and fact.side == intent.side:
        score += 0.3
    if intent.clause_entities and fact.entity:
        # The asking clause names whose figure it wants; the context's other names are not it.
        asked = fact.entity in intent.clause_entities
        score += CLAUSE_ENTITY_FIT if asked else -OTHER_ENTITY_MISFIT
    elif fact.entity and fact.entity in intent.entities:
        score += CLAUSE_ENTITY_FIT
    return score


def _asking_words(reading: Reading) -> set[str]:
    """The asking core's content words, less names, figures and magnitudes it states."""
    names = terms_of(" ".join(reading.named))
    return {
        term
        for term in (reading.core or reading.focus)
        if term not in names and term not in _MAGNITUDES and not any(c.isdigit() for c in term)
    }


def figure_cue(fact: Fact, sentence: Sentence, asking: set[str]) -> float:
    """Share of the asking words among the few words around a figure, up to its neighbours."""
    if not asking:
        return 0.0
    start = max(0, fact.start - sentence.body_start)
    end = max(start, fact.end - sentence.body_start)
    earlier = [f.end - sentence.body_start for f in sentence.facts if f.end <= fact.start]
    later = [f.start - sentence.body_start for f in sentence.facts if f.start >= fact.end]
    before = sentence.text[max([0, *earlier]) : start].split()[-FIGURE_CUE_BEFORE:]
    after = sentence.text[end : min([len(sentence.text), *later])].split()[:FIGURE_CUE_AFTER]
    cue = " ".join(before + after)
    words = Sentence(cue, "", 0, 0, 0, (0, 0), 0, terms=terms_of(cue))
    found = _overlap(words, asking) * len(asking)
    return min(1.0, found / min(len(asking), FIGURE_CUE_WORDS))


def figure_fit(fact: Fact, sentence: Sentence, reading: Reading) -> float:
    """How well a fact answers a figure question, with the words introducing it."""
    fit = fact_fit(fact, reading.intent, reading.metrics)
    if fit <= -2.0:
        return fit
    return fit + FIGURE_CUE_WEIGHT * figure_cue(fact, sentence, _asking_words(reading))


def score_sentence(sentence: Sentence, reading: Reading, context_order: int | None) -> float:
    """How likely ``sentence`` answers the question, by the question's kind."""
    intent = reading.intent
    focus = _overlap(sentence, reading.focus)
    context = _overlap(sentence, reading.terms)
    stated = _stated_share(sentence, intent)
    stated_weight = 0.2 if intent.kind == "figure" else 0.6
    score = 1.2 * focus + 0.5 * context - stated_weight * stated
    score -= ARTICLE_RANK_PENALTY * sentence.article_rank
    # Headings and fragments ("The Long Squeeze Fear.") state nothing to answer with.
    score -= 1.0 if len(sentence.text.split()) < SHORTEST_ANSWER_WORDS else 0.0
    is_context = sentence.article_rank == 0 and sentence.order == context_order
    after = sentence.order - context_order if context_order is not None else -1
    near = sentence.article_rank == 0 and 0 < after <= NEIGHBOUR_REACH
    if intent.kind == "ranking":
        names = new_names(sentence, reading)
        typed = [n for n in names if n[1] is not None and type_fits(n[1], intent.entity_type)]
        score += 0.7 if typed else (0.35 if names else -0.8)
        score += 0.5 if _LEADER.search(sentence.text) else 0.0
        score += 0.3 if _metric_fits(sentence, intent) else 0.0
        score += 0.1 if near else 0.0
        listed = len(ranked_facts(sentence, intent))
        if listed:
            score += min(LISTED_RANKING_MOST, LISTED_RANKING_BONUS + LISTED_RANKING_STEP * listed)
        score += SUPERLATIVE_HEAD_BONUS if _governs_head(sentence, reading) else 0.0
    elif intent.kind == "figure":
        fits = [figure_fit(f, sentence, reading) for f in sentence.facts]
        score += max(fits) if fits else -1.2
        score += 0.1 if near else 0.0
    else:
        if reading.loaded:  # restating a question's own context is not explaining it
            score -= 0.6 * focus + 0.5 * context
            score -= 0.5 if context > RESTATING_OVERLAP else 0.0
        causal = bool(_CAUSAL.search(sentence.text))
        score += 0.6 if causal else (0.3 if _HINT.search(sentence.text) else 0.0)
        # "What caused …?" asks for the cause as plainly as "why" does.
        score += CAUSE_BONUS if causal and reading.causal else 0.0
        score += SIMILARITY_WEIGHT * reading.similarity.get(sentence.body_start, 0.0)
        score += 0.2 if new_names(sentence, reading) else 0.0
        score -= RESTATING_WEIGHT * max(0.0, NOVEL_SHARE - novelty(sentence, reading))
        score += CORE_WEIGHT * _overlap(sentence, reading.core) if reading.core else 0.0
        score += 0.3 if near else 0.0
        score += 0.2 if near and after == 1 else 0.0
        # "… This suggests that …": the sentence right after the premise says what it means.
        score += 0.3 if near and after == 1 and continues(sentence) else 0.0
        score += 0.3 if reading.why and near and after == 1 and continues(sentence) else 0.0
        # "… As such, it's hard to say …": the premise follows from the sentence before it.
        before = after == -1 and sentence.article_rank == 0
        score += 0.5 if before and reading.context_follows else 0.0
        # The sentence restating a why-question's premise rarely says why, unless it names a cause
        # itself ("ETH plunged 30% as fears of a trade war triggered a sell-off").
        score -= 0.5 if is_context and (reading.loaded or reading.why) and not causal else 0.0
    return score


def context_sentence(sentences: list[Sentence], reading: Reading) -> int | None:
    """Order of the top article's sentence that best restates the question's context."""
    top = [s for s in sentences if s.article_rank == 0]
    if not top:
        return None
    best = max(
        top,
        key=lambda s: (
            _overlap(s, reading.terms)
            + 0.5 * _stated_share(s, reading.intent)
            # A why-question's clause is the premise to explain: weigh its words more.
            + (_overlap(s, reading.focus) if reading.why else 0.0),
            -s.order,
        ),
    )
    return best.order


def rank_sentences(sentences: list[Sentence], reading: Reading) -> list[tuple[float, Sentence]]:
    """Sentences with their scores, best first."""
    context_order = context_sentence(sentences, reading)
    reading.context_order = context_order
    reading.context_follows = any(
        s.article_rank == 0 and s.order == context_order and _CONSEQUENCE.match(s.text)
        for s in sentences
    )
    scored = [(score_sentence(s, reading, context_order), s) for s in sentences]
    return sorted(scored, key=lambda item: (-item[0], item[1].article_rank, item[1].order))
