"""The fitted linear models of the extractor: loading, checking and scoring.

``ingest/data/facts_model.json`` holds two models fitted by ``python -m ingest.facts.training``:
a multinomial one over a figure's features (its metric), trusted over the rule pass's metric
when its probability reaches ``confidence``, and a binary one over
(figure, candidate) features whose highest-scoring candidate is the figure's entity. Its
``manifest`` names the labelled files it was fit on with their sha256 hashes; loading refuses a
file whose manifest is missing or whose feature version differs from this code's.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from ingest.errors import IngestError

MODEL_PATH = Path(__file__).resolve().parents[1] / "data" / "facts_model.json"
# Bumped whenever a feature's meaning changes, so an old model file cannot be read silently.
FEATURE_VERSION = 6
REBUILD = "python -m ingest.facts.training"


@dataclass(frozen=True)
class LinearModel:
    """Weights per feature per class, plus one intercept per class."""

    classes: tuple[str, ...]
    weights: dict[str, tuple[float, ...]]
    intercepts: tuple[float, ...]

    def scores(self, features: dict[str, float]) -> list[float]:
        """The linear score of each class."""
        totals = list(self.intercepts)
        for name, value in features.items():
            row = self.weights.get(name)
            if row is None:
                continue
            for k, weight in enumerate(row):
                totals[k] += weight * value
        return totals

    def probabilities(self, features: dict[str, float]) -> dict[str, float]:
        """Class probabilities (softmax; a one-class model is a logistic)."""
        scores = self.scores(features)
        if len(self.classes) == 1:
            return {self.classes[0]: 1 / (1 + math.exp(-scores[0]))}
        top = max(scores)
        exps = [math.exp(s - top) for s in scores]
        total = sum(exps)
        return {c: e / total for c, e in zip(self.classes, exps, strict=True)}

    def to_json(self) -> dict:
        """The model as JSON-ready data."""
        return {
            "classes": list(self.classes),
            "intercepts": list(self.intercepts),
            "weights": {k: [round(w, 6) for w in v] for k, v in sorted(self.weights.items())},
        }

    @classmethod
    def from_json(cls, data: dict) -> LinearModel:
        """A model from ``to_json`` data."""
        return cls(
            tuple(data["classes"]),
            {k: tuple(v) for k, v in data["weights"].items()},
            tuple(data["intercepts"]),
        )


@dataclass(frozen=True)
class FactModels:
    """The metric model and the entity ranker, with the manifest they were shipped with."""

    metric: LinearModel
    entity: LinearModel
    manifest: dict
    confidence: float = 0.5


def load_models(path: Path = MODEL_PATH) -> FactModels:
    """The fitted models, checked against this code's feature version."""
    if not path.exists():
        raise IngestError(f"the facts model {path} is missing; rebuild it with `{REBUILD}`")
    data = json.loads(path.read_text(encoding="utf-8"))
    manifest = data.get("manifest")
    if not manifest or not manifest.get("trained_on"):
        raise IngestError(f"the facts model {path} has no manifest; rebuild it with `{REBUILD}`")
    if manifest.get("feature_version") != FEATURE_VERSION:
        raise IngestError(
            f"the facts model {path} was fit for feature version "
            f"{manifest.get('feature_version')!r}, this code reads version {FEATURE_VERSION}; "
            f"rebuild it with `{REBUILD}`"
        )
    return FactModels(
        LinearModel.from_json(data["metric"]),
        LinearModel.from_json(data["entity"]),
        manifest,
        float(data["confidence"]),
    )
