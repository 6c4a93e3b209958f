"""Benchmark dense search: build time, memory, latency and recall, exact vs approximate index.

Run: .venv/bin/python bench/search.py [--sizes 10k,100k,1M] [--queries 200]

Vectors are synthetic: unit 384-d vectors drawn around random cluster centres, one centre per
POINTS_PER_CENTRE vectors (real sentence embeddings cluster by topic; uniformly random vectors
would be an unrealistically hard case for IVF, and a fixed number of centres an easy one at 1M).
The last size is also searched with real query embeddings of the dev questions, so the
"dense search, query embedding included" figure uses the real model.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared"

from kb.embedding import MODEL_DIM, MODEL_SHA256, Embedder  # noqa: E402
from kb.vectors import VectorIndex  # noqa: E402

K = 10
POINTS_PER_CENTRE = 100
NOISE = 1.0  # noise norm relative to the unit centre: cosine to its centre about 0.7
CHUNK = 100_000
TARGET_MS = 30.0


def parse_size(text: str) -> int:
    """Parse 10k / 1M / 2500 into an integer."""
    text = text.strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text.rstrip("km")) * scale)


def rss_mb() -> float:
    """Return this process's resident set size in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def machine() -> str:
    """Describe the machine the figures come from."""
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import faiss
    import torch

    return (
        f"{platform.platform()} | {cpu} | cpus={os.cpu_count()} "
        f"(affinity {len(os.sched_getaffinity(0))}) | python {platform.python_version()} | "
        f"torch {torch.__version__} threads={torch.get_num_threads()} | faiss {faiss.__version__}"
    )


