"""Score the facts extractor on the hand-labelled facts, cross-validated, beside quantulum3.

Run: ``.venv/bin/python bench/facts.py [--files dev-facts.jsonl dev-facts-2.jsonl] [--errors]``.
Reads the labelled files of ``../shared/eval`` and the texts of ``../shared/corpus``. Prints
precision/recall/F1 at the three levels of ``FACTS.md`` per file and overall, with 5-fold
cross-validation grouped by article (each article scored by models fitted without its fold),
with and without the dependency parse (the shipped configuration is the one the model file's
manifest names); the rule pass alone for comparison; quantulum3 at level 1; the shipped model's
own score (fit on everything, so optimistic); extraction time per article over the whole corpus
with and without the parse; the machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.machine import cpu_line  # noqa: E402
from ingest.facts import Extractor, extract_facts  # noqa: E402
from ingest.facts.model import load_models  # noqa: E402
from ingest.facts.parsing import load_parser  # noqa: E402
from ingest.facts.pipeline import analyze, decide  # noqa: E402
from ingest.facts.scoring import Tally, cross_validate, match  # noqa: E402
from ingest.facts.training import examples, load_labelled  # noqa: E402
from ingest.gazetteer import load_gazetteer  # noqa: E402

SHARED = ROOT.parent / "shared"
QUANTULUM_NOTES: list[str] = []


def quantulum_facts(text: str) -> list[dict] | None:
    """quantulum3's quantities as (value, unit) facts, or None when it is not installed."""
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
        # Its unit classifier is a pickle of an older scikit-learn and cannot be rebuilt
        # offline, so fall back to quantulum3's rule-based disambiguation.
        classifier.USE_CLF = False
        QUANTULUM_NOTES.append(
            f"its unit classifier did not load ({type(error).__name__}); "
            "scored with its rule-based disambiguation"
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


def _table(title: str, report: dict) -> None:
    """Print one P/R/F1 table per file."""
    print(f"\n{title}")
    print(f"  {'file':<22}{'level':<7}{'P':>7}{'R':>7}{'F1':>7}")
    for name, levels in report.items():
        for level, row in levels.items():
            print(f"  {name:<22}{level:<7}{row['P']:>7.3f}{row['R']:>7.3f}{row['F1']:>7.3f}")


def _errors(articles, analyses, models, gazetteer) -> None:  # noqa: ANN001
    """Every labelled fact not matched at level 3 and every spurious prediction."""
    for article, analysis in zip(articles, analyses, strict=True):
        preds = [f.to_dict() for f in decide(analysis, models)]
        found = {level: match(preds, article.labels, level, gazetteer) for level in (1, 2, 3)}
        for g, gold in enumerate(article.labels):
            if g in found[3]:
                continue
            p = found[2].get(g, found[1].get(g))
            got = preds[p] if p is not None else None
            print(
                f"[{article.article_id}] GOLD {gold['value']} {gold['unit']} {gold['metric']} "
                f"ent={gold['entity']} side={gold['side']} -> "
                + (f"{got['metric']} ent={got['entity']} side={got['side']}" if got else "MISSED")
            )
        for p, pred in enumerate(preds):
            if p not in found[1].values():
                print(
                    f"[{article.article_id}] SPUR {pred['value']} {pred['unit']} {pred['metric']}"
                )


def main() -> None:
    """Run the benchmark and print its report."""
    args = argparse.ArgumentParser(description=__doc__)
    args.add_argument("--files", nargs="+", default=["dev-facts.jsonl", "dev-facts-2.jsonl"])
    args.add_argument("--errors", action="store_true", help="list misses and spurious facts")
    options = args.parse_args()

    gazetteer = load_gazetteer()
    parser = load_parser()
    models = load_models()
    # The shipped configuration is the one the model file was fit in (with the parse or not);
    # the other is scored beside it so the choice stays measured.
    shipped_parse = bool(models.manifest.get("parsed"))
    articles = load_labelled([SHARED / "eval" / name for name in options.files])
    print(f"labelled: {len(articles)} articles, {sum(len(a.labels) for a in articles)} facts")
    by_config = {}
    for with_parse in (shipped_parse, not shipped_parse):
        config_analyses = [
            analyze(a.text, gazetteer, parser if with_parse else None) for a in articles
        ]
        by_config[with_parse] = config_analyses
        rows = examples(articles, config_analyses, gazetteer)
        _table(
            f"cross-validated, {'with' if with_parse else 'without'} the parse"
            f"{' (shipped)' if with_parse == shipped_parse else ''} (5 folds grouped by article; "
            "each fold scored by models fit without it)",
            cross_validate(articles, config_analyses, rows, gazetteer),
        )
    analyses = by_config[shipped_parse]

    rules: dict[str, Tally] = {"all": Tally()}
    shipped: dict[str, Tally] = {"all": Tally()}
    for article, analysis in zip(articles, analyses, strict=True):
        rule_preds = [f.fact.to_dict() for f in analysis.figures]
        model_preds = [f.to_dict() for f in decide(analysis, models)]
        for tallies, preds in ((rules, rule_preds), (shipped, model_preds)):
            tallies.setdefault(article.source, Tally()).add(preds, article.labels, gazetteer)
            tallies["all"].add(preds, article.labels, gazetteer)
    _table("rule pass alone (no learned models)", {k: t.report() for k, t in rules.items()})
    _table(
        "shipped model (fit on all labelled articles, so optimistic here)",
        {k: t.report() for k, t in shipped.items()},
    )
    if options.errors:
        _errors(articles, analyses, models, gazetteer)

    print("\nbaseline quantulum3 (level 1 only):")
    quantulum: dict[str, Tally] = {"all": Tally()}
    started = time.perf_counter()
    for article in articles:
        preds = quantulum_facts(article.text)
        if preds is None:
            print("  quantulum3 is not installed (pip install quantulum3==0.10.0)")
            break
        quantulum.setdefault(article.source, Tally()).add(preds, article.labels, gazetteer)
        quantulum["all"].add(preds, article.labels, gazetteer)
    else:
        for note in QUANTULUM_NOTES[:1]:
            print(f"  note: {note}")
        for name, tally in quantulum.items():
            row = tally.report()["L1"]
            print(f"  {name:<22}L1     P {row['P']:.3f} R {row['R']:.3f} F1 {row['F1']:.3f}")
        print(f"  {1000 * (time.perf_counter() - started) / len(articles):.1f} ms per article")

    with open(SHARED / "corpus" / "articles.jsonl", encoding="utf-8") as handle:
        corpus = [json.loads(line)["text"] for line in handle]
    print()
    for with_parse in (shipped_parse, not shipped_parse):
        extractor = Extractor(parser if with_parse else None, models)
        extract_facts(corpus[0], gazetteer, extractor)
        started, cpu_started = time.perf_counter(), time.process_time()
        for text in corpus:
            extract_facts(text, gazetteer, extractor)
        elapsed = time.perf_counter() - started
        # CPU time as well as wall time: on a shared machine the wall clock counts others' work.
        cpu = time.process_time() - cpu_started
        print(
            f"extraction time {'with' if with_parse else 'without'} the parse"
            f"{' (shipped)' if with_parse == shipped_parse else ''}, whole corpus "
            f"({len(corpus)} articles, warm): {elapsed:.2f}s total, "
            f"{1000 * elapsed / len(corpus):.1f} ms per article wall, "
            f"{1000 * cpu / len(corpus):.1f} ms CPU"
        )
    print(f"\nmachine: {cpu_line()}; {platform.platform()}; Python {platform.python_version()}")


if __name__ == "__main__":
    main()
