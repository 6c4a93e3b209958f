"""The fitted models that rank answer candidates, loaded from data files with their manifest.

``python -m kb.answer.training`` writes ``kb/answer/data/ranker.json`` and
``kb/answer/data/sentences.lgb``. The JSON holds, per model, the feature names it was fit on, and
for the linear models their weights and intercept, beside a manifest (the question files and
their sha256, the date, the library versions, the cross-validated scores). The sentence ranker is
a LightGBM lambdarank model (trees see the interplay a linear model misses: a high cosine means an
answer only when the sentence also adds what the question lacks), kept in LightGBM's own text
format with its sha256 in the manifest. Loading refuses files whose feature names or hash differ
from what the code expects: a stale file would silently score nonsense.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kb.answer.abstain import ANSWERABLE_FEATURES
from kb.answer.features import FACT_FEATURES, NAME_FEATURES, sentence_feature_names
from kb.errors import KbError

RANKER_PATH = Path(__file__).parent / "data" / "ranker.json"
TREES_NAME = "sentences.lgb"
REBUILD = "python -m kb.answer.training"


@dataclass(frozen=True)
class LinearModel:
    """A logistic model: probability = sigmoid(weights · features + intercept)."""

    features: tuple[str, ...]
    weights: tuple[float, ...]
    intercept: float

    def probability(self, values: list[float]) -> float:
        """The model's probability for one candidate's feature values."""
        z = self.intercept + sum(w * v for w, v in zip(self.weights, values, strict=True))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def to_dict(self) -> dict[str, object]:
        """JSON-ready data: feature name -> weight, and the intercept."""
        return {
            "features": list(self.features),
            "weights": [round(w, 6) for w in self.weights],
            "intercept": round(self.intercept, 6),
        }

    @classmethod
    def from_dict(cls, data: dict) -> LinearModel:
        """The model stored by ``to_dict``."""
        return cls(tuple(data["features"]), tuple(data["weights"]), float(data["intercept"]))


@dataclass(frozen=True)
class TreeModel:
    """A LightGBM ranking model: higher scores rank first (scores are not probabilities)."""

    features: tuple[str, ...]
    booster: Any

    def scores(self, rows: list[list[float]]) -> list[float]:
        """The model's score for each candidate's feature values."""
        import numpy as np

        if not rows:
            return []
        if self.booster is None:  # an unfitted placeholder keeps the candidates' order
            return [0.0] * len(rows)
        return [float(v) for v in self.booster.predict(np.asarray(rows, dtype=np.float64))]

    def text(self) -> str:
        """The model in LightGBM's text format."""
        return self.booster.model_to_string()

    @classmethod
    def from_text(cls, features: list[str], text: str) -> TreeModel:
        """The model stored by ``text``."""
        import lightgbm

        return cls(tuple(features), lightgbm.Booster(model_str=text))


@dataclass(frozen=True)
class Thresholds:
    """The cut-offs composition uses, chosen by cross-validation with the models."""

    answerable: float = 0.5  # below this probability the answer is "I don't know"
    lead: float = 0.5  # a name or a stated fact leads when its model reaches this
    second: float = 0.6  # a further sentence is quoted at this share of the best one's weight
    # How much a runner-up's word overlap with the sentences already chosen counts against it
    # (maximal marginal relevance): a runner-up restating the best sentence adds nothing.
    diversity: float = 0.0

    def to_dict(self) -> dict[str, float]:
        """JSON-ready data."""
        return {
            "answerable": self.answerable,
            "lead": self.lead,
            "second": self.second,
            "diversity": self.diversity,
        }


@dataclass(frozen=True)
class Ranker:
    """The four models an answer uses, and the thresholds chosen with them."""

    sentences: TreeModel  # which sentence answers the question?
    names: LinearModel  # is this name what an entity question asks for?
    facts: LinearModel  # is this figure what a figure question asks for?
    answerable: LinearModel  # does the corpus answer the question at all?
    manifest: dict
    thresholds: Thresholds = Thresholds()


def feature_names() -> dict[str, list[str]]:
    """The feature names of each model, as the code computes them."""
    return {
        "sentences": sentence_feature_names(),
        "names": [f.__name__ for f in NAME_FEATURES],
        "facts": [f.__name__ for f in FACT_FEATURES],
        "answerable": [f.__name__ for f in ANSWERABLE_FEATURES],
    }


def load_ranker(expected: dict[str, list[str]], path: Path | None = None) -> Ranker:
    """The fitted models at ``path``, checked against the feature names the code computes."""
    source = path or RANKER_PATH
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KbError(
            f"answer ranker {source} is missing; rebuild it with `{REBUILD}`", status=500
        ) from None
    except (OSError, ValueError) as error:
        raise KbError(
            f"answer ranker {source} is unreadable ({error}); rebuild it with `{REBUILD}`",
            status=500,
        ) from error
    models: dict[str, Any] = {}
    for name, features in expected.items():
        stored = data.get("models", {}).get(name)
        if stored is None or list(stored["features"]) != list(features):
            raise _stale(source, f"was fit on other {name} features than the code computes")
        if name != "sentences":
            models[name] = LinearModel.from_dict(stored)
    trees = source.parent / TREES_NAME
    try:
        text = trees.read_text(encoding="utf-8")
    except OSError:
        raise _stale(trees, "is missing") from None
    if hashlib.sha256(text.encode("utf-8")).hexdigest() != data["models"]["sentences"]["sha256"]:
        raise _stale(trees, f"does not match the hash recorded in {source.name}")
    models["sentences"] = TreeModel.from_text(expected["sentences"], text)
    thresholds = Thresholds(**data.get("thresholds", {}))
    return Ranker(**models, manifest=data.get("manifest", {}), thresholds=thresholds)


def _stale(path: Path, problem: str) -> KbError:
    return KbError(f"answer ranker {path} {problem}; rebuild it with `{REBUILD}`", status=500)
