"""Answer quality on ../shared/eval, cross-validated, beside txtai's and bm25s's top passage.

Usage: python bench/qa.py [--data-dir DIR] [--cache FILE] [--show-wrong] [--skip-peers]

It builds (or reuses) a data directory over ../shared/corpus/articles.jsonl and the seed page,
computes every question's candidates and features once (kb/answer/training.py), and answers each
question with models fit by 5-fold cross-validation grouped by gold article, so no figure comes
from a model that saw the question's article; the out-of-corpus questions of
bench/data/absent-questions.jsonl form their own groups, and the share of them that get an answer
is the false-answer rate. Accuracy = every must_include item is in the answer text. Reported per
question file, per type and per style, beside the peers' top passage (~500 characters, the way
they are used) on the same questions: txtai's hybrid search over the same model and bm25s. Last,
cold answer latency (the query-vector cache and the fallback sentence-vector cache emptied before
each ask; the sentence vectors stored at ingest are data, not a cache) against plain hybrid
search as the in-run baseline, and the machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.machine import cpu_line  # noqa: E402
from kb.answer import answer_question, tools_for  # noqa: E402
from kb.answer.gold import contains  # noqa: E402
from kb.answer.training import (  # noqa: E402
    Example,
    build_kb,
    cached_examples,
    cross_validate,
)
from kb.knowledge import KnowledgeBase  # noqa: E402
from kb.search import search  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared"
PEER_PASSAGE_CHARS = 500


def peer_passages(corpus: Path) -> list[tuple[str, str]]:
    """(article id, ~500-character passage) chunks of every article, cut at sentence ends."""
    import json

    from ingest.records import article_id, canonical_url

    chunks = []
    for line in corpus.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        ours = article_id(canonical_url(row["url"]), "")
        text, start = row["text"], 0
        while start < len(text):
            end = min(len(text), start + PEER_PASSAGE_CHARS)
            cut = text.rfind(". ", start, end)
            end = cut + 1 if cut > start + PEER_PASSAGE_CHARS // 2 and end < len(text) else end
            chunks.append((ours, text[start:end].strip()))
            start = end
    return chunks


def peer_answers(examples: list[Example], kb: KnowledgeBase) -> dict[str, dict[str, tuple]]:
    """Per peer, per question id: (top passage contains the answer, gold article in top 5)."""

    chunks = peer_passages(SHARED / "corpus" / "articles.jsonl")
    texts = [text for _, text in chunks]
    found: dict[str, dict[str, tuple]] = {}
    asked = [e for e in examples if not e.absent]

    def record(name: str, ranked: dict[str, list[int]]) -> None:
        found[name] = {}
        for e in asked:
            order = ranked[e.question["id"]]
            top = texts[order[0]] if order else ""
            right = all(contains(top, item) for item in e.question.get("must_include", []))
            articles = list(dict.fromkeys(chunks[i][0] for i in order))[:5]
            found[name][e.question["id"]] = (right, stored_gold(kb, e.question) in articles)

    try:
        os.environ["HF_HUB_OFFLINE"] = os.environ["TRANSFORMERS_OFFLINE"] = "1"
        from txtai import Embeddings

        from kb.embedding import model_dir

        embeddings = Embeddings(path=str(model_dir(kb.data_dir)), hybrid=True, content=False)
        embeddings.index((n, text, None) for n, text in enumerate(texts))
        record(
            "txtai hybrid",
            {
                e.question["id"]: [int(i) for i, _ in embeddings.search(e.question["question"], 20)]
                for e in asked
            },
        )
    except ImportError as error:
        print(f"txtai not installed ({error}); pip install -e '.[bench]'")
    try:
        import bm25s

        retriever = bm25s.BM25()
        retriever.index(
            bm25s.tokenize(texts, stopwords="en", show_progress=False), show_progress=False
        )
        ranked = {}
        for e in asked:
            tokens = bm25s.tokenize([e.question["question"]], stopwords="en", show_progress=False)
            results, _ = retriever.retrieve(tokens, k=20, show_progress=False)
            ranked[e.question["id"]] = [int(i) for i in results[0]]
        record("bm25s", ranked)
    except ImportError as error:
        print(f"bm25s not installed ({error}); pip install -e '.[bench]'")
    return found


def stored_gold(kb: KnowledgeBase, question: dict) -> str:
    """The stored id of the question's gold article (the seed page by its parsed id)."""
    from ingest.pagetext import parse_page_text
    from kb.answer.training import gold_group

    if question.get("gold_url"):
        return gold_group(kb, question)
    seed = SHARED / "seed" / f"{question['gold_id']}.txt"
    return parse_page_text(seed.read_text(encoding="utf-8")).id


