"""The JSON API end to end: the real app under waitress on 127.0.0.1 with the real model.

Every test talks HTTP to the session's ``live_server`` (a ``kb serve`` subprocess over the shared
corpus and the seed page). Tests that write use articles they make themselves, so the order of the
tests does not matter.
"""

from __future__ import annotations

import gzip
import http.client
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest
from conftest import SEED_PAGE, SHARED, LiveServer
from support.http_server import LocalServer, Route

pytestmark = pytest.mark.slow

SEED_QUESTIONS = [
    json.loads(line)
    for line in (SHARED / "eval" / "seed-questions.jsonl").read_text().splitlines()
    if line
]
DEV_QUESTIONS = [
    json.loads(line)
    for line in (SHARED / "eval" / "dev-questions.jsonl").read_text().splitlines()
    if line
]
PROBLEM_KEYS = {"type", "title", "status", "detail"}


@dataclass
class Reply:
    """One HTTP answer."""

    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def data(self) -> object:
        return json.loads(self.body)

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")


def call(
    server: LiveServer,
    method: str,
    path: str,
    *,
    json_body: object = None,
    body: bytes | None = None,
    content_type: str | None = None,
    token: str | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 120,
) -> Reply:
    """Send one request to the live server."""
    sent = dict(headers or {})
    if json_body is not None:
        body = json.dumps(json_body).encode()
        content_type = content_type or "application/json"
    if content_type:
        sent["Content-Type"] = content_type
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    connection = http.client.HTTPConnection(server.host, server.port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=sent)
        response = connection.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        connection.close()


def get(server: LiveServer, path: str, **params: object) -> Reply:
    """GET ``path`` with query parameters."""
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return call(server, "GET", f"{path}?{query}" if query else path)


def multipart(files: list[tuple[str, str, bytes]]) -> tuple[bytes, str]:
    """A multipart/form-data body of (field, filename, content) parts and its content type."""
    boundary = uuid.uuid4().hex
    parts = []
    for field, filename, content in files:
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '
            f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
            + content
            + b"\r\n"
        )
    return b"".join(
        parts
    ) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def upload(server: LiveServer, files: list[tuple[str, str, bytes]]) -> Reply:
    """POST ``files`` to /api/ingest as a multipart upload, with the token."""
    body, content_type = multipart(files)
    return call(
        server, "POST", "/api/ingest", body=body, content_type=content_type, token=server.token
    )


def ingest_records(server: LiveServer, records: list) -> Reply:
    """POST ``records`` to /api/ingest as {"articles": records}, with the token."""
    return call(server, "POST", "/api/ingest", json_body={"articles": records}, token=server.token)


def assert_problem(reply: Reply, status: int, detail_part: str = "") -> dict:
    """Check an error reply is problem+json with the given status and a useful detail."""
    assert reply.status == status, reply.body[:500]
    assert reply.content_type.startswith("application/problem+json"), reply.content_type
    data = reply.data
    assert set(data) >= PROBLEM_KEYS, data
    assert data["status"] == status
    assert data["detail"].strip()
    assert "Traceback" not in reply.body.decode()
    assert detail_part.lower() in data["detail"].lower(), data["detail"]
    return data


def made_up_article(tag: str, n: int = 0) -> dict[str, str]:
    """An article written for these tests (no shared corpus text), unique per ``tag``."""
    return {
        "url": f"https://example.test/{tag}/{n}",
        "title": f"Test digest {tag} {n}",
        "published": f"2031-03-0{1 + n % 9}",
        "source": "marketkb tests",
        "text": (
            f"Traders on Zeltrax exchange lost track of {tag} item {n}. "
            f"Bybit recorded about ${40 + n} million in long liquidations over 24 hours, "
            f"while OKX saw nearly ${12 + n} million in short liquidations. "
            "Analysts said the funding rate stayed positive at 0.01% through the session."
        ),
    }


_FIGURE = re.compile(
    r"(\d[\d,]*(?:\.\d+)?)\s*(trillion|billion|million|thousand|tn|bn|[tbmk])?\b", re.IGNORECASE
)
_SCALE = {
    "trillion": 1e12,
    "tn": 1e12,
    "t": 1e12,
    "billion": 1e9,
    "bn": 1e9,
    "b": 1e9,
    "million": 1e6,
    "m": 1e6,
    "thousand": 1e3,
    "k": 1e3,
}


