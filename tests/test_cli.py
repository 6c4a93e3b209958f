"""The ``kb`` command line: parse, ingest, extract, facts, search and their errors."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import SEED_PAGE, SHARED, copy_data_dir, copy_model_into

from cli.main import main


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def _lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_help_explains_every_command(runner):
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in (
        "ingest",
        "parse",
        "extract",
        "facts",
        "search",
        "related",
        "reindex",
        "delete",
        "stats",
        "check",
        "serve",
    ):
        assert command in result.output
        sub = runner.invoke(main, [command, "--help"])
        assert sub.exit_code == 0 and "Usage:" in sub.output


def test_parse_prints_one_json_object_per_article_in_input_order(runner):
    result = runner.invoke(
        main, ["parse", str(SEED_PAGE), str(SHARED / "corpus" / "articles.jsonl")]
    )
    assert result.exit_code == 0, result.output
    records = _lines(result.output)
    assert len(records) == 372
    assert records[0]["title"].startswith("Crypto traders brace")
    for field in (
        "id",
        "url",
        "title",
        "source",
        "author",
        "published",
        "updated",
        "language",
        "body",
        "qa",
        "related",
    ):
        assert field in records[0]
    assert records[1]["id"] == "01d853bf483e"


def test_parse_reports_bad_items_and_exits_non_zero(runner, tmp_path):
    empty = tmp_path / "empty.html"
    empty.write_bytes(b"")
    result = runner.invoke(main, ["parse", str(empty), str(SEED_PAGE)])
    assert result.exit_code == 1
    records = _lines(result.output)
    assert records[0]["error"] and records[1]["title"].startswith("Crypto traders")


def test_extract_reads_stdin(runner):
    text = "Over the day, Kraken saw approximately $36 million of long positions liquidated."
    result = runner.invoke(main, ["extract", "-"], input=text.encode())
    assert result.exit_code == 0, result.output
    [record] = _lines(result.output)
    [fact] = record["facts"]
    assert fact["text"] == "approximately $36 million"
    assert (fact["value"], fact["entity"], fact["side"], fact["qualifier"]) == (
        36_000_000,
        "Kraken",
        "long",
        "approx",
    )


def test_extract_of_a_missing_file_is_a_clean_error(runner):
    result = runner.invoke(main, ["extract", "/no/such/file.txt"])
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert "no such file" in result.output


@pytest.fixture
def data_dir(tmp_path, model_data_dir) -> Path:
    copy_model_into(model_data_dir, tmp_path / "data")
    return tmp_path / "data"


def test_ingest_summarises_and_reingest_is_unchanged(runner, data_dir, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    args = ["--data-dir", str(data_dir), "ingest", "-q", str(SEED_PAGE), str(empty)]
    first = runner.invoke(main, args)
    assert first.exit_code == 0, first.output
    assert "1 new, 0 updated, 0 unchanged, 0 duplicate, 1 failed" in first.output
    assert "empty" in first.output
    second = runner.invoke(main, args)
    assert "0 new, 0 updated, 1 unchanged" in second.output

    facts = runner.invoke(
        main,
        [
            "--data-dir",
            str(data_dir),
            "facts",
            "--entity",
            "Hyperliquid",
            "--metric",
            "liquidations",
        ],
    )
    assert facts.exit_code == 0
    assert any(f["value"] == 59_000_000 for f in _lines(facts.output))

    found = runner.invoke(
        main, ["--data-dir", str(data_dir), "search", "Hyperliquid longs", "-k", "1"]
    )
    assert _lines(found.output)[0]["title"].startswith("Crypto traders brace")


def test_ingest_exits_non_zero_when_nothing_could_be_ingested(runner, data_dir, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    result = runner.invoke(main, ["--data-dir", str(data_dir), "ingest", "-q", str(empty)])
    assert result.exit_code == 1
    assert "1 failed" in result.output


@pytest.fixture
def checked_dir(runner, data_dir) -> Path:
    """A data directory holding the seed page, checked clean."""
    result = runner.invoke(main, ["--data-dir", str(data_dir), "ingest", "-q", str(SEED_PAGE)])
    assert result.exit_code == 0, result.output
    return data_dir


def test_check_of_a_sound_directory_reports_counts_and_exits_zero(runner, checked_dir):
    result = runner.invoke(main, ["--data-dir", str(checked_dir), "check"])
    assert result.exit_code == 0, result.output
    (summary,) = _lines(result.output)
    assert summary["problems"] == 0
    assert summary["passage_vectors"] == summary["passages"] > 0
    assert summary["article_vectors"] == summary["articles"] == 1


def test_check_finds_a_lost_index_and_a_torn_fulltext_without_repairing(runner, checked_dir):
    with sqlite3.connect(checked_dir / "kb.sqlite3") as db:
        row = db.execute("SELECT id, text FROM passages LIMIT 1").fetchone()
        db.execute(
            "INSERT INTO passages_fts(passages_fts, rowid, text) VALUES('delete', ?, ?)", row
        )
    (checked_dir / "passages.faiss").unlink()
    for _ in range(2):  # checking changes nothing, so a second check finds the same
        result = runner.invoke(main, ["--data-dir", str(checked_dir), "check"])
        assert result.exit_code == 1
        assert "full-text index is out of step" in result.output
        assert "stored passages have no vector" in result.output


def test_check_repair_fixes_what_it_found(runner, checked_dir):
    (checked_dir / "articles.faiss").unlink()
    repaired = runner.invoke(main, ["--data-dir", str(checked_dir), "check", "--repair"])
    assert repaired.exit_code == 0, repaired.output
    assert "repairing" in repaired.output and _lines(repaired.output)[-1]["problems"] == 0
    again = runner.invoke(main, ["--data-dir", str(checked_dir), "check"])
    assert again.exit_code == 0, again.output


def test_facts_series_prints_the_seed_figures_by_day(runner, checked_dir):
    from conftest import SEED_PAGE as seed

    result = runner.invoke(
        main,
        [
            "--data-dir",
            str(checked_dir),
            "facts",
            "--series",
            "--entity",
            "Hyperliquid",
            "--metric",
            "liquidations",
            "--side",
            "long",
        ],
    )
    assert result.exit_code == 0, result.output
    header, columns, *rows = result.output.splitlines()
    assert header.startswith("Hyperliquid long liquidations: ")
    assert columns.split() == ["day", "figure", "unit", "side", "window", "source"]
    # Every row is a figure the seed page states, on a day of the page's date (or one it names).
    page = seed.read_text(encoding="utf-8")
    figure_rows = [row for row in rows if row[:4].isdigit()]
    assert figure_rows
    for row in figure_rows:
        day, figure = row.split()[0], row.split("  ")[1].strip()
        assert day.startswith("2026-01-"), row
        assert figure in page, row
    as_json = runner.invoke(
        main,
        ["--data-dir", str(checked_dir), "facts", "--series", "--entity", "Hyperliquid"]
        + ["--metric", "liquidations", "--json"],
    )
    (series,) = _lines(as_json.output)
    assert series["entity"] == "Hyperliquid" and series["count"] >= len(figure_rows)


def test_facts_series_needs_an_entity_and_a_metric(runner, data_dir):
    result = runner.invoke(main, ["--data-dir", str(data_dir), "facts", "--series"])
    assert result.exit_code == 2
    assert "--series needs --entity and --metric" in result.output


def test_bad_option_values_are_usage_errors(runner, data_dir):
    result = runner.invoke(main, ["--data-dir", str(data_dir), "facts", "--metric", "weather"])
    assert result.exit_code != 0
    assert "metric must be one of" in result.output


# -- kb ask ------------------------------------------------------------------------------------


def _made_up_answer(kind: str = "figure"):
    from kb.answer import Answer, Citation

    citation = Citation(
        n=1,
        passage_id=7,
        article_id="a1",
        url="https://example.com/desk-notes",
        title="Desk notes: funding resets",
        source="Example Wire",
        published="2031-04-02T09:00:00",
        text="Perpetual funding on Examplecoin reset to 0.01% overnight.",
        start=0,
        end=58,
        highlight=[0, 58],
        score=0.9,
    )
    untitled = Citation(2, 8, "a2", None, "", None, None, "Some text.", 0, 10, [0, 10], 0.5)
    if kind == "none":
        return Answer("q", "I found nothing that answers this.", "none")
    return Answer(
        "q", "Funding reset to 0.01% [1].", kind, citations=[citation, untitled], as_of="2031-04-02"
    )


@pytest.fixture
def stub_answers(monkeypatch):
    """``kb ask`` over a made-up answer, recording what it was asked; no data or model needed."""
    # The API binds the real answerer at import: import it first, or it would keep the stub.
    import api.answer_cache  # noqa: F401
    import kb.answer

    calls: list[dict] = []
    answer = {"value": _made_up_answer()}

    def fake_answer(kb, question, k=5, filters=None, **_):
        calls.append({"question": question, "k": k, "filters": filters})
        return answer["value"]

    monkeypatch.setattr("cli.main.open_kb", lambda settings, must_exist=False: object())
    monkeypatch.setattr(kb.answer, "answer_question", fake_answer)
    return calls, answer


def test_help_lists_ask(runner):
    assert "ask" in runner.invoke(main, ["--help"]).output
    assert "--json" in runner.invoke(main, ["ask", "--help"]).output


def test_ask_prints_the_answer_its_date_and_numbered_citations(runner, stub_answers):
    result = runner.invoke(main, ["ask", "What did funding do?"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Funding reset to 0.01% [1]."
    assert lines[1] == "as of 2031-04-02"
    assert lines[3] == (
        "[1] Desk notes: funding resets — Example Wire, 2031-04-02 — https://example.com/desk-notes"
    )
    assert lines[4] == "[2] (untitled) — undated"


def test_ask_json_prints_the_answer_as_the_api_shapes_it(runner, stub_answers):
    result = runner.invoke(main, ["ask", "What did funding do?", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == json.loads(
        json.dumps(_made_up_answer().to_dict(), default=str)
    )


def test_ask_passes_k_and_the_filters_on(runner, stub_answers):
    calls, _ = stub_answers
    args = [
        "ask",
        "  What   did funding do? ",
        "-k",
        "3",
        "--since",
        "2031-01-01",
        "--until",
        "2031-12-31T12:00:00Z",
        "--source",
        " Example Wire ",
    ]
    assert runner.invoke(main, args).exit_code == 0
    [call] = calls
    assert call["question"] == "What did funding do?"
    assert call["k"] == 3
    filters = call["filters"]
    assert (filters.since, filters.until, filters.source) == (
        "2031-01-01",
        "2031-12-31T12:00:00+00:00",
        "Example Wire",
    )


def test_ask_names_the_command_listing_the_other_dated_figures(runner, stub_answers):
    _, answer = stub_answers
    answer["value"].earlier = {
        "count": 3,
        "earlier": 2,
        "later": 1,
        "url": "/api/facts?entity=Examplecoin&metric=funding_rate",
    }
    result = runner.invoke(main, ["ask", "What did funding do?"])
    assert result.output.splitlines()[2] == (
        "3 other dated figures (2 earlier): kb facts --entity Examplecoin --metric funding_rate"
    )


def test_ask_with_no_answer_prints_it_and_exits_zero(runner, stub_answers):
    _, answer = stub_answers
    answer["value"] = _made_up_answer("none")
    result = runner.invoke(main, ["ask", "Who won the cooking contest?"])
    assert result.exit_code == 0
    assert result.output.splitlines() == ["I found nothing that answers this.", "undated"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ask", ""], "must not be empty"),
        (["ask", "   "], "must not be empty"),
        (["ask", "x" * 1001], "at most 1000 characters"),
        (["ask", "funding?", "-k", "0"], "from 1 to 50"),
        (["ask", "funding?", "-k", "51"], "from 1 to 50"),
        (["ask", "funding?", "-k", "many"], "many"),
        (["ask", "funding?", "--since", "2031-13-01"], "YYYY-MM-DD"),
        (["ask", "funding?", "--until", "last tuesday"], "YYYY-MM-DD"),
        (["ask", "funding?", "--since", "2031-05-01", "--until", "2031-04-01"], "is after"),
        (["ask", "funding?", "--source", "s" * 201], "at most 200 characters"),
    ],
)
def test_bad_ask_arguments_are_usage_errors(runner, stub_answers, args, message):
    calls, _ = stub_answers
    result = runner.invoke(main, args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert calls == []


def test_ask_without_stored_data_is_a_clean_error(runner, tmp_path):
    result = runner.invoke(main, ["--data-dir", str(tmp_path / "empty"), "ask", "funding?"])
    assert result.exit_code == 1
    assert "no marketkb data" in result.output
    assert "Traceback" not in result.output


def _first_seed_question() -> str:
    lines = (SHARED / "eval" / "seed-questions.jsonl").read_text(encoding="utf-8").splitlines()
    return json.loads(lines[0])["question"]


@pytest.fixture(scope="module")
def asked_kb_dir(built_kb_dir, tmp_path_factory) -> Path:
    return copy_data_dir(built_kb_dir, tmp_path_factory.mktemp("ask") / "data")


@pytest.mark.slow
def test_ask_json_is_exactly_what_api_ask_returns(runner, asked_kb_dir, embedder):
    from api import create_app
    from kb.knowledge import KnowledgeBase

    question = _first_seed_question()
    kb = KnowledgeBase(asked_kb_dir, embedder=embedder)
    client = create_app({"data_dir": str(asked_kb_dir), "kb": kb}).test_client()
    api = client.get("/api/ask", query_string={"q": question, "k": 3})
    assert api.status_code == 200
    result = runner.invoke(
        main, ["--data-dir", str(asked_kb_dir), "ask", question, "-k", "3", "--json"]
    )
    assert result.exit_code == 0, result.output
    # The CLI opens its own model, whose encoding path is chosen by timing at first use, so
    # scores may differ in their last digits; everything else is the same JSON.
    assert _rounded(json.loads(result.stdout)) == _rounded(api.get_json())


def _rounded(data):
    """JSON data with every float rounded to two places."""
    if isinstance(data, float):
        return round(data, 2)
    if isinstance(data, dict):
        return {key: _rounded(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_rounded(value) for value in data]
    return data


@pytest.mark.slow
def test_ask_over_real_data_cites_what_it_answers_from(runner, asked_kb_dir):
    question = _first_seed_question()
    result = runner.invoke(main, ["--data-dir", str(asked_kb_dir), "ask", question])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[1].startswith("as of ") or lines[1] == "undated"
    citations = lines[lines.index("") + 1 :]
    assert citations and citations[0].startswith("[1] ")
    assert all(line.startswith(f"[{n}] ") for n, line in enumerate(citations, start=1))
