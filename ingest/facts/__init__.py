"""Extract the numeric facts of commentary as structured, attributed records.

``extract_facts(text, gazetteer, extractor)`` finds every figure (``numbers``), reads a first
metric and entity with the hand rules (``rules``, ``metrics``, ``attribution``), parses the
sentences holding figures (``parsing``; only when the shipped models were fit on parses) and
lets the fitted models (``model``, trained by ``training``) decide each figure's metric and which
candidate (``candidates``) it is about, from the features of ``features``. It returns ``Fact``
records in text order with spans into ``text``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ingest.facts.model import FactModels, load_models
from ingest.facts.parsing import load_parser
from ingest.facts.pipeline import analyze, decide
from ingest.gazetteer import Gazetteer
from ingest.records import Fact

__all__ = ["Extractor", "extract_facts", "load_extractor"]


@dataclass(frozen=True)
class Extractor:
    """The loaded parser and fitted models extraction uses (load once, pass in)."""

    parser: Any
    models: FactModels


@lru_cache(maxsize=1)
def load_extractor() -> Extractor:
    """The shipped models, with the parser only if they were fit on parsed sentences (the
    model file's manifest says which), loaded once per process."""
    models = load_models()
    return Extractor(load_parser() if models.manifest.get("parsed") else None, models)


def extract_facts(
    text: str, gazetteer: Gazetteer, extractor: Extractor | None = None
) -> list[Fact]:
    """The figures stated in ``text`` as facts, in text order, with spans into ``text``.

    ``extractor`` defaults to ``load_extractor()`` (the shipped models, and the parser when
    they were fit with it).
    """
    extractor = extractor or load_extractor()
    return decide(analyze(text, gazetteer, extractor.parser), extractor.models)