def states_figure(text: str, value: float) -> bool:
    """Whether ``text`` states ``value`` within 0.5% in a usual notation ($59 million, $59M)."""
    for match in _FIGURE.finditer(text):
        number = float(match.group(1).replace(",", ""))
        number *= _SCALE.get((match.group(2) or "").lower(), 1)
        if value and abs(number - value) <= 0.005 * abs(value):
            return True
    return False


# -- health and openapi -------------------------------------------------------------------


def test_health_counts_the_built_store(live_server: LiveServer) -> None:
    reply = get(live_server, "/api/health")
    assert reply.status == 200
    data = reply.data
    assert data["status"] == "ok"
    assert data["articles"] >= 300
    assert data["passages"] >= data["articles"]
    assert data["facts"] > 0
    assert data["passage_vectors"] == data["passages"]
    assert data["article_vectors"] == data["articles"]


def test_openapi_document_describes_every_route(live_server: LiveServer, tmp_path: Path) -> None:
    from api import create_app

    document = get(live_server, "/api/openapi.json").data
    assert document["openapi"].startswith("3.")
    app = create_app({"data_dir": str(tmp_path)})
    routes = [rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/")]
    assert len(routes) >= 8
    for rule in routes:
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        assert path in document["paths"], f"{path} is missing from the OpenAPI document"
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            operation = document["paths"][path].get(method.lower())
            assert operation, f"{method} {path} is missing from the OpenAPI document"
            assert "200" in operation["responses"]
            assert operation["summary"]


def test_openapi_document_never_names_the_host_a_client_sent(live_server: LiveServer) -> None:
    reply = call(live_server, "GET", "/api/openapi.json", headers={"Host": "attacker.example"})
    assert reply.data["servers"] == [{"url": "/"}]
    assert "attacker.example" not in reply.body.decode()


def test_every_reply_forbids_framing_and_sniffing(live_server: LiveServer) -> None:
    for path in ("/", "/api/health", "/api/no-such-endpoint"):
        headers = call(live_server, "GET", path).headers
        assert headers["X-Frame-Options"] == "DENY", path
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert headers["Referrer-Policy"], path


def test_html_pages_carry_a_strict_content_policy(live_server: LiveServer) -> None:
    policy = call(live_server, "GET", "/").headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy


# -- error shape ------------------------------------------------------------------------------

BAD_REQUESTS = [
    ("/api/ask", {}, 400, "q is required"),
    ("/api/ask", {"q": "   "}, 400, "q is required"),
    ("/api/ask", {"q": "x" * 1001}, 400, "at most 1000"),
    ("/api/ask", {"q": "bitcoin", "k": "abc"}, 400, "k must be an integer from 1 to 50"),
    ("/api/ask", {"q": "bitcoin", "k": "0"}, 400, "from 1 to 50"),
    ("/api/ask", {"q": "bitcoin", "k": "51"}, 400, "from 1 to 50"),
    ("/api/ask", {"q": "bitcoin", "k": "2.5"}, 400, "integer"),
    ("/api/ask", {"q": "bitcoin", "since": "2024-13-01"}, 400, "YYYY-MM-DD"),
    ("/api/ask", {"q": "bitcoin", "until": "yesterday"}, 400, "ISO 8601"),
    ("/api/ask", {"q": "bitcoin", "since": "2025-02-01", "until": "2025-01-01"}, 400, "after"),
    ("/api/articles", {"page": "0"}, 400, "page must be an integer"),
    ("/api/articles", {"page": "two"}, 400, "page must be an integer"),
    ("/api/articles", {"per_page": "101"}, 400, "per_page must be an integer from 1 to 100"),
    ("/api/articles", {"since": "31/12/2024"}, 400, "YYYY-MM-DD"),
    ("/api/facts", {"group_by": "source"}, 400, "group_by must be one of entity"),
    ("/api/facts", {"metric": "vibes"}, 400, "metric must be one of liquidations"),
    ("/api/facts", {"side": "up"}, 400, "side must be one of long, short"),
    ("/api/facts", {"direction": "sideways"}, 400, "direction must be one of"),
    ("/api/facts", {"window": "3 weeks"}, 400, "window must be a number and a unit"),
    ("/api/facts", {"limit": "-1"}, 400, "limit must be an integer"),
    ("/api/facts/series", {"metric": "liquidations"}, 400, "entity is required"),
    ("/api/facts/series", {"entity": "Bybit"}, 400, "metric is required"),
    ("/api/facts/series", {"entity": "Bybit", "metric": "vibes"}, 400, "metric must be one of"),
    ("/api/facts/series", {"entity": "Bybit", "metric": "price", "since": "May"}, 400, "YYYY"),
    (
        "/api/facts/series",
        {"entity": "Bybit", "metric": "price", "since": "2025-02-01", "until": "2025-01-01"},
        400,
        "after",
    ),
    ("/api/articles/ffffffffffff", {}, 404, "no article with id"),
    ("/api/articles/ffffffffffff/related", {}, 404, "no article with id"),
    ("/api/no-such-endpoint", {}, 404, "not found"),
]


@pytest.mark.parametrize(
    ("path", "params", "status", "detail"),
    BAD_REQUESTS,
    ids=[f"{p}-{'-'.join(q)}" for p, q, _, _ in BAD_REQUESTS],
)
def test_bad_request_is_problem_json(
    live_server: LiveServer, path: str, params: dict, status: int, detail: str
) -> None:
    assert_problem(get(live_server, path, **params), status, detail)


def test_related_rejects_k_out_of_range(live_server: LiveServer) -> None:
    article_id = get(live_server, "/api/articles", per_page=1).data["articles"][0]["id"]
    assert_problem(get(live_server, f"/api/articles/{article_id}/related", k=99), 400, "k must")


def test_wrong_method_is_problem_json(live_server: LiveServer) -> None:
    reply = call(live_server, "POST", "/api/health")
    assert_problem(reply, 405)
    assert "GET" in reply.headers["Allow"]


BAD_BODIES = [
    ("/api/extract", b'{"text": "unterminated', "application/json", 400, "not valid JSON"),
    ("/api/extract", b'["text"]', "application/json", 400, "must be a JSON object"),
    ("/api/extract", b"[" * 200_000, "application/json", 400, "nested too deeply"),
    (
        "/api/extract",
        b'{"text": "' + b"a" * 200_001 + b'"}',
        "application/json",
        413,
        "at most 200,000 characters",
    ),
    (
        "/api/extract",
        b'{"text": "a", "html": "<p>b</p>"}',
        "application/json",
        400,
        "exactly one of",
    ),
    ("/api/extract", b'{"text": ""}', "application/json", 400, "non-empty string"),
    ("/api/extract", b'{"text": 5}', "application/json", 400, "non-empty string"),
    ("/api/extract", b"some text", "text/plain", 415, "application/json"),
    (
        "/api/extract",
        b'{"url": "ftp://example.com/a"}',
        "application/json",
        400,
        "http or https URL",
    ),
    ("/api/ingest", b'{"articles": [1, 2', "application/json", 400, "not valid JSON"),
    ("/api/ingest", b"{}", "application/json", 400, "exactly one of 'articles'"),
    ("/api/ingest", b'{"articles": "abc"}', "application/json", 400, "must be a list"),
    ("/api/ingest", b'{"articles": []}', "application/json", 400, "must be a list of 1"),
    ("/api/ingest", b'{"urls": ["/etc/passwd"]}', "application/json", 400, "'urls[0]' must be"),
    (
        "/api/ingest",
        b'{"urls": ["https://example.test/", 7]}',
        "application/json",
        400,
        "'urls[1]' must be an http or https URL",
    ),
    ("/api/ingest", b"url=x", "application/x-www-form-urlencoded", 415, "application/json"),
]


@pytest.mark.parametrize(
    ("path", "body", "content_type", "status", "detail"),
    BAD_BODIES,
    ids=[f"{p}-{i}" for i, (p, *_rest) in enumerate(BAD_BODIES)],
)
def test_bad_body_is_problem_json(
    live_server: LiveServer, path: str, body: bytes, content_type: str, status: int, detail: str
) -> None:
    reply = call(
        live_server, "POST", path, body=body, content_type=content_type, token=live_server.token
    )
    assert_problem(reply, status, detail)


def test_body_over_10_mb_is_refused_with_413(live_server: LiveServer) -> None:
    body = json.dumps({"text": "x" * (10 * 1024 * 1024 + 10)}).encode()
    assert_problem(
        call(live_server, "POST", "/api/extract", body=body, content_type="application/json"), 413
    )


def test_multipart_without_file_parts_is_refused(live_server: LiveServer) -> None:
    reply = upload(live_server, [("other", "a.html", b"<p>x</p>")])
    assert_problem(reply, 400, "named 'file'")


# -- auth -------------------------------------------------------------------------------------

WRITES = [("POST", "/api/ingest"), ("DELETE", "/api/articles/ffffffffffff")]


@pytest.mark.parametrize(("method", "path"), WRITES)
def test_write_without_token_is_401(live_server: LiveServer, method: str, path: str) -> None:
    assert_problem(call(live_server, method, path, json_body={"urls": []}), 401, "Bearer")


@pytest.mark.parametrize(("method", "path"), WRITES)
def test_write_with_other_scheme_is_401(live_server: LiveServer, method: str, path: str) -> None:
    reply = call(
        live_server,
        method,
        path,
        json_body={"urls": []},
        headers={"Authorization": f"Basic {live_server.token}"},
    )
    assert_problem(reply, 401)


@pytest.mark.parametrize(("method", "path"), WRITES)
def test_write_with_wrong_token_is_403(live_server: LiveServer, method: str, path: str) -> None:
    reply = call(live_server, method, path, json_body={"urls": []}, token="not-the-token")
    assert_problem(reply, 403, "not valid")


def test_write_with_token_passes_auth(live_server: LiveServer) -> None:
    # Past the auth check the unknown id is what fails.
    reply = call(live_server, "DELETE", "/api/articles/ffffffffffff", token=live_server.token)
    assert_problem(reply, 404, "no article")


def test_writes_are_disabled_without_a_configured_token(tmp_path: Path) -> None:
    from api import create_app

    client = create_app({"data_dir": str(tmp_path), "api_token": None}).test_client()
    reply = client.post(
        "/api/ingest",
        json={"articles": [made_up_article("off")]},
        headers={"Authorization": "Bearer anything"},
    )
    assert reply.status_code == 403
    assert reply.mimetype == "application/problem+json"
    assert "writes are disabled until KB_API_TOKEN is set" in reply.get_json()["detail"]


# -- ask --------------------------------------------------------------------------------------


def ask(server: LiveServer, question: str, **params: object) -> dict:
    reply = get(server, "/api/ask", q=question, **params)
    assert reply.status == 200, reply.body[:500]
    return reply.data


@pytest.mark.parametrize("item", SEED_QUESTIONS, ids=[q["id"] for q in SEED_QUESTIONS])
def test_seed_question_is_answered_correctly(live_server: LiveServer, item: dict) -> None:
    answer = ask(live_server, item["question"])
    for must in item["must_include"]:
        if "text" in must:
            assert must["text"].lower() in answer["answer"].lower(), answer["answer"]
        else:
            assert states_figure(answer["answer"], must["value"]), answer["answer"]


@pytest.mark.parametrize("item", SEED_QUESTIONS, ids=[q["id"] for q in SEED_QUESTIONS])
def test_seed_answer_citations_state_their_figures(live_server: LiveServer, item: dict) -> None:
    answer = ask(live_server, item["question"])
    citations = answer["citations"]
    assert [c["n"] for c in citations] == list(range(1, len(citations) + 1))
    assert len({c["passage_id"] for c in citations}) == len(citations)
    for marker in re.findall(r"\[(\d+)\]", answer["answer"]):
        assert 1 <= int(marker) <= len(citations)
    for fact in answer["facts"]:
        cited = citations[fact["citation"] - 1]
        assert fact["text"] in cited["text"], (fact, cited["text"])
    for cited in citations:
        body = get(live_server, f"/api/articles/{cited['article_id']}").data["body"]
        assert body[cited["start"] : cited["end"]] == cited["text"]
        start, end = cited["highlight"]
        assert 0 <= start < end <= len(cited["text"])


def test_ask_answer_has_the_documented_shape(live_server: LiveServer) -> None:
    answer = ask(live_server, SEED_QUESTIONS[6]["question"], k=3)
    assert set(answer) >= {"question", "answer", "facts", "citations"}
    assert answer["citations"]
    assert set(answer["citations"][0]) >= {
        "n",
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


def test_ask_with_no_matching_dates_says_nothing_was_found(live_server: LiveServer) -> None:
    answer = ask(live_server, SEED_QUESTIONS[6]["question"], since="2099-01-01")
    assert answer["citations"] == []
    assert answer["answer"]


def test_ask_source_filter_cites_only_that_source(live_server: LiveServer) -> None:
    answer = ask(live_server, "long liquidations on Hyperliquid", source="ambcrypto")
    assert answer["citations"]
    assert {c["source"].lower() for c in answer["citations"]} == {"ambcrypto"}


def test_repeated_ask_is_served_from_the_cache(live_server: LiveServer) -> None:
    question = "Which signals do desks follow for signs of wider market softness? (cache test)"
    first = get(live_server, "/api/ask", q=question)
    second = get(live_server, "/api/ask", q="  " + question.replace(" ", "   ") + " ")
    assert first.headers["X-Answer-Cache"] == "miss"
    assert second.headers["X-Answer-Cache"] == "hit"
    assert second.data == first.data


def test_ingest_invalidates_cached_answers(live_server: LiveServer) -> None:
    question = "Which exchange recorded long liquidations? (invalidation test)"
    get(live_server, "/api/ask", q=question)
    assert get(live_server, "/api/ask", q=question).headers["X-Answer-Cache"] == "hit"
    reply = call(
        live_server,
        "POST",
        "/api/ingest",
        token=live_server.token,
        json_body={"articles": [made_up_article("invalidate")]},
    )
    assert reply.status == 200
    assert get(live_server, "/api/ask", q=question).headers["X-Answer-Cache"] == "miss"


def test_asks_during_an_ingest_all_succeed(live_server: LiveServer) -> None:
    batch = {"articles": [made_up_article("concurrent", n) for n in range(40)]}
    questions = [item["question"] for item in DEV_QUESTIONS]
    ingest_reply: list[Reply] = []
    statuses: list[int] = []
    during = []

    def run_ingest() -> None:
        ingest_reply.append(
            call(live_server, "POST", "/api/ingest", json_body=batch, token=live_server.token)
        )

    writer = threading.Thread(target=run_ingest)
    writer.start()

    def asker(offset: int) -> None:
        n = offset
        while writer.is_alive() or n < offset + 4:
            # Counted by when the ask was sent: an answer may take longer than the whole ingest.
            sent_during = writer.is_alive()
            reply = get(live_server, "/api/ask", q=questions[n % len(questions)], k=1 + n % 7)
            statuses.append(reply.status)
            if sent_during:
                during.append(reply.status)
            n += 4

    askers = [threading.Thread(target=asker, args=(i,)) for i in range(4)]
    for thread in askers:
        thread.start()
    for thread in [writer, *askers]:
        thread.join(timeout=300)
    assert ingest_reply and ingest_reply[0].status == 200
    assert [r["status"] for r in ingest_reply[0].data["articles"]] == ["new"] * 40
    assert during, "no ask overlapped the ingest"
    assert set(statuses) == {200}


# -- ingest, browse, delete -------------------------------------------------------------------


def test_ingested_article_can_be_read_then_deleted(live_server: LiveServer) -> None:
    record = made_up_article("lifecycle")
    reply = ingest_records(live_server, [record])
    assert reply.status == 200
    [result] = reply.data["articles"]
    assert result["status"] == "new"
    assert result["url"] == record["url"]
    article = get(live_server, f"/api/articles/{result['id']}").data
    assert article["title"] == record["title"]
    assert article["body"] == record["text"]
    assert any(f["entity"] == "Bybit" and f["value"] == 40e6 for f in article["facts"])
    again = call(
        live_server,
        "POST",
        "/api/ingest",
        json_body={"articles": [record]},
        token=live_server.token,
    )
    assert again.data["articles"][0]["status"] == "unchanged"
    deleted = call(live_server, "DELETE", f"/api/articles/{result['id']}", token=live_server.token)
    assert deleted.status == 200
    assert_problem(get(live_server, f"/api/articles/{result['id']}"), 404)
    assert_problem(
        call(live_server, "DELETE", f"/api/articles/{result['id']}", token=live_server.token), 404
    )


def test_ingest_reports_bad_records_per_item(live_server: LiveServer) -> None:
    records = [
        made_up_article("mixed"),
        {"title": "no text"},
        "not an object",
        {"text": "x", "url": "javascript:alert(1)"},
    ]
    reply = ingest_records(live_server, records)
    assert reply.status == 200
    results = reply.data["articles"]
    assert [r["status"] for r in results] == ["new", "failed", "failed", "failed"]
    assert all(r["error"] for r in results[1:])


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"url": "http://[::1", "text": "Zeltrax saw $1 million."}, "not a valid URL"),
        ({"url": "http://example.test:99999/", "text": "Zeltrax saw $1 million."}, "port"),
        ({"text": "Zeltrax saw $1 million \ud800."}, "'text' holds a lone surrogate"),
        ({"title": "Digest \udc00", "text": "Zeltrax saw $1 million."}, "'title'"),
        ({"url": "https://example.test/\ud800", "text": "Zeltrax saw $1 million."}, "'url'"),
    ],
)
def test_ingest_refuses_an_unwritable_record_and_stores_the_rest(
    live_server: LiveServer, record: dict, reason: str
) -> None:
    good = made_up_article("beside-bad", len(reason))
    reply = ingest_records(live_server, [record, good])
    assert reply.status == 200, reply.body[:300]
    failed, stored = reply.data["articles"]
    assert failed["status"] == "failed" and reason.lower() in failed["error"].lower()
    assert stored["status"] in ("new", "unchanged")
    assert get(live_server, f"/api/articles/{stored['id']}").status == 200


