"""The ``kb`` command line: parse, ingest, extract, facts, search and their errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import SEED_PAGE, SHARED, copy_model_into

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
    text = "Binance recorded approximately $36 million in long liquidations in 24 hours."
    result = runner.invoke(main, ["extract", "-"], input=text.encode())
    assert result.exit_code == 0, result.output
    [record] = _lines(result.output)
    [fact] = record["facts"]
    assert fact["text"] == "approximately $36 million"
    assert (fact["value"], fact["entity"], fact["side"], fact["qualifier"]) == (
        36_000_000,
        "Binance",
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


def test_bad_option_values_are_usage_errors(runner, data_dir):
    result = runner.invoke(main, ["--data-dir", str(data_dir), "facts", "--metric", "weather"])
    assert result.exit_code != 0
    assert "metric must be one of" in result.output
