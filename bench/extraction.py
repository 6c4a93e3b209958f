"""Article-extraction quality of ingest.html against plain trafilatura, on the shared benchmark.

Metric of the public article-extraction benchmark: ``\\w+`` tokens, 4-gram shingles counted as
a multiset, per-page tp/fp/fn normalised to sum 1, precision averaged over pages that predicted
something, recall over pages whose truth has text, F1 of the two means. Pages are also scored
in two halves (even and odd positions in id order) to show the rules are not fitted to a few pages.

Run: .venv/bin/python bench/extraction.py [--limit N] [--worst K]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import trafilatura

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ingest.encoding import decode_page, read_page_file  # noqa: E402
from ingest.errors import IngestError  # noqa: E402
from ingest.html import parse_html  # noqa: E402

DATA = ROOT.parent / "shared" / "bench" / "article-extraction"
_TOKEN = re.compile(r"\w+")

Counts = tuple[float, float, float]


def shingles(text: str, n: int = 4) -> Counter[tuple[str, ...]]:
    """Multiset of n-token shingles; a text shorter than n tokens is one short shingle."""
    tokens = _TOKEN.findall(text or "")
    return Counter(tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1)) if tokens)


def page_counts(truth: str, prediction: str) -> Counts:
    """tp, fp, fn of shingles on one page, normalised to sum 1 (all zero if both are empty)."""
    true, pred = shingles(truth), shingles(prediction)
    tp = sum((true & pred).values())
    fp = sum((pred - true).values())
    fn = sum((true - pred).values())
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def precision(tp: float, fp: float, fn: float) -> float:
    """Page precision; a perfect empty match counts 1, nothing right counts 0."""
    if fp == fn == 0:
        return 1.0
    return 0.0 if tp == fp == 0 else tp / (tp + fp)


def recall(tp: float, fp: float, fn: float) -> float:
    """Page recall; a perfect empty match counts 1, nothing found counts 0."""
    if fp == fn == 0:
        return 1.0
    return 0.0 if tp == fn == 0 else tp / (tp + fn)


def summarise(counts: list[Counts]) -> dict[str, float]:
    """Mean precision (pages that predicted text), mean recall (pages with truth), their F1."""
    p = statistics.mean([precision(*c) for c in counts if c[0] + c[1] > 0] or [0.0])
    r = statistics.mean([recall(*c) for c in counts if c[0] + c[2] > 0] or [0.0])
    return {"f1": 2 * p * r / (p + r) if p + r else 0.0, "precision": p, "recall": r}


def marketkb_body(html: str, url: str) -> str:
    """Body as ingest.html returns it; a refused page predicts nothing."""
    try:
        return parse_html(html, url=url).body
    except IngestError:
        return ""


def trafilatura_body(html: str, url: str) -> str:
    """Plain trafilatura with the settings the public benchmark uses."""
    return trafilatura.extract(html, include_comments=False) or ""


def run(
    extractor: Callable[[str, str], str], pages: dict[str, str], truth: dict[str, dict]
) -> tuple[list[Counts], float]:
    """Per-page counts of one extractor and its speed in pages per second."""
    for key in list(pages)[:3]:  # warm up lazy imports and caches so the order of runs is fair
        extractor(pages[key], truth[key].get("url", ""))
    start = time.perf_counter()
    predictions = {key: extractor(html, truth[key].get("url", "")) for key, html in pages.items()}
    elapsed = time.perf_counter() - start
    counts = [page_counts(truth[k].get("articleBody", ""), predictions[k]) for k in pages]
    return counts, len(pages) / elapsed


def main() -> None:
    """Score both extractors and print the comparison and the machine."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=0, help="score only the first N pages")
    parser.add_argument("--worst", type=int, default=0, help="list the K worst pages for marketkb")
    args = parser.parse_args()

    truth = json.loads((DATA / "ground-truth.json").read_text(encoding="utf-8"))
    keys = sorted(truth)[: args.limit or None]
    pages = {k: decode_page(read_page_file(DATA / "html" / f"{k}.html.gz")) for k in keys}

    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs, python {platform.python_version()}"
    )
    print(f"pages: {len(pages)} from {DATA}")
    results = {}
    for name, extractor in (("marketkb", marketkb_body), ("trafilatura", trafilatura_body)):
        counts, speed = run(extractor, pages, truth)
        results[name] = (counts, speed)
        full = summarise(counts)
        even, odd = summarise(counts[0::2]), summarise(counts[1::2])
        print(
            f"{name:<12} F1 {full['f1']:.4f}  precision {full['precision']:.4f}  "
            f"recall {full['recall']:.4f}  | F1 even {even['f1']:.4f} (P {even['precision']:.4f})"
            f"  odd {odd['f1']:.4f} (P {odd['precision']:.4f})  | {speed:.1f} pages/s"
        )
    ours, base = (summarise(results[n][0]) for n in ("marketkb", "trafilatura"))
    print(
        f"ratio marketkb/trafilatura: F1 {ours['f1'] / base['f1']:.3f}  precision "
        f"{ours['precision'] / base['precision']:.3f}  recall {ours['recall'] / base['recall']:.3f}"
        f"  speed {results['marketkb'][1] / results['trafilatura'][1]:.2f}"
    )
    if args.worst:
        scored = sorted(zip(results["marketkb"][0], keys, strict=True), key=lambda x: sum(x[0][1:]))
        for c, key in scored[-args.worst :]:
            print(
                f"  P {precision(*c):.3f} R {recall(*c):.3f}  {key[:12]}  {truth[key].get('url')}"
            )


if __name__ == "__main__":
    main()
