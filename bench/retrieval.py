"""Retrieval quality on ../shared/eval: hit@1, hit@5 and MRR@10 of the gold article, per question
file and per style, for the shipped learned fusion, the fusion it replaced (0.7 BM25 + 0.3 dense),
dense only and keyword only; the learned fusion also 5-fold cross-validated (folds grouped by gold
article) and in-sample; optionally a stress test of shortened questions; and the p50 latency of
each search with the query vectors cached (the embedding costs the same for all of them).

Usage: python bench/retrieval.py [--data-dir DIR] [--stress] [--no-cv]

The stress test drops each word of every question with probability 0.4 (seeded by the question,
three variants each, at least three words kept), then ranks them with models cross-validated as
above (fit on the real questions of the other folds only); it imitates questions that share fewer
words with their article than the shared ones do.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.machine import cpu_line  # noqa: E402
from kb.knowledge import KnowledgeBase  # noqa: E402
from kb.search import CANDIDATES, Rankings, candidates, rankings, search  # noqa: E402
from kb.search.features import normalised  # noqa: E402
from kb.search.model import load_fusion  # noqa: E402
from kb.search.training import (  # noqa: E402
    SHARED,
    C,
    Example,
    LabelledQuery,
    fit,
    gold_folds,
    gold_rank,
    labelled_queries,
    open_corpus,
    scores,
    summary,
)
from kb.store import Filters  # noqa: E402

LEGACY_KEYWORD_SHARE = 0.7  # the fixed fusion this one replaced, measured beside it
DROP_PROBABILITY = 0.4
STRESS_VARIANTS = 3


@dataclasses.dataclass(frozen=True)
class Measured:
    """One query's rankings and candidate features."""

    example: Example
    found: Rankings
    article_of: dict[int, str]


def measure(kb: KnowledgeBase, queries: Sequence[LabelledQuery]) -> list[Measured]:
    """Rankings and candidate features of every query."""
    found = []
    for query in queries:
        ranked = rankings(kb, query.question, CANDIDATES, Filters())
        pool = candidates(kb, query.question, ranked)
        ids = {p for p, _ in ranked.dense} | {p for p, _ in ranked.keyword}
        article_of = {pid: p.passage.article_id for pid, p in kb.store.get_passages(ids).items()}
        arts = tuple(article_of[p] for p in pool.passage_ids)
        labels = np.array([a == query.gold for a in arts], dtype=np.int64)
        found.append(
            Measured(
                Example(query, pool.passage_ids, arts, pool.matrix, labels), ranked, article_of
            )
        )
    return found


def ranking_rank(m: Measured, scored: dict[int, float]) -> int | None:
    """Gold article rank when passages are ordered by ``scored``."""
    order = sorted(scored.items(), key=lambda item: (-item[1], item[0]))
    ranked = list(dict.fromkeys(m.article_of[p] for p, _ in order if p in m.article_of))
    gold = m.example.query.gold
    return ranked.index(gold) + 1 if gold in ranked else None


def legacy_scores(found: Rankings) -> dict[int, float]:
    """The replaced fusion: 0.7 x normalised BM25 + 0.3 x normalised cosine."""
    mixed: dict[int, float] = {}
    for ranking, weight in (
        (found.dense, 1 - LEGACY_KEYWORD_SHARE),
        (found.keyword, LEGACY_KEYWORD_SHARE),
    ):
        for pid, score in normalised(ranking).items():
            mixed[pid] = mixed.get(pid, 0.0) + weight * score
    return mixed


def cross_validated(
    real: Sequence[Measured],
    tested: Sequence[Measured],
    rank: Callable[[Measured, object], int | None],
) -> list[int | None]:
    """Ranks of ``tested`` under models fit on the real questions of the other folds."""
    ranks: list[int | None] = [None] * len(tested)
    for held_out in gold_folds([m.example.query.gold for m in real]):
        model = fit([m.example for m in real if m.example.query.gold not in held_out], C)
        for i, m in enumerate(tested):
            if m.example.query.gold in held_out:
                ranks[i] = rank(m, model)
    return ranks


def print_table(queries: Sequence[LabelledQuery], columns: dict[str, Sequence[int | None]]) -> None:
    """hit@1 / hit@5 / MRR@10 of every column, one row per file, style and file-and-style."""
    sums = {name: summary(queries, ranks) for name, ranks in columns.items()}
    keys = list(next(iter(sums.values())))
    print(f"{'questions':44} {'n':>4}  " + "  ".join(f"{n:>20}" for n in columns))
    print(f"{'':44} {'':>4}  " + "  ".join(f"{'hit@1 hit@5 MRR@10':>20}" for _ in columns))
    for key in keys:
        cells = []
        for name in columns:
            s = sums[name][key]
            cells.append(f"{s['hit@1']:>6.3f}{s['hit@5']:>6.3f}{s['mrr@10']:>7.3f} ")
        print(f"{key:44} {sums[next(iter(columns))][key]['n']:>4}  " + "  ".join(cells))


