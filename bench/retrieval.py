"""Retrieval quality on ../shared/eval: hit@1, hit@5 and MRR@10 of the gold article for hybrid,
dense-only and keyword-only search, in the same run, plus a sweep of the fusion weights.

Usage: python bench/retrieval.py [--data-dir DIR] [--sweep]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.answer_scoring import SEED_PAGE, SHARED, gold_article_id, load_questions, rank_of  # noqa: E402
from ingest.pagetext import parse_page_text  # noqa: E402
from ingest.sources import read_sources  # noqa: E402
from kb import search as search_module  # noqa: E402
from kb.knowledge import KnowledgeBase  # noqa: E402


def evaluate(kb: KnowledgeBase, questions: list[dict], seed_id: str, mode: str) -> dict:
    """hit@1, hit@5, MRR@10 of the gold article over ``questions``."""
    ranks = []
    for question in questions:
        hits = search_module.search(kb, question["question"], k=30, mode=mode)
        ranks.append(rank_of([h.article_id for h in hits], gold_article_id(question, seed_id)))
    n = len(ranks)
    return {
        "hit@1": sum(r == 1 for r in ranks) / n,
        "hit@5": sum(1 for r in ranks if r and r <= 5) / n,
        "mrr@10": sum(1 / r for r in ranks if r and r <= 10) / n,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="/tmp/marketkb-bench-qa")
    parser.add_argument("--sweep", action="store_true", help="Also sweep the keyword share.")
    args = parser.parse_args()
    kb = KnowledgeBase(args.data_dir)
    if kb.stats()["articles"] == 0:
        started = time.perf_counter()
        kb.ingest(read_sources([str(SHARED / "corpus" / "articles.jsonl"), str(SEED_PAGE)]))
        print(f"built {args.data_dir} in {time.perf_counter() - started:.1f} s")
    seed_id = parse_page_text(SEED_PAGE.read_text(encoding="utf-8")).id
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}; {kb.stats()}"
    )
    for name in ("dev-questions.jsonl", "seed-questions.jsonl"):
        questions = load_questions(name)
        print(f"\n{name} ({len(questions)} questions)")
        print(f"{'mode':24} {'hit@1':>7} {'hit@5':>7} {'MRR@10':>7}")
        for mode in ("hybrid", "dense", "keyword"):
            s = evaluate(kb, questions, seed_id, mode)
            print(f"{mode:24} {s['hit@1']:>7.3f} {s['hit@5']:>7.3f} {s['mrr@10']:>7.3f}")
        if args.sweep:
            default = search_module.KEYWORD_SHARE
            for share in (0.5, 0.6, 0.8, 0.9):
                search_module.KEYWORD_SHARE = share
                s = evaluate(kb, questions, seed_id, "hybrid")
                print(
                    f"{'hybrid keyword=' + str(share):24} {s['hit@1']:>7.3f} "
                    f"{s['hit@5']:>7.3f} {s['mrr@10']:>7.3f}"
                )
            search_module.KEYWORD_SHARE = default
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
