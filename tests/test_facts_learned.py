"""Tests for the learned parts of ingest.facts: syntax features, candidates, the model file."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

import pytest

from ingest.errors import IngestError
from ingest.facts import extract_facts, load_extractor
from ingest.facts.candidates import guess_type, unknown_names
from ingest.facts.features import Candidate, candidate_features
from ingest.facts.metrics import find_cues
from ingest.facts.model import MODEL_PATH, load_models
from ingest.facts.parsing import load_parser, parse_sentences
from ingest.facts.pipeline import analyze
from ingest.facts.scoring import Tally
from ingest.facts.training import load_labelled
from ingest.gazetteer import gazetteer_from_json, load_gazetteer

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(scope="session")
def parser():
    return load_parser()


@pytest.fixture(scope="session")
def extractor():
    return load_extractor()


def _pair_features(parser, sentence: str, name: str, figure: str, **context) -> dict:
    """Features of (the figure written ``figure``, the name ``name``) in one sentence."""
    [parse] = parse_sentences(parser, [sentence])
    start = sentence.index(name)
    candidate = Candidate(name.casefold(), name, "company", True, 0, start, start + len(name))
    fig_start = sentence.index(figure)
    full = {"sentence": sentence, "counts": {}, **context}
    return candidate_features(
        candidate, 0, fig_start, fig_start + len(figure), "other", parse, full
    )


def test_passive_agent_is_marked(parser):
    sentence = "A 40% drop in reserves was reported by Norvale Partners on Friday."
    assert "agent_of_verb" in _pair_features(parser, sentence, "Norvale Partners", "40%")


def test_subject_of_the_governing_verb_is_marked(parser):
    sentence = "Quillstone lost $12 million when its bridge was drained."
    assert "subject_of_verb" in _pair_features(parser, sentence, "Quillstone", "$12 million")


def test_name_inside_an_appositive_is_marked(parser):
    sentence = "Quillstone, a lending protocol built on Ethereum, lost $12 million on Tuesday."
    assert "inside_appositive" in _pair_features(parser, sentence, "Ethereum", "$12 million")


def test_respectively_alignment_marks_the_matching_name(parser):
    sentence = "Aster and Borel recorded inflows of $5 million and $7 million, respectively."
    order = ("respectively", 1, {0: 0, sentence.index("Borel"): 1})
    matching = _pair_features(parser, sentence, "Borel", "$7 million", respectively=order)
    other = _pair_features(parser, sentence, "Aster", "$7 million", respectively=order)
    assert "respectively_match" in matching and "respectively_other" in other


def test_a_name_after_according_to_is_a_source(parser):
    sentence = "Outflows reached $80 million, according to data firm Tallyrand Metrics."
    features = _pair_features(parser, sentence, "Tallyrand Metrics", "$80 million")
    assert "source_context" in features


def test_unknown_proper_names_are_kept(parser):
    sentence = "Veltrano Protocol lost $3 million in an exploit."
    [parse] = parse_sentences(parser, [sentence])
    names = unknown_names(sentence, parse, [])
    assert [(m.name, m.type) for m in names] == [("Veltrano Protocol", "protocol")]


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("Foo Capital", "company"),
        ("Bar Protocol", "protocol"),
        ("Baz ETF", "fund"),
        ("Qux", "unknown"),
    ],
)
def test_unknown_names_are_typed_by_their_last_word(name, kind):
    assert guess_type(name) == kind


def test_spans_point_into_the_text(extractor):
    text = "Kelmor exchange saw $36 million in long liquidations. Funding was 0.01%."
    facts = extract_facts(text, load_gazetteer(), extractor)
    assert facts and all(text[f.start : f.end] == f.text for f in facts)
    assert [f.start for f in facts] == sorted(f.start for f in facts)


def test_the_gazetteer_passed_in_is_the_one_used(extractor):
    gazetteer = gazetteer_from_json(
        {"entities": [{"name": "Qorvex", "type": "exchange", "aliases": ["Qorvex"]}]}
    )
    before = [asdict(e) for e in gazetteer.entities]
    [fact] = extract_facts("Qorvex saw $36 million in long liquidations.", gazetteer, extractor)
    assert (fact.entity, fact.entity_type) == ("Qorvex", "exchange")
    assert [asdict(e) for e in gazetteer.entities] == before


def test_find_cues_gives_metric_and_span():
    text = "open interest climbed"
    [cue] = [c for c in find_cues(text) if c.metric == "open_interest"]
    assert text[cue.start : cue.end] == "open interest"


def test_a_missing_model_file_names_the_script(tmp_path):
    with pytest.raises(IngestError, match="ingest.facts.training"):
        load_models(tmp_path / "absent.json")


def test_a_model_file_without_manifest_is_refused(tmp_path):
    path = tmp_path / "model.json"
    data = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    data.pop("manifest")
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(IngestError, match="no manifest"):
        load_models(path)


def test_a_model_of_another_feature_version_is_refused(tmp_path):
    path = tmp_path / "model.json"
    data = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    data["manifest"]["feature_version"] = -1
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(IngestError, match="feature version"):
        load_models(path)


def test_the_shipped_model_was_fit_on_the_current_labelled_files():
    manifest = load_models().manifest
    for name, digest in manifest["trained_on"].items():
        current = hashlib.sha256((SHARED / "eval" / name).read_bytes()).hexdigest()
        assert current == digest, f"{name} changed; rerun python -m ingest.facts.training"


def test_labelled_articles_score_above_a_floor(extractor):
    gazetteer = load_gazetteer()
    tally = Tally()
    for article in load_labelled([SHARED / "eval" / "dev-facts-2.jsonl"]):
        preds = [f.to_dict() for f in extract_facts(article.text, gazetteer, extractor)]
        tally.add(preds, article.labels, gazetteer)
    report = tally.report()
    assert report["L1"]["F1"] >= 0.85 and report["L3"]["F1"] >= 0.5


def _figures(sentence: str) -> tuple:
    """The figures the extractor reads in ``sentence``, with their evidence."""
    return analyze(sentence, load_gazetteer()).figures


def test_a_list_of_names_pairs_in_order_with_a_list_of_figures():
    figures = _figures("Traders on Binance and Bybit lost $40 million and $25 million.")
    for rank, figure in enumerate(figures):
        mode, figure_rank, name_ranks = figure.context["respectively"]
        assert (mode, figure_rank) == ("parallel", rank)
        assert sorted(name_ranks.values()) == [0, 1]


def test_a_name_outside_the_list_does_not_make_it_parallel():
    # The data provider is named before the list, joined to it by words, not by "and".
    figures = _figures("Coinglass data shows that Binance lost $40 million and $25 million.")
    assert all(f.context["respectively"] is None for f in figures)


def test_market_in_a_measures_name_is_not_a_market_wide_word():
    [figure] = _figures("Solana's market cap reached $90 billion on Monday.")
    assert not figure.context["market_word"]


def test_a_possessive_name_before_the_figure_is_marked(parser):
    sentence = "Quillstone's reserves fell to $12 million."
    features = _pair_features(parser, sentence, "Quillstone", "$12 million")
    assert "possessive" in features and "possessive|same_clause" in features
