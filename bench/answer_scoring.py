"""Scoring against ../shared/eval questions (hit@k, MRR, must_include), shared by benches."""

from __future__ import annotations

import json
from pathlib import Path

from ingest.records import canonical_url
from kb.answer.gold import contains, stated_values  # noqa: F401  (re-exported for benches)

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SEED_PAGE = SHARED / "seed" / "000_e760251becf4f2f2.txt"


def load_questions(*names: str) -> list[dict]:
    """Questions from the named files of ../shared/eval."""
    questions = []
    for name in names:
        for line in (SHARED / "eval" / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                questions.append(json.loads(line))
    return questions


def gold_article_id(question: dict, seed_id: str) -> str:
    """Our id of the question's gold article (URL-based; the seed page by its own id)."""
    from ingest.records import article_id

    if question["gold_id"].startswith("000_"):
        return seed_id
    return article_id(canonical_url(question["gold_url"]), "")


def rank_of(article_ids: list[str], gold: str) -> int | None:
    """1-based rank of the gold article among distinct retrieved article ids."""
    distinct = list(dict.fromkeys(article_ids))
    return distinct.index(gold) + 1 if gold in distinct else None


def summarise(rows: list[dict]) -> dict[str, float]:
    """hit@1, hit@5, MRR@10 and answer accuracy over result rows."""
    n = len(rows) or 1
    return {
        "n": len(rows),
        "hit@1": sum(1 for r in rows if r["rank"] == 1) / n,
        "hit@5": sum(1 for r in rows if r["rank"] and r["rank"] <= 5) / n,
        "mrr@10": sum(1 / r["rank"] for r in rows if r["rank"] and r["rank"] <= 10) / n,
        "accuracy": sum(1 for r in rows if r.get("correct")) / n,
    }
