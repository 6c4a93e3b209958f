"""Scoring extracted facts against labelled ones (levels 1–3 of FACTS.md), and cross-validation.

Level 1 needs value (within 0.5%) and unit; level 2 also the metric; level 3 also the entity
(case-insensitive, after alias mapping) and the side. Matching is one-to-one and maximal.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from ingest.facts.pipeline import Analysis, decide
from ingest.gazetteer import Gazetteer

LEVELS = (1, 2, 3)


def same_value(a: float, b: float) -> bool:
    """Values agree within 0.5% (the scoring rule of FACTS.md)."""
    return a == b or abs(a - b) <= 0.005 * max(abs(a), abs(b))


def agrees(pred: dict, gold: dict, level: int, gazetteer: Gazetteer) -> bool:
    """Whether a predicted fact matches a labelled one at ``level``."""
    if pred["unit"] != gold["unit"] or not same_value(float(pred["value"]), float(gold["value"])):
        return False
    if level >= 2 and pred.get("metric") != gold["metric"]:
        return False
    if level < 3:
        return True
    return (
        _key(pred.get("entity"), gazetteer) == _key(gold["entity"], gazetteer)
        and pred.get("side") == gold["side"]
    )


def _key(name: str | None, gazetteer: Gazetteer) -> str | None:
    """Entity name after alias mapping, case-folded."""
    if not name:
        return None
    return (gazetteer.canonical(name) or name).casefold()


def match(
    preds: Sequence[dict], golds: Sequence[dict], level: int, gazetteer: Gazetteer
) -> dict[int, int]:
    """Maximum one-to-one matching gold index → pred index (augmenting paths)."""
    options = [
        [p for p, pred in enumerate(preds) if agrees(pred, gold, level, gazetteer)]
        for gold in golds
    ]
    owner: dict[int, int] = {}

    def assign(g: int, seen: set[int]) -> bool:
        for p in options[g]:
            if p in seen:
                continue
            seen.add(p)
            if p not in owner or assign(owner[p], seen):
                owner[p] = g
                return True
        return False

    for g in range(len(golds)):
        assign(g, set())
    return {g: p for p, g in owner.items()}


def prf(tp: int, n_pred: int, n_gold: int) -> dict[str, float]:
    """Precision, recall and F1, rounded to three places."""
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"P": round(precision, 3), "R": round(recall, 3), "F1": round(f1, 3)}


class Tally:
    """Running counts of matches at each level."""

    def __init__(self) -> None:
        self.tp: Counter = Counter()
        self.n_pred = 0
        self.n_gold = 0

    def add(self, preds: Sequence[dict], golds: Sequence[dict], gazetteer: Gazetteer) -> None:
        """Count one article's predictions against its labels."""
        self.n_pred += len(preds)
        self.n_gold += len(golds)
        for level in LEVELS:
            self.tp[level] += len(match(preds, golds, level, gazetteer))

    def report(self) -> dict[str, dict[str, float]]:
        """P/R/F1 per level."""
        return {f"L{level}": prf(self.tp[level], self.n_pred, self.n_gold) for level in LEVELS}


def cross_validate(articles, analyses: Sequence[Analysis], rows, gazetteer: Gazetteer) -> dict:  # noqa: ANN001
    """F1 per labelled file and overall, each article scored by models fit without its fold."""
    from ingest.facts.training import fit_models, folds_of

    folds = folds_of([a.article_id for a in articles])
    tallies: dict[str, Tally] = {"all": Tally()}
    predictions: dict[str, list[dict]] = {}
    for fold in sorted(set(folds.values())):
        models = fit_models(rows, keep=lambda g, fold=fold: folds[g] != fold)
        for article, analysis in zip(articles, analyses, strict=True):
            if folds[article.article_id] == fold:
                predictions[article.article_id] = [f.to_dict() for f in decide(analysis, models)]
    for article in articles:
        preds = predictions[article.article_id]
        tallies.setdefault(article.source, Tally()).add(preds, article.labels, gazetteer)
        tallies["all"].add(preds, article.labels, gazetteer)
    return {name: tally.report() for name, tally in tallies.items()}