def clustered(n: int, centres: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draw n unit vectors around the given centres."""
    out = np.empty((n, centres.shape[1]), dtype=np.float32)
    for start in range(0, n, CHUNK):
        m = min(CHUNK, n - start)
        x = centres[rng.integers(0, len(centres), m)]
        x = x + rng.standard_normal(x.shape, dtype=np.float32) * (NOISE / np.sqrt(x.shape[1]))
        out[start : start + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def percentiles(times: list[float]) -> tuple[float, float]:
    """Return p50 and p99 in milliseconds."""
    arr = np.array(times) * 1000
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 99))


def time_searches(index: VectorIndex, queries: np.ndarray) -> tuple[list[list[int]], list[float]]:
    """Run one search per query; return the result ids and the per-query seconds."""
    results, times = [], []
    index.search(queries[0], K)  # warm-up
    for q in queries:
        start = time.perf_counter()
        hits = index.search(q, K)
        times.append(time.perf_counter() - start)
        results.append([i for i, _ in hits])
    return results, times


def recall(approx: list[list[int]], exact: list[list[int]]) -> float:
    """Mean fraction of the exact top-k found by the approximate search."""
    pairs = zip(approx, exact, strict=True)
    return float(np.mean([len(set(a) & set(e)) / len(e) for a, e in pairs]))


def bench_size(n: int, n_queries: int, rng: np.random.Generator) -> dict:
    """Build exact and approximate indexes over n vectors and measure them."""
    centres = rng.standard_normal((max(10, n // POINTS_PER_CENTRE), MODEL_DIM), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    vectors = clustered(n, centres, rng)
    queries = clustered(n_queries, centres, rng)
    ids = np.arange(1, n + 1, dtype=np.int64)
    row: dict = {"n": n}

    gc.collect()
    before = rss_mb()
    start = time.perf_counter()
    exact = VectorIndex(MODEL_DIM, approx_threshold=n + 1)
    for s in range(0, n, CHUNK):
        exact.add(ids[s : s + CHUNK], vectors[s : s + CHUNK])
    row["exact_build_s"] = time.perf_counter() - start
    row["exact_mem_mb"] = rss_mb() - before
    exact_ids, times = time_searches(exact, queries)
    row["exact_p50_ms"], row["exact_p99_ms"] = percentiles(times)

    gc.collect()
    before = rss_mb()
    start = time.perf_counter()
    approx = VectorIndex(MODEL_DIM, approx_threshold=0)
    approx.add(ids, vectors)
    row["approx_build_s"] = time.perf_counter() - start
    row["approx_mem_mb"] = rss_mb() - before
    row["nlist"] = int(approx.index.nlist)
    row["sweep"] = []
    for nprobe in (8, 16, 32, 64):
        approx.index.nprobe = nprobe
        found, times = time_searches(approx, queries)
        p50, p99 = percentiles(times)
        row["sweep"].append(
            {"nprobe": nprobe, "p50_ms": p50, "p99_ms": p99, "recall10": recall(found, exact_ids)}
        )
    approx.index.nprobe = approx.nprobe
    del vectors, exact
    gc.collect()
    return row | {"approx": approx}


def bench_query_path(approx: VectorIndex, data_dir: Path) -> dict:
    """Dense search with real query embedding: float32 baseline vs the adopted query path."""
    questions = [
        json.loads(line)["question"]
        for line in (SHARED / "eval" / "dev-questions.jsonl").read_text().splitlines()
        if line.strip()
    ]
    embedder = Embedder(data_dir)
    start = time.perf_counter()
    embedder.encode_query("warm up the model and choose the query path")
    load_s = time.perf_counter() - start
    exact_vecs, exact_t, fast_vecs, total_t, cached_t = [], [], [], [], []
    for q in questions:
        start = time.perf_counter()
        exact_vecs.append(embedder.encode_query_exact(q))
        exact_t.append(time.perf_counter() - start)
    for q in questions:  # each question once: cold cache
        start = time.perf_counter()
        vec = embedder.encode_query(q)
        approx.search(vec, K)
        total_t.append(time.perf_counter() - start)
        fast_vecs.append(vec)
    for q in questions:
        start = time.perf_counter()
        approx.search(embedder.encode_query(q), K)
        cached_t.append(time.perf_counter() - start)
    cos = (np.stack(exact_vecs) * np.stack(fast_vecs)).sum(axis=1)
    return {
        "load_s": load_s,
        "query_path": embedder.inference_path,
        "embed_f32_p50_ms": percentiles(exact_t)[0],
        "total_p50_ms": percentiles(total_t)[0],
        "total_p99_ms": percentiles(total_t)[1],
        "cached_p50_ms": percentiles(cached_t)[0],
        "cos_min": float(cos.min()),
        "cos_mean": float(cos.mean()),
        "questions": len(questions),
    }


def main() -> None:
    """Parse arguments, run every size, print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10k,100k,1M", help="comma-separated, e.g. 10k,100k")
    parser.add_argument("--queries", type=int, default=200, help="synthetic queries per size")
    parser.add_argument("--no-model", action="store_true", help="skip the real query embedding")
    args = parser.parse_args()
    sizes = [parse_size(s) for s in args.sizes.split(",")]

    print("machine:", machine())
    print(
        f"vectors: synthetic, n/{POINTS_PER_CENTRE} clusters, dim {MODEL_DIM}; k={K}; "
        f"{args.queries} queries per size; approximate = IVF-Flat (inner product)"
    )
    rng = np.random.default_rng(42)
    started = time.perf_counter()
    largest = None
    header = (
        f"{'n':>9} {'kind':>6} {'build s':>8} {'mem MiB':>8} {'nprobe':>6} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'recall@10':>9} {'speedup':>8}"
    )
    print(header)
    for n in sizes:
        row = bench_size(n, args.queries, rng)
        print(
            f"{n:>9} {'exact':>6} {row['exact_build_s']:>8.2f} {row['exact_mem_mb']:>8.0f} "
            f"{'-':>6} {row['exact_p50_ms']:>7.2f} {row['exact_p99_ms']:>7.2f} {1.0:>9.3f} "
            f"{1.0:>7.2f}x"
        )
        for s in row["sweep"]:
            print(
                f"{n:>9} {'ivf':>6} {row['approx_build_s']:>8.2f} {row['approx_mem_mb']:>8.0f} "
                f"{s['nprobe']:>6} {s['p50_ms']:>7.2f} {s['p99_ms']:>7.2f} "
                f"{s['recall10']:>9.3f} {row['exact_p50_ms'] / s['p50_ms']:>7.2f}x"
            )
        print(f"{'':>9} (ivf lists: {row['nlist']}; default nprobe {row['approx'].nprobe})")
        largest = row["approx"]
        sys.stdout.flush()

    if not args.no_model and largest is not None:
        with tempfile.TemporaryDirectory(prefix="marketkb-bench-") as tmp:
            q = bench_query_path(largest, Path(tmp))
        print(
            f"\ndense search with query embedding, {q['questions']} dev questions, "
            f"ivf over {len(largest)} vectors (model load+extract {q['load_s']:.1f}s):"
        )
        print(f"  query embedding float32 (baseline): p50 {q['embed_f32_p50_ms']:.2f} ms")
        print(
            f"  adopted query path {q['query_path']}: cosine to float32 min {q['cos_min']:.5f}, "
            f"mean {q['cos_mean']:.5f}"
        )
        print(
            f"  embed + search: p50 {q['total_p50_ms']:.2f} ms, p99 {q['total_p99_ms']:.2f} ms "
            f"(goal < {TARGET_MS:.0f} ms: {'met' if q['total_p50_ms'] < TARGET_MS else 'MISSED'})"
        )
        print(
            f"  cached query + search: p50 {q['cached_p50_ms']:.2f} ms "
            f"({q['total_p50_ms'] / q['cached_p50_ms']:.1f}x faster than uncached)"
        )
    print(
        f"\ntotal bench time {time.perf_counter() - started:.0f}s; "
        f"model sha256 {MODEL_SHA256[:12]}…"
    )


if __name__ == "__main__":
    main()
