"""End-to-end ingest speed: the shared corpus into an empty data directory, against txtai.

Each run is a fresh subprocess (so its peak RSS from getrusage is its own, torch included) over an
empty directory that only has the extracted model linked in (extraction is a one-time cost). The
peer is txtai (`Embeddings(path=<the same extracted model folder>, content=True)`, indexed and
saved), measured in the same run. Both also answer the dev questions, for search latency.

Each inference path named with ``--paths`` (default: auto, the one marketkb picks here) gets its
own runs; the data directory template holds the ONNX copies and the measured choice already, so
no run pays for the one-time export.

Usage: python bench/ingest.py [--repeat N] [--skip-txtai] [--paths auto onnx-int8 float32 ...]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus" / "articles.jsonl"
QUESTIONS = SHARED / "eval" / "dev-questions.jsonl"
GOAL_RATIO = 2.0


def machine() -> str:
    """Platform, CPU model, flags and count, Python and library versions, load."""
    import onnxruntime
    import torch

    from bench.machine import cpu_line

    return (
        f"{platform.platform()}; {cpu_line()} (torch threads {torch.get_num_threads()}); "
        f"Python {platform.python_version()}; torch {torch.__version__}; onnxruntime "
        f"{onnxruntime.__version__}; load average {os.getloadavg()[0]:.1f}"
    )


def questions() -> list[str]:
    """The dev questions' text."""
    with open(QUESTIONS, encoding="utf-8") as lines:
        return [json.loads(line)["question"] for line in lines if line.strip()]


def latency(run_one: object, texts: list[str]) -> dict[str, float]:
    """p50/p99 ms of first (uncached) queries, and p50 of a repeat of the same queries."""

    def timed(text: str) -> float:
        start = time.perf_counter()
        run_one(text)
        return (time.perf_counter() - start) * 1000

    first = sorted(timed(t) for t in texts)
    again = sorted(timed(t) for t in texts)
    return {
        "p50_ms": statistics.median(first),
        "p99_ms": first[min(len(first) - 1, int(0.99 * len(first)))],
        "repeat_p50_ms": statistics.median(again),
    }


def worker_prepare(data_dir: Path) -> dict:
    """Export the ONNX copies and measure the inference path once, into the template."""
    from kb.embedding import Embedder

    embedder = Embedder(data_dir)
    embedder.encode_query("prepare")
    return {"path": embedder.inference_path, "measured": embedder.choice.get("measured")}


def worker_kb(data_dir: Path, inference: str) -> dict:
    """Ingest the corpus with marketkb; time the model load and the ingest separately."""
    started = time.perf_counter()
    from ingest.sources import read_sources
    from kb.knowledge import KnowledgeBase
    from kb.search import search

    kb = KnowledgeBase(data_dir, inference=inference)
    kb.embedder.encode_passages(["warm up"])  # loads the model and picks the encoding path
    loaded = time.perf_counter()
    results = kb.ingest(read_sources([str(CORPUS)]))
    done = time.perf_counter()
    statuses = {s: sum(r.status == s for r in results) for s in {r.status for r in results}}
    return {
        "load_s": loaded - started,
        "ingest_s": done - loaded,
        "statuses": statuses,
        **kb.stats(),
        "path": kb.embedder.inference_path,
        "search": latency(lambda q: search(kb, q, k=10), questions()),
    }


def worker_txtai(data_dir: Path, model_folder: Path) -> dict:
    """Index and save the corpus with txtai over the same model folder."""
    started = time.perf_counter()
    os.environ["HF_HUB_OFFLINE"] = os.environ["TRANSFORMERS_OFFLINE"] = "1"
    from txtai import Embeddings

    with open(CORPUS, encoding="utf-8") as lines:
        records = [json.loads(line) for line in lines if line.strip()]
    embeddings = Embeddings(path=str(model_folder), content=True)
    embeddings.transform("warm up")  # loads the model
    loaded = time.perf_counter()
    embeddings.index(
        (r["id"], {"text": r["text"], "title": r.get("title") or "", "url": r["url"]}, None)
        for r in records
    )
    embeddings.save(str(data_dir / "txtai"))
    done = time.perf_counter()
    return {
        "load_s": loaded - started,
        "ingest_s": done - loaded,
        "articles": embeddings.count(),
        "passages": embeddings.count(),
        "search": latency(lambda q: embeddings.search(q, 10), questions()),
    }