def test_ingest_with_an_impossible_utc_offset_keeps_the_article_undated(
    live_server: LiveServer,
) -> None:
    record = {**made_up_article("bad-offset"), "published": "2024-05-01T12:00:00+99:00"}
    reply = ingest_records(live_server, [record])
    assert reply.status == 200
    (result,) = reply.data["articles"]
    assert result["status"] in ("new", "unchanged")
    assert get(live_server, f"/api/articles/{result['id']}").data["published"] is None


def test_jsonl_upload_with_a_line_nested_too_deeply_fails_that_line_only(
    live_server: LiveServer,
) -> None:
    lines = ["[" * 100_000 + "]" * 100_000, json.dumps(made_up_article("after-deep"))]
    reply = upload(live_server, [("file", "deep.jsonl", "\n".join(lines).encode())])
    assert reply.status == 200
    deep, good = reply.data["articles"]
    assert deep["status"] == "failed" and "nested too deeply" in deep["error"]
    assert good["status"] in ("new", "unchanged")


def test_extract_refuses_a_lone_surrogate_with_400(live_server: LiveServer) -> None:
    reply = call(live_server, "POST", "/api/extract", json_body={"text": "Zeltrax saw $1m \ud800"})
    assert_problem(reply, 400, "lone surrogate")


def test_ingest_where_every_record_fails_is_422_with_each_reason(live_server: LiveServer) -> None:
    records = [{"title": "no text"}, {"text": "Zeltrax saw $1 million.", "author": 7}]
    reply = ingest_records(live_server, records)
    problem = assert_problem(reply, 422, "no article could be stored")
    assert [r["status"] for r in problem["articles"]] == ["failed", "failed"]
    assert "'author' must be a string or null" in problem["articles"][1]["error"]


