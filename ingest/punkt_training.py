"""Train Punkt parameters on commentary text and write them to ``ingest/data``.

Usage: ``python -m ingest.punkt_training ../shared/corpus/articles.jsonl [more.jsonl ...]``.
Only statistics (abbreviations, collocations, sentence starters) are written, never text.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from nltk.tokenize.punkt import PunktTrainer

from ingest.sentences import PARAMS_PATH, params_to_json

# Abbreviations that commentary uses but a small training set may see too rarely to learn.
KNOWN_ABBREVIATIONS = {
    "u.s",
    "u.k",
    "u.s.a",
    "e.u",
    "vs",
    "e.g",
    "i.e",
    "etc",
    "inc",
    "corp",
    "ltd",
    "co",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    "mr",
    "mrs",
    "ms",
    "dr",
    "prof",
    "st",
    "no",
    "approx",
    "est",
    "fig",
    "dept",
    "gov",
    "sen",
    "rep",
    "jr",
    "sr",
    "mln",
    "bln",
    "p.m",
    "a.m",
}


def train(texts: list[str]) -> dict:
    """Punkt parameters learned from ``texts`` plus the known abbreviations, as JSON data."""
    trainer = PunktTrainer()
    trainer.INCLUDE_ALL_COLLOCS = True
    for text in texts:
        trainer.train(text, finalize=False)
    trainer.finalize_training()
    params = trainer.get_params()
    params.abbrev_types |= KNOWN_ABBREVIATIONS
    return params_to_json(params)


def read_texts(paths: list[str]) -> list[str]:
    """The ``text`` field of every JSONL record in ``paths``."""
    texts = []
    for path in paths:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if line.strip():
                texts.append(json.loads(line).get("text", ""))
    return texts


def main(argv: list[str]) -> int:
    """Train on the given JSONL files and write the parameters file."""
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    data = train(read_texts(argv))
    PARAMS_PATH.parent.mkdir(parents=True, exist_ok=True)
    PARAMS_PATH.write_text(json.dumps(data, indent=0, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {PARAMS_PATH} ({len(data['abbrev_types'])} abbreviations)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
