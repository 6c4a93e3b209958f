"""``kb serve``: the CLI command, the sample corpus on first start, and the request log."""

from __future__ import annotations

import json
import logging
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import copy_model_into, start_server, stop_server, wait_until_healthy

from api.serve import SAMPLE_CORPUS, RequestLog
from cli.main import main

SAMPLE_ARTICLES = sum(1 for line in SAMPLE_CORPUS.read_text().splitlines() if line.strip())


def test_serve_help_documents_host_and_port() -> None:
    result = CliRunner().invoke(main, ["serve", "--help"])
    assert result.exit_code == 0
    assert "--host" in result.output and "--port" in result.output
    assert "KB_NO_SAMPLE" in result.output


def test_serve_rejects_a_port_out_of_range() -> None:
    result = CliRunner().invoke(main, ["serve", "--port", "70000"])
    assert result.exit_code == 2
    assert "70000" in result.output


def test_request_log_has_method_path_status_and_ms_only(caplog: pytest.LogCaptureFixture) -> None:
    def app(environ: dict, start_response: object) -> list[bytes]:
        start_response("404 NOT FOUND", [("Content-Type", "text/plain")])
        return [b"no"]

    environ = {
        "REQUEST_METHOD": "DELETE",
        "PATH_INFO": "/api/articles/abc",
        "QUERY_STRING": "q=private+words",
        "HTTP_AUTHORIZATION": "Bearer s3cret",
    }
    with caplog.at_level(logging.INFO, logger="marketkb.requests"):
        body = RequestLog(app)(environ, lambda status, headers, exc_info=None: None)
    assert body == [b"no"]
    [record] = caplog.records
    assert re.fullmatch(r"DELETE /api/articles/abc 404 \d+\.\dms", record.getMessage())
    assert "s3cret" not in caplog.text and "private" not in caplog.text


def test_request_log_records_a_crash_as_unanswered(caplog: pytest.LogCaptureFixture) -> None:
    def app(environ: dict, start_response: object) -> list[bytes]:
        raise RuntimeError("boom")

    with caplog.at_level(logging.INFO, logger="marketkb.requests"), pytest.raises(RuntimeError):
        RequestLog(app)({"REQUEST_METHOD": "GET", "PATH_INFO": "/x"}, lambda *a: None)
    assert re.fullmatch(r"GET /x - \d+\.\dms", caplog.records[0].getMessage())


@pytest.fixture(scope="module")
def fresh_servers(
    model_data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, tuple[str, Path]]]:
    """Two servers on empty data directories, started together: with and without the sample."""
    started = {}
    try:
        for name, no_sample in (("sample", ""), ("no_sample", "1")):
            work = tmp_path_factory.mktemp(f"serve-{name}")
            copy_model_into(model_data_dir, work / "data")
            log_path = work / "server.log"
            env = {"KB_NO_SAMPLE": no_sample, "KB_API_TOKEN": ""}
            process, port = start_server(work / "data", log_path, env)
            started[name] = (process, f"http://127.0.0.1:{port}", log_path)
        for process, url, log_path in started.values():
            wait_until_healthy(process, url, log_path)
        yield {name: (url, log_path) for name, (_, url, log_path) in started.items()}
    finally:
        for process, _, _ in started.values():
            stop_server(process)


def health(url: str) -> dict:
    with urllib.request.urlopen(url + "/api/health", timeout=10) as response:
        return json.load(response)


@pytest.mark.slow
def test_empty_data_dir_is_seeded_with_the_sample_corpus(fresh_servers: dict) -> None:
    url, log_path = fresh_servers["sample"]
    assert health(url)["articles"] == SAMPLE_ARTICLES
    assert f"marketkb serving {SAMPLE_ARTICLES} articles on {url}/" in log_path.read_text()


@pytest.mark.slow
def test_no_sample_leaves_the_data_dir_empty(fresh_servers: dict) -> None:
    url, log_path = fresh_servers["no_sample"]
    assert health(url)["articles"] == 0
    assert f"marketkb serving 0 articles on {url}/" in log_path.read_text()


@pytest.mark.slow
def test_each_request_is_logged_once(fresh_servers: dict) -> None:
    url, log_path = fresh_servers["no_sample"]
    before = log_path.read_text().count("GET /api/health 200")
    health(url)
    assert log_path.read_text().count("GET /api/health 200") == before + 1
