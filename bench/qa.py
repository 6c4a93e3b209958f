"""Answer quality on ../shared/eval: hit@1, hit@5, MRR and answer accuracy per question type.

Usage: python bench/qa.py [--via api|library] [--data-dir DIR] [--show-wrong]

By default (``--via api``) it starts a real ``kb serve`` over an empty data directory, uploads
../shared/corpus/articles.jsonl and the seed page through ``POST /api/ingest``, and asks every dev
and seed question through ``GET /api/ask``. ``--via library`` builds (or reuses) ``--data-dir`` and
calls kb.answer directly, which is quicker for iterating. Last, it times answer_question on the
dev questions cold (the query-vector cache emptied before each ask; once with the per-article
sentence vectors kept, once with them dropped too), against plain hybrid search of the same
questions as the baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.answer_scoring import (  # noqa: E402
    SEED_PAGE,
    SHARED,
    contains,
    gold_article_id,
    load_questions,
    rank_of,
    summarise,
)
from bench.server import start_server, stop_server, upload_files  # noqa: E402
from ingest.pagetext import parse_page_text  # noqa: E402
from ingest.sources import read_sources  # noqa: E402
from kb.answer import answer_question  # noqa: E402
from kb.answer_similarity import clear_cache  # noqa: E402
from kb.knowledge import KnowledgeBase  # noqa: E402
from kb.search import search  # noqa: E402

QUESTION_FILES = ("dev-questions.jsonl", "seed-questions.jsonl")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="/tmp/marketkb-bench-qa")
    parser.add_argument("--show-wrong", action="store_true")
    parser.add_argument(
        "--via",
        choices=["api", "library"],
        default="api",
        help="Ask through a real kb serve (default) or call kb.answer directly.",
    )
    args = parser.parse_args()
    sources = [SHARED / "corpus" / "articles.jsonl", SEED_PAGE]
    process = None
    if args.via == "api":
        data_dir = Path(tempfile.mkdtemp(prefix="marketkb-bench-qa-api-"))
        token = "bench-token"
        process, url = start_server(data_dir, env={"KB_API_TOKEN": token})
        started = time.perf_counter()
        statuses = [a["status"] for a in upload_files(url, token, sources)["articles"]]
        print(
            f"ingested through POST /api/ingest in {time.perf_counter() - started:.1f} s: "
            f"{statuses.count('new')} new, {statuses.count('failed')} failed"
        )

        def ask(question: str) -> dict:
            query = urlencode({"q": question, "k": 10})
            with urllib.request.urlopen(f"{url}/api/ask?{query}", timeout=60) as response:
                return json.load(response)
    else:
        kb = KnowledgeBase(args.data_dir)
        if kb.stats()["articles"] == 0:
            started = time.perf_counter()
            kb.ingest(read_sources([str(source) for source in sources]))
            print(f"built {args.data_dir} in {time.perf_counter() - started:.1f} s")

        def ask(question: str) -> dict:
            return answer_question(kb, question, k=10).to_dict()

    try:
        answers = {q["id"]: ask(q["question"]) for q in load_questions(*QUESTION_FILES)}
    finally:
        if process is not None:
            stop_server(process)
    if args.via == "api":
        kb = KnowledgeBase(data_dir)
    # The baseline, in the same run: would the single best passage of hybrid search do?
    top_passages = {
        q["id"]: next(iter(search(kb, q["question"], k=1)), None)
        for q in load_questions(*QUESTION_FILES)
    }
    _report_quality(
        answers,
        {qid: hit.text if hit else "" for qid, hit in top_passages.items()},
        args.show_wrong,
    )
    if args.via == "library":
        _print_latency(kb, [q["question"] for q in load_questions("dev-questions.jsonl")])
    return 0


def _report_quality(
    answers: dict[str, dict], top_passages: dict[str, str], show_wrong: bool
) -> None:
    """Print the quality table per question type, with the top-passage baseline beside it."""
    seed_id = parse_page_text(SEED_PAGE.read_text(encoding="utf-8")).id
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    for name in QUESTION_FILES:
        rows = []
        for question in load_questions(name):
            answer = answers[question["id"]]
            gold = gold_article_id(question, seed_id)
            ranked = [c["article_id"] for c in answer["citations"]]
            correct = all(contains(answer["answer"], item) for item in question["must_include"])
            passage = top_passages[question["id"]]
            rows.append(
                {
                    "type": question["type"],
                    "rank": rank_of(ranked, gold),
                    "correct": correct,
                    "passage_correct": all(contains(passage, i) for i in question["must_include"]),
                }
            )
            if show_wrong and not correct:
                print(
                    f"\n[{question['id']}] {question['question']}\n  must: "
                    f"{question['must_include']}\n  kind: {answer['kind']} rank: "
                    f"{rows[-1]['rank']}\n  answer: {answer['answer'][:400]}"
                )
        print(f"\n{name}")
        print(
            f"{'type':10} {'n':>4} {'hit@1':>7} {'hit@5':>7} {'MRR@10':>7} {'answer':>7} "
            f"{'top passage (baseline)':>23}"
        )
        for kind in sorted({r["type"] for r in rows}) + ["all"]:
            subset = [r for r in rows if kind == "all" or r["type"] == kind]
            s = summarise(subset)
            baseline = sum(r["passage_correct"] for r in subset) / len(subset)
            print(
                f"{kind:10} {s['n']:>4} {s['hit@1']:>7.3f} {s['hit@5']:>7.3f} "
                f"{s['mrr@10']:>7.3f} {s['accuracy']:>7.3f} {baseline:>23.3f}"
            )


def _cold_times(ask, questions: list[str], before) -> list[float]:
    """Milliseconds of ``ask`` per question, ``before`` emptying caches ahead of each."""
    times = []
    for question in questions:
        before()
        started = time.perf_counter()
        ask(question)
        times.append((time.perf_counter() - started) * 1000)
    return times


def _print_latency(kb: KnowledgeBase, questions: list[str]) -> None:
    def empty_query_cache() -> None:
        kb.embedder.clear_query_cache()

    def empty_all() -> None:
        empty_query_cache()
        clear_cache()

    answer_question(kb, questions[0])  # load the model and pick the encoding path first
    runs = {
        "search only (baseline)": _cold_times(
            lambda q: search(kb, q, k=20), questions, empty_query_cache
        ),
        "answer, article vectors kept": _cold_times(
            lambda q: answer_question(kb, q), questions, empty_query_cache
        ),
        "answer, all caches empty": _cold_times(
            lambda q: answer_question(kb, q), questions, empty_all
        ),
    }
    base = statistics.median(runs["search only (baseline)"])
    print(f"\nlatency per ask, cold query cache, {len(questions)} dev questions (ms)")
    print(f"{'run':30} {'p50':>7} {'p95':>7} {'p50/baseline':>13}")
    for name, times in runs.items():
        p50 = statistics.median(times)
        p95 = statistics.quantiles(times, n=20)[-1]
        print(f"{name:30} {p50:>7.1f} {p95:>7.1f} {p50 / base:>13.2f}")


if __name__ == "__main__":
    raise SystemExit(main())