def html_page(tag: str) -> bytes:
    return (
        f"<html><head><title>Desk note {tag}</title></head><body><article>"
        f"<h1>Desk note {tag}</h1><p>In the session tagged {tag}, Binance recorded roughly "
        "$21 million in long liquidations while Bybit saw over $9 million in shorts.</p>"
        "<p>Open interest across venues held near $30 billion as funding stayed flat, "
        "and desks said the positioning looked cautious into the weekend close.</p>"
        "</article></body></html>"
    ).encode()


def test_ingest_urls_fetches_each_page(live_server: LiveServer) -> None:
    with LocalServer({"/note.html": Route(body=html_page("urls"))}) as pages:
        reply = call(
            live_server,
            "POST",
            "/api/ingest",
            token=live_server.token,
            json_body={"urls": [pages.url("/note.html"), pages.url("/missing")]},
        )
    assert reply.status == 200
    first, second = reply.data["articles"]
    assert first["status"] == "new"
    assert first["title"] == "Desk note urls"
    assert second["status"] == "failed"
    assert "404" in second["error"]


def test_ingest_multipart_reads_each_kind_of_file(live_server: LiveServer) -> None:
    jsonl = "\n".join(json.dumps(made_up_article("jsonl-upload", n)) for n in range(2))
    reply = upload(
        live_server,
        [
            ("file", "note.html.gz", gzip.compress(html_page("gz-upload"))),
            ("file", "export.jsonl", jsonl.encode()),
            ("file", "seed.txt", SEED_PAGE.read_bytes()),
            ("file", "image.bin", bytes(range(256)) * 20),
            ("file", "empty.html", b""),
        ],
    )
    assert reply.status == 200
    results = reply.data["articles"]
    assert [r["status"] for r in results[:3]] == ["new", "new", "new"]
    assert results[0]["title"] == "Desk note gz-upload"
    # The seed page is already stored (from a file), so the upload is a copy of it.
    assert results[3]["status"] in ("duplicate", "unchanged")
    assert results[4]["status"] == "failed" and "binary" in results[4]["error"]
    assert results[5]["status"] == "failed" and "empty" in results[5]["error"]


