"""Each inference path against float32: speed on the stored passages and questions, and agreement.

Usage: python bench/embedding.py [--data-dir DIR] [--paths float32 onnx-int8 ...]

Encodes every passage of a data directory built over ../shared/corpus (built first if empty, as
bench/qa.py builds it) and every shared question, on each inference path in one run, and prints
per path: passages/s (batches of 32, longest first, as ingest encodes them), one-query p50/p99
(cold: each question once), and the lowest, 1st-percentile and mean cosine of its vectors to
float32's. Retrieval and answer accuracy per path come from ``bench/qa.py --inference PATH``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.machine import cpu_line  # noqa: E402
from kb.answer.training import build_kb  # noqa: E402
from kb.embedding import Embedder  # noqa: E402
from kb.encoders import PATHS  # noqa: E402

SHARED = ROOT.parent / "shared"
QUESTION_FILES = ("dev-questions.jsonl", "dev-questions-2.jsonl", "seed-questions.jsonl")


def questions() -> list[str]:
    """The text of every shared question."""
    out = []
    for name in QUESTION_FILES:
        with open(SHARED / "eval" / name, encoding="utf-8") as lines:
            out += [json.loads(line)["question"] for line in lines if line.strip()]
    return out


def measure(embedder: Embedder, passages: list[str], asked: list[str]) -> dict:
    """Passage throughput, query latency and the vectors of one path."""
    embedder.encode_passages(passages[:8])  # settles the path and warms it up
    started = time.perf_counter()
    passage_vectors = embedder.encode_passages(passages)
    seconds = time.perf_counter() - started
    embedder.clear_query_cache()
    times, query_vectors = [], []
    for text in asked:
        started = time.perf_counter()
        query_vectors.append(embedder.encode_query(text))
        times.append(1000 * (time.perf_counter() - started))
    times.sort()
    return {
        "passages_per_s": len(passages) / seconds,
        "query_p50_ms": statistics.median(times),
        "query_p99_ms": times[min(len(times) - 1, int(0.99 * len(times)))],
        "passages": passage_vectors,
        "queries": np.stack(query_vectors),
    }


def main() -> int:
    """Run every named path and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="/tmp/marketkb-bench-qa")
    parser.add_argument("--paths", nargs="+", default=list(PATHS), choices=PATHS)
    args = parser.parse_args()
    print(f"machine: {platform.platform()}; {cpu_line()}; Python {platform.python_version()}")
    kb = build_kb(Path(args.data_dir), SHARED)
    ids = sorted(kb.store.passage_ids())
    found = kb.store.get_passages(ids)
    passages = [found[i].passage.text for i in ids]
    asked = questions()
    print(f"{len(passages)} stored passages, {len(asked)} questions")
    paths = ["float32", *[p for p in args.paths if p != "float32"]]
    results = {}
    for path in paths:
        embedder = Embedder(args.data_dir, inference=path)
        results[path] = measure(embedder, passages, asked)
    exact = results["float32"]
    print(
        f"{'path':14}{'passages/s':>11}{'x f32':>7}{'query p50':>11}{'p99':>7}"
        f"{'passage cos min':>17}{'p1':>8}{'mean':>8}{'query cos min':>15}{'mean':>8}"
    )
    for path, r in results.items():
        cos = np.sum(r["passages"] * exact["passages"], axis=1)
        qcos = np.sum(r["queries"] * exact["queries"], axis=1)
        print(
            f"{path:14}{r['passages_per_s']:>11.1f}"
            f"{r['passages_per_s'] / exact['passages_per_s']:>7.2f}"
            f"{r['query_p50_ms']:>9.2f}ms{r['query_p99_ms']:>6.1f}"
            f"{cos.min():>17.5f}{np.percentile(cos, 1):>8.5f}{cos.mean():>8.5f}"
            f"{qcos.min():>15.5f}{qcos.mean():>8.5f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
