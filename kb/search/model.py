"""The learned fusion of hybrid search: a logistic model over kb/search/features.FEATURES.

Its weights live in ``kb/search/data/search.json``, written by ``python -m kb.search.training``
with a manifest of what they were fit on and their cross-validated score. Loading checks that the
file exists and was fit for the features this code computes; otherwise it says how to rebuild it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from kb.errors import KbError
from kb.search.features import FEATURES

MODEL_PATH = Path(__file__).parent / "data" / "search.json"
FORMAT = 1
REBUILD = "python -m kb.search.training"


@dataclass(frozen=True)
class FusionModel:
    """Weights over the candidate features; the score of a passage is the logistic of w·x + b."""

    features: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float
    depth: int  # candidates taken from each ranking

    def scores(self, matrix: np.ndarray) -> np.ndarray:
        """The fused score in (0, 1) of each row of a feature matrix."""
        if matrix.shape[0] == 0:
            return np.zeros(0)
        return 1.0 / (1.0 + np.exp(-(matrix @ np.asarray(self.weights) + self.bias)))

    def to_dict(self) -> dict[str, object]:
        """The parameters as stored in the data file (the manifest is added by the trainer)."""
        return {
            "format": FORMAT,
            "features": list(self.features),
            "weights": list(self.weights),
            "bias": self.bias,
            "depth": self.depth,
        }


def model_from_dict(data: dict, source: str = "the fusion data") -> FusionModel:
    """A FusionModel from stored parameters, refused when fit for other features or format."""
    if data.get("format") != FORMAT:
        raise KbError(
            f"{source} has format {data.get('format')!r}, this code reads {FORMAT}; "
            f"rebuild it with `{REBUILD}`",
            status=500,
        )
    features = tuple(data.get("features", ()))
    if features != FEATURES:
        raise KbError(
            f"{source} was fit on features {list(features)}, this code computes "
            f"{list(FEATURES)}; rebuild it with `{REBUILD}`",
            status=500,
        )
    weights = tuple(float(w) for w in data["weights"])
    if len(weights) != len(features):
        raise KbError(
            f"{source} has {len(weights)} weights for {len(features)} features; "
            f"rebuild it with `{REBUILD}`",
            status=500,
        )
    return FusionModel(features, weights, float(data["bias"]), int(data["depth"]))


@lru_cache(maxsize=4)
def load_fusion(path: Path = MODEL_PATH) -> FusionModel:
    """The fitted fusion model at ``path`` (read once per path)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KbError(
            f"the search fusion weights {path} are missing; build them with `{REBUILD}`", status=500
        ) from None
    except json.JSONDecodeError as error:
        raise KbError(
            f"the search fusion weights {path} are not valid JSON ({error}); "
            f"rebuild them with `{REBUILD}`",
            status=500,
        ) from None
    return model_from_dict(data, str(path))