def test_articles_are_listed_newest_first_with_totals(live_server: LiveServer) -> None:
    first = get(live_server, "/api/articles", per_page=10).data
    second = get(live_server, "/api/articles", per_page=10, page=2).data
    assert first["total"] >= 300 and first["page"] == 1 and first["per_page"] == 10
    assert len(first["articles"]) == 10
    dates = [a["published"] for a in first["articles"] + second["articles"] if a["published"]]
    assert dates == sorted(dates, reverse=True)
    assert not {a["id"] for a in first["articles"]} & {a["id"] for a in second["articles"]}
    assert "body" not in first["articles"][0]


def test_articles_keyword_filter(live_server: LiveServer) -> None:
    listing = get(live_server, "/api/articles", q="Hyperliquid", per_page=100).data
    everything = get(live_server, "/api/articles", per_page=1).data
    assert 0 < listing["total"] < everything["total"]
    for summary in listing["articles"][:5]:
        body = get(live_server, f"/api/articles/{summary['id']}").data["body"]
        assert "hyperliquid" in body.lower()


def test_articles_keyword_filter_with_no_match_is_empty(live_server: LiveServer) -> None:
    listing = get(live_server, "/api/articles", q="zzqxjv").data
    assert listing == {"articles": [], "total": 0, "page": 1, "per_page": 20}


