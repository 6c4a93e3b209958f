"""Score ``ingest.facts.extract_facts`` on the hand-labelled dev facts, beside quantulum3.

Run: ``.venv/bin/python bench/facts.py [--errors]``. Reads ``../shared/eval/dev-facts.jsonl``
and the article texts in ``../shared/corpus/articles.jsonl``; prints precision/recall/F1 at
the three levels of ``../shared/eval/FACTS.md``, per metric (level 2), per error kind,
quantulum3's level-1 score as the baseline (with the ratio), the extraction time over the whole
corpus (total and per article; the first call's set-up timed apart), and the machine.
``--errors`` lists every miss and spurious fact.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ingest.facts import extract_facts  # noqa: E402
from ingest.gazetteer import canonical  # noqa: E402

SHARED = ROOT.parent / "shared"
LEVELS = (1, 2, 3)


def load_corpus() -> list[str]:
    """The texts of every corpus article."""
    with open(SHARED / "corpus" / "articles.jsonl", encoding="utf-8") as handle:
        return [json.loads(line)["text"] for line in handle]


def time_corpus(texts: list[str]) -> tuple[float, float]:
    """(first-call set-up seconds, seconds to extract every text) in a warm process."""
    started = time.perf_counter()
    extract_facts("Warm-up: Binance saw $1 million in long liquidations in 24 hours.")
    setup_s = time.perf_counter() - started
    started = time.perf_counter()
    for text in texts:
        extract_facts(text)
    return setup_s, time.perf_counter() - started


def load_dev() -> list[tuple[str, str, list[dict]]]:
    """(article id, text, labelled facts) for each labelled dev article."""
    texts = {}
    with open(SHARED / "corpus" / "articles.jsonl", encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            texts[row["id"]] = row["text"]
    dev = []
    with open(SHARED / "eval" / "dev-facts.jsonl", encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            dev.append((row["article_id"], texts[row["article_id"]], row["facts"]))
    return dev


def same_value(a: float, b: float) -> bool:
    """Values agree within 0.5% (FACTS.md)."""
    if a == b:
        return True
    return abs(a - b) <= 0.005 * max(abs(a), abs(b))


def entity_key(name: str | None) -> str | None:
    """Entity compared case-insensitively after alias mapping."""
    if not name:
        return None
    return (canonical(name) or name).casefold()


def agrees(pred: dict, gold: dict, level: int) -> bool:
    """Whether a predicted fact matches a labelled one at ``level``."""
    if pred["unit"] != gold["unit"] or not same_value(pred["value"], gold["value"]):
        return False
    if level >= 2 and pred.get("metric") != gold["metric"]:
        return False
    return level < 3 or (
        entity_key(pred.get("entity")) == entity_key(gold["entity"])
        and pred.get("side") == gold["side"]
    )


def match(preds: list[dict], golds: list[dict], level: int) -> dict[int, int]:
    """Maximum one-to-one matching gold index → pred index (augmenting paths)."""
    options = [[p for p, pred in enumerate(preds) if agrees(pred, gold, level)] for gold in golds]
    owner: dict[int, int] = {}

    def assign(g: int, seen: set[int]) -> bool:
        for p in options[g]:
            if p in seen:
                continue
            seen.add(p)
            if p not in owner or assign(owner[p], seen):
                owner[p] = g
                return True
        return False

    for g in range(len(golds)):
        assign(g, set())
    return {g: p for p, g in owner.items()}


def prf(tp: int, n_pred: int, n_gold: int) -> tuple[float, float, float]:
    """Precision, recall, F1."""
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


QUANTULUM_NOTES: list[str] = []


def quantulum_facts(text: str) -> list[dict] | None:
    """quantulum3's quantities as (value, unit) facts, or None when it cannot run here."""
    # Its pickled classifier warns about the scikit-learn version on every load.
    warnings.filterwarnings("ignore", module="sklearn")
    try:
        from quantulum3 import classifier, parser
    except Exception:  # noqa: BLE001 - any import failure means no baseline
        return None
    try:
        quantities = parser.parse(text)
    except Exception as error:  # noqa: BLE001 - its pickled classifier may not load offline
        if not classifier.USE_CLF:
            raise
        # The shipped unit classifier is a pickle of an older scikit-learn; without network it
        # cannot be retrained from upstream, so fall back to quantulum3's rule-based disambiguation.
        classifier.USE_CLF = False
        QUANTULUM_NOTES.append(
            f"its unit classifier did not load ({type(error).__name__}: {error}); "
            "scored with its rule-based disambiguation (no classifier)"
        )
        quantities = parser.parse(text)
    out = []
    for quantity in quantities:
        name = quantity.unit.name.lower()
        entity = quantity.unit.entity.name.lower()
        if "dollar" in name:
            unit = "USD"
        elif "euro" in name:
            unit = "EUR"
        elif "yen" in name:
            unit = "JPY"
        elif "pound sterling" in name:
            unit = "GBP"
        elif "percent" in name:
            unit = "%"
        elif entity == "dimensionless":
            unit = "count"
        else:
            unit = quantity.unit.name
        out.append({"value": quantity.value, "unit": unit})
    return out


