"""Answers over the shared corpus: short, dated, cited, and "I don't know" when it is silent."""

from __future__ import annotations

import json
import re
import shutil
from datetime import date
from pathlib import Path

import pytest

from ingest.gazetteer import load_gazetteer
from kb.answer import NOTHING_FOUND, answer_question, retrieve
from kb.answer.candidates import CANDIDATE_ARTICLES
from kb.answer.gold import contains, stated_values
from kb.answer.model import RANKER_PATH, TREES_NAME, feature_names, load_ranker
from kb.answer.question import read_question
from kb.errors import KbError
from kb.knowledge import KnowledgeBase
from kb.store import Filters

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
ROOT = Path(__file__).resolve().parents[1]


def _questions(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


SEED_QUESTIONS = _questions(SHARED / "eval" / "seed-questions.jsonl")
# A spread of shared questions of every type and style, read at run time.
SAMPLE = _questions(SHARED / "eval" / "dev-questions-2.jsonl")[::12]
OFF_TOPIC = [
    q
    for q in _questions(ROOT / "bench" / "data" / "absent-questions.jsonl")
    if q["category"] == "off-topic"
][:3]
_MARKER = re.compile(r"\[(\d+)\]")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


@pytest.fixture(scope="module")
def kb(built_kb_dir: Path, embedder) -> KnowledgeBase:
    """The session's built knowledge base, opened read-only by convention."""
    return KnowledgeBase(built_kb_dir, embedder=embedder)


@pytest.mark.parametrize("question", SEED_QUESTIONS, ids=[q["id"] for q in SEED_QUESTIONS])
def test_seed_question_answer_contains_expected_items(kb: KnowledgeBase, question: dict) -> None:
    answer = answer_question(kb, question["question"], k=10)
    for item in question["must_include"]:
        assert contains(answer.answer, item), (item, answer.answer)


@pytest.mark.parametrize("question", SEED_QUESTIONS + SAMPLE, ids=lambda q: q["id"])
def test_every_stated_figure_is_in_the_passage_it_cites(kb: KnowledgeBase, question: dict) -> None:
    answer = answer_question(kb, question["question"], k=5)
    citations = {c.n: c for c in answer.citations}
    for piece in re.split(r"(?<=\])\.?\s*", answer.answer):
        markers = [int(n) for n in _MARKER.findall(piece)]
        if not markers:
            continue
        passage = " ".join(citations[n].text for n in markers)
        for value, _ in stated_values(_DAY.sub("", _MARKER.sub("", piece))):
            assert any(
                abs(value - v) <= 0.005 * max(abs(v), 1e-9) for v, _ in stated_values(passage)
            ), (value, piece)


@pytest.mark.parametrize("question", SEED_QUESTIONS + SAMPLE, ids=lambda q: q["id"])
def test_answer_is_at_most_three_cited_sentences(kb: KnowledgeBase, question: dict) -> None:
    answer = answer_question(kb, question["question"], k=5)
    if answer.kind == "none":
        return
    assert 1 <= len(_MARKER.findall(answer.answer)) <= 3


@pytest.mark.parametrize("question", SEED_QUESTIONS + SAMPLE, ids=lambda q: q["id"])
def test_highlights_lie_inside_citation_text(kb: KnowledgeBase, question: dict) -> None:
    answer = answer_question(kb, question["question"], k=5)
    for citation in answer.citations:
        start, end = citation.highlight
        assert 0 <= start < end <= len(citation.text)


@pytest.mark.parametrize("question", SAMPLE, ids=lambda q: q["id"])
def test_a_dated_answer_states_its_date(kb: KnowledgeBase, question: dict) -> None:
    answer = answer_question(kb, question["question"], k=5)
    if answer.as_of is not None:
        assert answer.as_of in answer.answer
        date.fromisoformat(answer.as_of)


@pytest.mark.parametrize("question", OFF_TOPIC, ids=lambda q: q["id"])
def test_off_topic_question_gets_i_dont_know(kb: KnowledgeBase, question: dict) -> None:
    answer = answer_question(kb, question["question"])
    assert (answer.kind, answer.answer, answer.citations) == ("none", NOTHING_FOUND, [])


def test_a_named_month_brings_commentary_published_then_into_the_candidates(
    kb: KnowledgeBase,
) -> None:
    stored, _ = kb.store.list_articles(Filters(), limit=1000)
    dated = [s.article.published for s in stored if s.article.published]
    assert dated, "the shared corpus should hold dated articles"
    day = date.fromisoformat(dated[0][:10])
    question = f"What happened to bitcoin liquidations in {day.strftime('%B %Y')}?"
    intent = read_question(question, load_gazetteer(), date(2026, 12, 1))
    hits, timed = retrieve(kb, intent, 5, None)
    assert timed
    articles = list(dict.fromkeys(hit.article_id for hit in hits))[:CANDIDATE_ARTICLES]
    published = [kb.store.get_article(a).article.published or "" for a in articles]
    assert any(p[:7] == day.isoformat()[:7] for p in published)


def test_a_time_nothing_was_published_in_changes_nothing(kb: KnowledgeBase) -> None:
    intent = read_question("How were bitcoin liquidations in March 1999?", load_gazetteer())
    hits, timed = retrieve(kb, intent, 5, None)
    assert hits and not timed


def test_to_dict_has_the_api_fields(kb: KnowledgeBase) -> None:
    data = answer_question(kb, SEED_QUESTIONS[6]["question"], k=5).to_dict()
    assert set(data) == {
        "question",
        "answer",
        "kind",
        "as_of",
        "confidence",
        "facts",
        "earlier",
        "citations",
    }
    citation_fields = {
        "n",
        "passage_id",
        "article_id",
        "url",
        "title",
        "source",
        "published",
        "text",
        "start",
        "end",
        "highlight",
        "score",
    }
    assert all(set(c) == citation_fields for c in data["citations"])
    assert all("citation" in f for f in data["facts"])


def test_the_shipped_ranker_records_what_it_was_fit_on() -> None:
    ranker = load_ranker(feature_names())
    fit_on = ranker.manifest["fit_on"]
    assert {"dev-questions.jsonl", "dev-questions-2.jsonl", "seed-questions.jsonl"} <= set(fit_on)
    assert all(re.fullmatch(r"[0-9a-f]{64}", digest) for digest in fit_on.values())
    assert ranker.manifest["cross_validated"]["folds"] == 5


def test_a_missing_ranker_names_the_script_that_rebuilds_it(tmp_path: Path) -> None:
    with pytest.raises(KbError, match="python -m kb.answer.training"):
        load_ranker(feature_names(), tmp_path / "ranker.json")


def test_a_ranker_fit_on_other_features_is_refused(tmp_path: Path) -> None:
    shutil.copy(RANKER_PATH.parent / TREES_NAME, tmp_path / TREES_NAME)
    data = json.loads(RANKER_PATH.read_text(encoding="utf-8"))
    data["models"]["facts"]["features"] = ["something_else"]
    (tmp_path / "ranker.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(KbError, match="other facts features"):
        load_ranker(feature_names(), tmp_path / "ranker.json")


def test_changed_trees_are_refused(tmp_path: Path) -> None:
    shutil.copy(RANKER_PATH, tmp_path / "ranker.json")
    (tmp_path / TREES_NAME).write_text("tree\n", encoding="utf-8")
    with pytest.raises(KbError, match="does not match the hash"):
        load_ranker(feature_names(), tmp_path / "ranker.json")