def test_articles_filtered_by_date_source_and_entity(live_server: LiveServer) -> None:
    ranged = get(
        live_server, "/api/articles", since="2025-01-01", until="2025-12-31", per_page=100
    ).data
    assert ranged["total"] > 0
    assert all("2025-01-01" <= a["published"][:10] <= "2025-12-31" for a in ranged["articles"])
    by_source = get(live_server, "/api/articles", source="AMBCRYPTO").data
    assert by_source["total"] >= 1
    assert {a["source"].lower() for a in by_source["articles"]} == {"ambcrypto"}
    by_entity = get(live_server, "/api/articles", entity="HYPE-exchange-not-real").data
    assert by_entity["total"] == 0
    hyperliquid = get(live_server, "/api/articles", entity="Hyperliquid", per_page=3).data
    assert hyperliquid["total"] >= 1
    for summary in hyperliquid["articles"]:
        facts = get(live_server, f"/api/articles/{summary['id']}").data["facts"]
        assert any((f["entity"] or "").lower() == "hyperliquid" for f in facts)


def seed_article_id() -> str:
    from ingest.sources import read_sources

    return next(read_sources([str(SEED_PAGE)])).id


def test_article_detail_has_body_facts_qa_and_teasers(live_server: LiveServer) -> None:
    article = get(live_server, f"/api/articles/{seed_article_id()}").data
    assert article["source"].lower() == "ambcrypto"
    assert article["published"].startswith("2026-01-29")
    assert len(article["qa"]) == 5 and set(article["qa"][0]) == {"question", "answer"}
    assert len(article["related"]) >= 1 and article["related"][0]["title"]
    values = {f["value"] for f in article["facts"]}
    assert {59e6, 36e6} <= values
    for fact in article["facts"]:
        assert article["body"][fact["start"] : fact["end"]] == fact["text"]