def main() -> None:
    """Run the benchmark and print its report."""
    args = argparse.ArgumentParser(description=__doc__)
    args.add_argument("--errors", action="store_true", help="list misses and spurious facts")
    show_errors = args.parse_args().errors

    dev = load_dev()
    corpus = load_corpus()
    setup_s, corpus_s = time_corpus(corpus)
    n_gold = sum(len(golds) for _, _, golds in dev)
    tp = Counter()
    n_pred = 0
    errors = Counter()
    metric_tp, metric_pred, metric_gold = Counter(), Counter(), Counter()
    predictions = {
        article_id: [f.to_dict() for f in extract_facts(text)] for article_id, text, _ in dev
    }

    for article_id, _text, golds in dev:
        preds = predictions[article_id]
        n_pred += len(preds)
        matches = {level: match(preds, golds, level) for level in LEVELS}
        for level in LEVELS:
            tp[level] += len(matches[level])
        for gold in golds:
            metric_gold[gold["metric"]] += 1
        for pred in preds:
            metric_pred[pred["metric"]] += 1
        for g in matches[2]:
            metric_tp[golds[g]["metric"]] += 1
        errors["missed"] += len(golds) - len(matches[1])
        errors["spurious"] += len(preds) - len(matches[1])
        errors["wrong metric"] += len(matches[1]) - len(matches[2])
        for g, p in matches[2].items():
            if g in matches[3]:
                continue
            if entity_key(preds[p].get("entity")) != entity_key(golds[g]["entity"]):
                errors["wrong entity"] += 1
            else:
                errors["wrong side"] += 1
        if show_errors:
            _print_errors(article_id, preds, golds, matches)

    print(f"dev facts: {len(dev)} articles, {n_gold} labelled facts, {n_pred} extracted")
    print(f"{'level':<8}{'precision':>10}{'recall':>10}{'F1':>8}")
    scores = {}
    for level in LEVELS:
        p, r, f = prf(tp[level], n_pred, n_gold)
        scores[level] = f
        print(f"{level:<8}{p:>10.3f}{r:>10.3f}{f:>8.3f}")
    print("\nper metric (level 2):")
    print(f"{'metric':<20}{'gold':>6}{'pred':>6}{'P':>7}{'R':>7}{'F1':>7}")
    for metric in sorted(set(metric_gold) | set(metric_pred), key=lambda m: -metric_gold[m]):
        p, r, f = prf(metric_tp[metric], metric_pred[metric], metric_gold[metric])
        print(
            f"{metric:<20}{metric_gold[metric]:>6}{metric_pred[metric]:>6}{p:>7.2f}{r:>7.2f}{f:>7.2f}"
        )
    print("\nerrors by kind:")
    for kind in ("missed", "spurious", "wrong metric", "wrong entity", "wrong side"):
        print(f"  {kind:<14}{errors[kind]:>5}")

    print("\nbaseline quantulum3 (level 1 only; no metric, entity or side):")
    started = time.perf_counter()
    q_tp = q_pred = 0
    available = True
    for _, article_text, golds in dev:
        preds = quantulum_facts(article_text)
        if preds is None:
            available = False
            break
        q_pred += len(preds)
        q_tp += len(match(preds, golds, 1))
    q_s = time.perf_counter() - started
    if available:
        p, r, f = prf(q_tp, q_pred, n_gold)
        for note in QUANTULUM_NOTES:
            print(f"  note: {note}")
        print(f"  quantulum3 level 1: P {p:.3f} R {r:.3f} F1 {f:.3f}")
        print(f"  ratio ours/quantulum3 level-1 F1: {scores[1] / f:.2f}x" if f else "")
        # The corpus timing ran first and warmed the caches for these articles, so ours is
        # taken at the corpus rate per article.
        ours_dev_s = corpus_s / len(corpus) * len(dev)
        print(
            f"  time on the {len(dev)} dev articles: ours {ours_dev_s:.2f}s (corpus rate), "
            f"quantulum3 {q_s:.2f}s (ratio {ours_dev_s / q_s:.2f}x)"
        )
    else:
        print(
            "  quantulum3 is not installed (pip install quantulum3==0.10.0); no baseline this run"
        )
    print(
        f"\nextraction time, whole corpus ({len(corpus)} articles, after {setup_s:.2f}s set-up): "
        f"{corpus_s:.2f}s total, {1000 * corpus_s / len(corpus):.1f} ms per article"
    )
    print(
        f"\nmachine: {platform.platform()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()} ({platform.processor() or platform.machine()})"
    )


def _print_errors(article_id: str, preds: list[dict], golds: list[dict], matches: dict) -> None:
    """Every labelled fact not matched at level 3, and every prediction not matched at level 1."""
    rows = defaultdict(list)
    matched_3 = matches[3]
    inverse_1 = set(matches[1].values())
    for g, gold in enumerate(golds):
        if g in matched_3:
            continue
        p = matches[2].get(g, matches[1].get(g))
        got = preds[p] if p is not None else None
        rows[article_id].append(
            f"  GOLD {gold['text']!r} {gold['unit']} {gold['metric']} ent={gold['entity']} "
            f"side={gold['side']}  →  "
            + (f"{got['metric']} ent={got['entity']} side={got['side']}" if got else "MISSED")
        )
    for p, pred in enumerate(preds):
        if p not in inverse_1:
            rows[article_id].append(
                f"  SPUR {pred['text']!r} {pred['value']} {pred['unit']} {pred['metric']} "
                f"ent={pred['entity']} side={pred['side']}"
            )
    for line in rows[article_id]:
        print(f"[{article_id}]{line}")


if __name__ == "__main__":
    main()