def report(
    examples: list[Example], results: list[dict], peers: dict, kb: KnowledgeBase, show_wrong: bool
) -> None:
    """The accuracy table per file, type and style, with hit@5 and the peers beside it."""
    rows: dict[str, list[tuple]] = defaultdict(list)
    absent = []
    for example, result in zip(examples, results, strict=True):
        q = example.question
        if example.absent:
            absent.append(result["kind"] != "none")
            continue
        articles = list(dict.fromkeys(h.article_id for h in example.scored.hits))[:5]
        hit5 = stored_gold(kb, q) in articles
        peer = [peers[name][q["id"]] for name in peers]
        for key in ("all", q["_file"], f"  type {q['type']}", f"  style {q.get('style', '-')}"):
            rows[key].append((result["correct"], hit5, peer))
        if show_wrong and not result["correct"]:
            print(
                f"\n[{q['id']}] {q['question']}\n  must: {q['must_include']}\n"
                f"  {result['kind']}: {result['answer'][:300]}"
            )
    header = f"{'questions':28} {'n':>4} {'answer (CV)':>11} {'hit@5':>6}"
    for name in peers:
        header += f" {name + ' ans/hit@5':>24}"
    print("\n" + header)
    for key in sorted(rows, key=lambda k: (k != "all", k.strip())):
        values = rows[key]
        n = len(values)
        line = f"{key:28} {n:>4} {sum(v[0] for v in values) / n:>11.3f} "
        line += f"{sum(v[1] for v in values) / n:>6.3f}"
        for p in range(len(peers)):
            right = sum(v[2][p][0] for v in values) / n
            hit = sum(v[2][p][1] for v in values) / n
            line += f" {right:>15.3f} / {hit:.3f}"
        print(line)
    if absent:
        print(
            f"\nout-of-corpus questions: {len(absent)}; false answers "
            f"{sum(absent)} = {sum(absent) / len(absent):.3f} (cross-validated)"
        )


def latency(kb: KnowledgeBase, questions: list[str]) -> None:
    """Cold answer latency against hybrid search of the same questions."""
    tools = tools_for(kb)
    answer_question(kb, questions[0], tools=tools)  # loads the model, picks the encoding path

    def cold(ask, empty_vectors: bool) -> list[float]:
        times = []
        for question in questions:
            kb.embedder.clear_query_cache()
            if empty_vectors:
                tools.vectors.clear()
            started = time.perf_counter()
            ask(question)
            times.append((time.perf_counter() - started) * 1000)
        return times

    runs = {
        "search only (baseline)": cold(lambda q: search(kb, q, k=20), False),
        # Sentence vectors are stored at ingest; only the caches in front of them are emptied.
        "answer, all caches empty": cold(lambda q: answer_question(kb, q, tools=tools), True),
    }
    base = statistics.median(runs["search only (baseline)"])
    print(f"\nlatency per question, one at a time, {len(questions)} questions (ms)")
    print(f"{'run':32} {'p50':>7} {'p95':>7} {'p50/baseline':>13}")
    for name, times in runs.items():
        p50, p95 = statistics.median(times), statistics.quantiles(times, n=20)[-1]
        print(f"{name:32} {p50:>7.1f} {p95:>7.1f} {p50 / base:>13.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="/tmp/marketkb-bench-qa")
    parser.add_argument("--cache", help="pickle of the computed features, reused when present")
    parser.add_argument("--show-wrong", action="store_true")
    parser.add_argument("--skip-peers", action="store_true")
    parser.add_argument(
        "--inference", default="float32", help="inference path (kb.encoders.PATHS) or auto"
    )
    args = parser.parse_args()
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}\ncpu: {cpu_line()}"
    )
    started = time.perf_counter()
    kb = build_kb(Path(args.data_dir), SHARED, args.inference)
    print(f"data directory ready in {time.perf_counter() - started:.1f} s: {kb.stats()}")
    kb.embedder.encode_query("warm up")  # settles the inference path
    print(f"inference path: {kb.embedder.inference_path} ({kb.embedder.choice.get('chosen_by')})")
    started = time.perf_counter()
    examples = cached_examples(kb, SHARED, Path(args.cache) if args.cache else None)
    print(f"features of {len(examples)} questions ready in {time.perf_counter() - started:.1f} s")
    results = cross_validate(kb, examples)
    peers = {} if args.skip_peers else peer_answers(examples, kb)
    report(examples, results, peers, kb, args.show_wrong)
    latency(
        kb,
        [e.question["question"] for e in examples if e.question["_file"] == "dev-questions.jsonl"],
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