def test_related_articles_are_similar_and_never_itself(live_server: LiveServer) -> None:
    article_id = seed_article_id()
    related = get(live_server, f"/api/articles/{article_id}/related", k=4).data
    assert related["article_id"] == article_id
    items = related["related"]
    assert 1 <= len(items) <= 4
    assert article_id not in {item["article_id"] for item in items}
    similarities = [item["similarity"] for item in items]
    assert similarities == sorted(similarities, reverse=True)
    assert all(0 < s <= 1 for s in similarities)


# -- facts and extract ------------------------------------------------------------------------


def test_facts_filter_by_metric_and_side(live_server: LiveServer) -> None:
    data = get(live_server, "/api/facts", metric="liquidations", side="long").data
    assert data["count"] == len(data["facts"]) > 0
    assert {(f["metric"], f["side"]) for f in data["facts"]} == {("liquidations", "long")}


def test_facts_entity_alias_resolves(live_server: LiveServer) -> None:
    data = get(live_server, "/api/facts", entity="BTC", limit=50).data
    assert data["facts"]
    assert {f["entity"] for f in data["facts"]} == {"Bitcoin"}


def test_facts_grouped_by_entity_carry_the_facts_behind_them(live_server: LiveServer) -> None:
    data = get(live_server, "/api/facts", metric="liquidations", group_by="entity").data
    groups = data["groups"]
    assert data["group_by"] == "entity" and groups
    named = [g for g in groups if g["entity"] is not None]
    assert [g["sum"] for g in named] == sorted((g["sum"] for g in named), reverse=True)
    for group in groups[:5]:
        assert group["count"] == len(group["facts"])
        assert group["sum"] == pytest.approx(sum(f["value"] for f in group["facts"]))
        assert {f["entity"] for f in group["facts"]} == {group["entity"]}