def shortened(query: LabelledQuery, variant: int) -> LabelledQuery:
    """The query with each word dropped with DROP_PROBABILITY (seeded; three words at least)."""
    seed = hashlib.sha256(f"{query.question}|{variant}".encode()).hexdigest()
    rnd = random.Random(seed)
    words = query.question.split()
    kept = [w for w in words if rnd.random() > DROP_PROBABILITY]
    text = " ".join(kept if len(kept) >= 3 else words[:3])
    return dataclasses.replace(query, question=text, file=f"shortened {query.file}")


def legacy_search(kb: KnowledgeBase, text: str, k: int = 10) -> list[int]:
    """The replaced hybrid search, for timing: both rankings, the fixed fusion, the top passages."""
    found = rankings(kb, text, CANDIDATES, Filters())
    order = sorted(legacy_scores(found).items(), key=lambda item: (-item[1], item[0]))[:k]
    return list(kb.store.get_passages(pid for pid, _ in order))


def latency(kb: KnowledgeBase, queries: Sequence[LabelledQuery]) -> None:
    """p50 of each search, query vectors already cached, so only retrieval and fusion count."""
    texts = [q.question for q in queries]
    for text in texts:  # embeds every query once; the timings below then differ only in fusion
        search(kb, text, k=10, mode="dense")
    runs: dict[str, Callable[[str], object]] = {
        "hybrid, learned fusion": lambda t: search(kb, t, k=10),
        "hybrid, before (0.7)": lambda t: legacy_search(kb, t),
        "dense": lambda t: search(kb, t, k=10, mode="dense"),
        "keyword": lambda t: search(kb, t, k=10, mode="keyword"),
    }
    times: dict[str, list[float]] = {name: [] for name in runs}
    for text in texts:  # interleaved, so a busy moment of the machine hits every variant alike
        for name, run in runs.items():
            started = time.perf_counter()
            run(text)
            times[name].append((time.perf_counter() - started) * 1000)
    for name, found in times.items():
        print(f"search p50 {name:24} {statistics.median(found):6.2f} ms (vectors cached)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/marketkb-bench-qa"))
    parser.add_argument("--stress", action="store_true", help="Also rank shortened questions.")
    parser.add_argument("--no-cv", action="store_true", help="Skip cross-validation.")
    parser.add_argument("--inference", default="float32", help="inference path (kb.encoders)")
    args = parser.parse_args()
    started = time.perf_counter()
    kb = open_corpus(args.data_dir, SHARED, args.inference)
    print(f"machine: {cpu_line()}; Python {platform.python_version()}; {kb.stats()}")
    print(f"inference path: {args.inference}")
    queries = labelled_queries(SHARED)
    measured = measure(kb, queries)
    model = load_fusion()
    columns: dict[str, list[int | None]] = {
        "learned (shipped)": [
            gold_rank(m.example, model.scores(m.example.matrix)) for m in measured
        ],
        "before: 0.7 fusion": [ranking_rank(m, legacy_scores(m.found)) for m in measured],
        "dense only": [ranking_rank(m, dict(m.found.dense)) for m in measured],
        "keyword only": [ranking_rank(m, dict(m.found.keyword)) for m in measured],
    }
    learned_rank = lambda m, fitted: gold_rank(m.example, fitted.scores(m.example.matrix))  # noqa: E731
    if not args.no_cv:
        columns["learned, 5-fold CV"] = cross_validated(measured, measured, learned_rank)
        in_sample = fit([m.example for m in measured], C)
        columns["learned, in-sample"] = [learned_rank(m, in_sample) for m in measured]
    print("\nShared questions (gold article rank among distinct retrieved articles)")
    print_table(queries, columns)
    if args.stress:
        short_queries = [shortened(q, v) for v in range(1, STRESS_VARIANTS + 1) for q in queries]
        short = measure(kb, short_queries)
        print(f"\nShortened questions ({len(short)}: {STRESS_VARIANTS} per shared question)")
        print_table(
            short_queries,
            {
                "learned, 5-fold CV": cross_validated(measured, short, learned_rank),
                "before: 0.7 fusion": [ranking_rank(m, legacy_scores(m.found)) for m in short],
                "dense only": [ranking_rank(m, dict(m.found.dense)) for m in short],
                "keyword only": [ranking_rank(m, dict(m.found.keyword)) for m in short],
            },
        )
    print()
    latency(kb, queries)
    print(
        f"\ntotal {time.perf_counter() - started:.0f} s; "
        f"all CV figures: {scores(columns.get('learned, 5-fold CV', []))}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
