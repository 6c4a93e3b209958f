"""Sentence splitting with nltk's Punkt, using parameters trained on market commentary.

No Punkt data can be downloaded at run time, so the parameters live in the project
(``ingest/data/punkt_commentary.json``) and are rebuilt with ``python -m ingest.punkt_training``.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from functools import lru_cache
from pathlib import Path

from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer

PARAMS_PATH = Path(__file__).parent / "data" / "punkt_commentary.json"

# Line breaks end sentences in scraped text (list items, headings), even without a full stop.
_LINE_BREAK = re.compile(r"\n+")


def params_to_json(params: PunktParameters) -> dict:
    """Punkt parameters as plain JSON data."""
    return {
        "abbrev_types": sorted(params.abbrev_types),
        "collocations": sorted([a, b] for a, b in params.collocations),
        "sent_starters": sorted(params.sent_starters),
        "ortho_context": dict(sorted(params.ortho_context.items())),
    }


def params_from_json(data: dict) -> PunktParameters:
    """Punkt parameters from the JSON written by ``params_to_json``."""
    params = PunktParameters()
    params.abbrev_types = set(data["abbrev_types"])
    params.collocations = {tuple(pair) for pair in data["collocations"]}
    params.sent_starters = set(data["sent_starters"])
    params.ortho_context = defaultdict(int, data["ortho_context"])
    return params


@lru_cache(maxsize=1)
def tokenizer() -> PunktSentenceTokenizer:
    """The shared Punkt tokenizer, loaded once from the shipped parameters."""
    if not PARAMS_PATH.exists():
        raise FileNotFoundError(
            f"Punkt parameters missing at {PARAMS_PATH}; rebuild them with "
            "`python -m ingest.punkt_training`"
        )
    data = json.loads(PARAMS_PATH.read_text(encoding="utf-8"))
    return PunktSentenceTokenizer(params_from_json(data))


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences in ``text``, without surrounding whitespace."""
    spans: list[tuple[int, int]] = []
    block_start = 0
    for match in [*_LINE_BREAK.finditer(text), None]:
        block_end = match.start() if match else len(text)
        block = text[block_start:block_end]
        for start, end in tokenizer().span_tokenize(block):
            piece = block[start:end]
            lead = len(piece) - len(piece.lstrip())
            trail = len(piece) - len(piece.rstrip())
            if end - trail > start + lead:
                spans.append((block_start + start + lead, block_start + end - trail))
        if match:
            block_start = match.end()
    return spans


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text``."""
    return [text[start:end] for start, end in sentence_spans(text)]