def series_article(tag: str, source: str, published: str, sentence: str) -> dict[str, str]:
    """A made-up article from ``source`` whose one figure sentence is ``sentence``."""
    return {
        "url": f"https://example.test/series/{tag}",
        "title": f"Series digest {tag}",
        "published": published,
        "source": source,
        "text": f"Desk note {tag} for the series tests. {sentence} The note ends here.",
    }


def test_series_lines_up_a_metric_by_day_with_copies_once_and_disputes_marked(
    live_server: LiveServer,
) -> None:
    records = [
        series_article(
            "s1", "Desk One", "2032-05-04", "Bybit recorded $50 million in long liquidations."
        ),
        series_article(
            "s2", "Desk Two", "2032-05-04", "Long liquidations on Bybit came to $80 million."
        ),
        series_article(
            "s3", "Desk Three", "2032-05-04", "Bybit saw $50 million of longs liquidated."
        ),
        series_article(
            "s4",
            "Desk One",
            "2032-05-12",
            "On May 9, 2032, Bybit recorded $61 million in long liquidations.",
        ),
    ]
    assert ingest_records(live_server, records).status == 200
    series = get(
        live_server,
        "/api/facts/series",
        entity="bybit",
        metric="liquidations",
        side="long",
        since="2032-05-01",
        until="2032-05-31",
    ).data
    points = [(p["day"], p["value"], p["disputed"]) for p in series["points"]]
    assert points == [
        ("2032-05-04", 50e6, True),
        ("2032-05-04", 80e6, True),
        ("2032-05-09", 61e6, False),
    ]
    first, second, stated = series["points"]
    assert sorted(c["source"] for c in first["citations"]) == ["Desk One", "Desk Three"]
    assert [o["value"] for o in first["disputed_with"]] == [80e6]
    assert stated["day_stated"] is True
    article = get(live_server, f"/api/articles/{stated['citations'][0]['article_id']}").data
    citation = stated["citations"][0]
    assert article["body"][citation["start"] : citation["end"]] == "$61 million"
    assert (series["entity"], series["disputed"], series["units"]) == ("Bybit", 2, {"USD": 3})


def test_extract_from_text_returns_spans_and_stores_nothing(live_server: LiveServer) -> None:
    before = get(live_server, "/api/health").data
    text = "Bybit logged approximately $42 million in long liquidations on Tuesday."
    facts = call(live_server, "POST", "/api/extract", json_body={"text": text}).data["facts"]
    [fact] = [f for f in facts if f["value"] == 42e6]
    assert (fact["unit"], fact["metric"], fact["entity"], fact["side"], fact["qualifier"]) == (
        "USD",
        "liquidations",
        "Bybit",
        "long",
        "approx",
    )
    assert text[fact["start"] : fact["end"]] == fact["text"]
    assert fact["sentence"] == text
    assert get(live_server, "/api/health").data["articles"] == before["articles"]


def test_extract_from_html(live_server: LiveServer) -> None:
    data = call(
        live_server, "POST", "/api/extract", json_body={"html": html_page("extract").decode()}
    ).data
    assert data["title"] == "Desk note extract"
    assert any(f["value"] == 21e6 and f["entity"] == "Binance" for f in data["facts"])
    for fact in data["facts"]:
        assert data["text"][fact["start"] : fact["end"]] == fact["text"]


def test_extract_from_url(live_server: LiveServer) -> None:
    with LocalServer({"/p.html": Route(body=html_page("extract-url"))}) as pages:
        data = call(live_server, "POST", "/api/extract", json_body={"url": pages.url("/p.html")})
    assert data.status == 200
    assert any(f["value"] == 9e6 for f in data.data["facts"])


def test_extract_from_unreachable_url_is_problem_json(live_server: LiveServer) -> None:
    with LocalServer({}) as pages:
        reply = call(live_server, "POST", "/api/extract", json_body={"url": pages.url("/gone")})
    assert_problem(reply, 502, "answered HTTP 404")


# -- logging ----------------------------------------------------------------------------------


def test_requests_are_logged_without_token_or_question(live_server: LiveServer) -> None:
    call(live_server, "DELETE", "/api/articles/ffffffffffff", token=live_server.token)
    get(live_server, "/api/ask", q="secret question words")
    time.sleep(0.2)
    output = live_server.output()
    assert re.search(r"DELETE /api/articles/ffffffffffff 404 \d+\.\dms", output)
    assert re.search(r"GET /api/ask 200 \d+\.\dms", output)
    assert live_server.token not in output
    assert "secret question words" not in output