def run_worker(kind: str, data_dir: Path, model_folder: Path, inference: str = "auto") -> dict:
    """Run one measurement in a fresh interpreter; add its wall time and peak RSS."""
    started = time.perf_counter()
    output = subprocess.run(
        [
            sys.executable,
            __file__,
            "--inference",
            inference,
            "--worker",
            kind,
            "--data-dir",
            str(data_dir),
            "--model-folder",
            str(model_folder),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    wall = time.perf_counter() - started
    if output.returncode != 0:
        raise SystemExit(f"{kind} run failed:\n{output.stdout[-3000:]}\n{output.stderr[-3000:]}")
    result = json.loads(output.stdout.strip().splitlines()[-1])
    return {**result, "wall_s": wall}


def fresh_dir(parent: Path, name: str, template: Path) -> Path:
    """An empty data directory with the template's models folder (the extracted model, its
    ONNX copies, the measured choice) hard-linked in."""
    from kb.embedding import model_dir

    data_dir = parent / name
    data_dir.mkdir()
    shutil.copytree(model_dir(template).parent, model_dir(data_dir).parent, copy_function=os.link)
    return data_dir


def report(name: str, runs: list[dict]) -> dict:
    """Print one system's figures (median over runs) and return them."""
    pick = sorted(runs, key=lambda r: r["ingest_s"])[len(runs) // 2]
    articles = pick["articles"]
    figures = {
        "ingest_s": pick["ingest_s"],
        "wall_s": pick["wall_s"],
        "articles_per_s": articles / pick["ingest_s"],
        "passages_per_s": pick["passages"] / pick["ingest_s"],
        "end_to_end_articles_per_s": articles / pick["wall_s"],
        "peak_rss_mb": pick["peak_rss_kb"] / 1024,
    }
    search = pick["search"]
    extra = f", encoding path {pick['path']}" if pick.get("path") else ""
    print(
        f"{name:16} ingest {figures['ingest_s']:6.1f} s  {figures['articles_per_s']:6.1f} "
        f"articles/s  {figures['passages_per_s']:6.1f} passages/s  | process wall "
        f"{figures['wall_s']:5.1f} s ({figures['end_to_end_articles_per_s']:.1f} articles/s, "
        f"model load {pick['load_s']:.1f} s)  | peak RSS {figures['peak_rss_mb']:.0f} MB  | "
        f"search p50 {search['p50_ms']:.1f} ms p99 {search['p99_ms']:.1f} ms, repeated "
        f"p50 {search['repeat_p50_ms']:.2f} ms  | {articles} articles, {pick['passages']} "
        f"passages{extra}"
    )
    if pick.get("statuses"):
        print(f"                 statuses {pick['statuses']}, facts {pick.get('facts')}")
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="Runs per system (median shown).")
    parser.add_argument("--skip-txtai", action="store_true")
    parser.add_argument(
        "--paths", nargs="+", default=["auto"], help="inference paths to run marketkb on"
    )
    parser.add_argument("--inference", default="auto", help=argparse.SUPPRESS)
    parser.add_argument("--worker", choices=["kb", "txtai", "prepare"], help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--model-folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        if args.worker == "prepare":
            result = worker_prepare(args.data_dir)
        elif args.worker == "kb":
            result = worker_kb(args.data_dir, args.inference)
        else:
            result = worker_txtai(args.data_dir, args.model_folder)
        result["peak_rss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps(result))
        return 0

    from kb.embedding import ensure_model

    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="kb-bench-ingest-") as scratch:
        work = Path(scratch)
        template = work / "template"
        model_folder = ensure_model(template)
        prepared = run_worker("prepare", template, model_folder)
        print(f"auto picks {prepared['path']} here; measured {prepared['measured']}")
        names = {path: f"kb {path}" for path in args.paths}
        runs: dict[str, list[dict]] = {name: [] for name in [*names.values(), "txtai"]}
        for number in range(args.repeat):
            # Alternate the systems so drifting machine load hits both alike.
            for path, name in names.items():
                runs[name].append(
                    run_worker(
                        "kb", fresh_dir(work, f"kb-{path}-{number}", template), model_folder, path
                    )
                )
            if not args.skip_txtai:
                runs["txtai"].append(
                    run_worker("txtai", fresh_dir(work, f"txtai{number}", template), model_folder)
                )
        print(
            f"corpus: {CORPUS} ; {args.repeat} run(s) per system, each a fresh process "
            f"over an empty data directory"
        )
        ours = {name: report(name, runs[name]) for name in names.values()}
        if args.skip_txtai:
            return 0
        peer = report("txtai", runs["txtai"])
        for name, figures in ours.items():
            ratio = figures["articles_per_s"] / peer["articles_per_s"]
            print(
                f"ratio {name}/txtai: ingest {ratio:.2f}x articles/s (goal {GOAL_RATIO:.0f}x), "
                f"process wall "
                f"{figures['end_to_end_articles_per_s'] / peer['end_to_end_articles_per_s']:.2f}x, "
                f"peak RSS {figures['peak_rss_mb'] / peer['peak_rss_mb']:.2f}x"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
