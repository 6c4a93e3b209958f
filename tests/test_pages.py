"""The HTML pages through Flask's test client, over the session's built corpus and seed page.

The chart tests need no model; every page test shares one app over a copy of ``built_kb_dir``.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import SEED_PAGE, SHARED, copy_data_dir
from flask import Flask
from flask.testing import FlaskClient
from support.http_server import LocalServer, Route

from api import create_app
from api.charts import Bar, BarChart, chart_from_facts, render_svg
from api.pages import pages
from kb.embedding import Embedder
from kb.knowledge import KnowledgeBase


def _seed_question(item_id: str) -> str:
    """A seed evaluation question, read from the shared file at run time."""
    for line in (SHARED / "eval" / "seed-questions.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip() and json.loads(line)["id"] == item_id:
            return json.loads(line)["question"]
    raise LookupError(item_id)


# The seed question whose answer names the two exchanges with the largest long liquidations.
SEED_QUESTION = _seed_question("seed-q02")
slow = pytest.mark.slow


def page_app(data_dir: Path, embedder: Embedder, **config: object) -> Flask:
    """``create_app`` over ``data_dir`` with the pages blueprint, registered here if need be."""
    kb = KnowledgeBase(data_dir, embedder=embedder)
    app = create_app({"data_dir": str(data_dir), "kb": kb, **config})
    if "pages" not in app.blueprints:
        app.register_blueprint(pages)
    return app


@pytest.fixture(scope="module")
def app(
    built_kb_dir: Path, embedder: Embedder, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Flask]:
    data_dir = copy_data_dir(built_kb_dir, tmp_path_factory.mktemp("pages") / "data")
    app = page_app(data_dir, embedder, allow_private_urls=True)
    yield app
    app.extensions["marketkb"].kb.store.close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture(scope="module")
def seed_id(app: Flask) -> str:
    found = app.extensions["marketkb"].kb.store.article_id_for_origin(str(SEED_PAGE.resolve()))
    assert found, "the seed page is not in the built data directory"
    return found


def text_of(body: bytes) -> str:
    """The visible words of an HTML page, tags dropped and entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", " ", body.decode()))


def assert_friendly(body: bytes) -> None:
    """An error page: HTML in the site's layout, no traceback or exception name."""
    page = body.decode()
    assert page.startswith("<!doctype html>")
    assert "Traceback" not in page and "Error:" not in page and 'File "' not in page


# -- charts (no model) -------------------------------------------------------------------------


FACTS = [
    {
        "entity": "Binance",
        "metric": "liquidations",
        "side": "long",
        "direction": None,
        "unit": "USD",
        "value": 36e6,
        "text": "$36 million",
    },
    {
        "entity": "Hyperliquid",
        "metric": "liquidations",
        "side": "long",
        "direction": None,
        "unit": "USD",
        "value": 59e6,
        "text": "$59 million",
    },
    {
        "entity": None,
        "metric": "liquidations",
        "side": "long",
        "direction": None,
        "unit": "USD",
        "value": 230e6,
        "text": "$230 million",
    },
    {
        "entity": "Bitcoin",
        "metric": "market_cap",
        "side": None,
        "direction": None,
        "unit": "USD",
        "value": 1.71e12,
        "text": "$1.71 trillion",
    },
]


def test_chart_compares_one_kind_of_figure_by_entity_largest_first() -> None:
    chart = chart_from_facts(FACTS)
    assert chart is not None
    assert [(bar.label, bar.text) for bar in chart.bars] == [
        ("Hyperliquid", "$59 million"),
        ("Binance", "$36 million"),
    ]
    assert chart.title == "Long liquidations by entity (USD)"


@pytest.mark.parametrize("facts", [[], [{**FACTS[2]}]], ids=["no facts", "market-wide only"])
def test_no_chart_without_named_entities(facts: list[dict[str, object]]) -> None:
    assert chart_from_facts(facts) is None


def test_svg_labels_every_bar_and_is_accessible() -> None:
    chart = BarChart(
        "Long liquidations", "USD", [Bar("Hyperliquid", 59e6, "$59 million"), Bar("A<b>", 0.0, "0")]
    )
    svg = str(render_svg(chart))
    assert svg.startswith("<svg") and 'role="img"' in svg
    assert 'aria-label="Long liquidations"' in svg
    assert "<title" in svg and "<desc" in svg and "Hyperliquid: $59 million" in svg
    assert svg.count('class="chart-bar"') == 2 and "A&lt;b&gt;" in svg and "A<b>" not in svg
    widths = [
        float(w) for w in re.findall(r'class="chart-bar" x="0" y="[\d.]+" width="([\d.]+)"', svg)
    ]
    assert widths[0] > widths[1] > 0


# -- ask -------------------------------------------------------------------------------------


@slow
def test_ask_form_renders(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert '<label for="q">' in page and 'id="q"' in page and "style.css" in page


@slow
def test_ask_answers_with_linked_citations_figures_and_chart(
    client: FlaskClient, seed_id: str
) -> None:
    response = client.get("/", query_string={"q": SEED_QUESTION})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    answer = re.search(r'<p class="answer-text">(.*?)</p>', page, re.S).group(1)
    assert "Hyperliquid" in answer and "Binance" in answer
    markers = re.findall(r'href="#cite-(\d+)"', answer)
    assert markers and all(f'id="cite-{n}"' in page for n in markers)
    assert f'href="/articles/{seed_id}"' in page
    assert re.search(r"<mark>[^<]*Hyperliquid[^<]*</mark>", page)
    table = re.search(r'<table class="figures">.*?</table>', page, re.S).group(0)
    assert "Hyperliquid" in table and "$59 million" in text_of(table.encode())
    assert '<svg class="chart"' in page and 'role="img"' in page


@slow
@pytest.mark.parametrize("query", ["", "   "], ids=["empty", "blank"])
def test_empty_question_shows_message(client: FlaskClient, query: str) -> None:
    response = client.get("/", query_string={"q": query})
    assert response.status_code == 400
    assert_friendly(response.data)
    assert "Type a question" in text_of(response.data)


# -- articles ----------------------------------------------------------------------------------


@slow
def test_articles_newest_first_with_pager(client: FlaskClient) -> None:
    response = client.get("/articles")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    days = re.findall(r'<time datetime="([^"]+)"', page)
    assert len(days) >= 10 and days == sorted(days, reverse=True)
    assert 'rel="next"' in page and "page=2" in page
    second = client.get("/articles", query_string={"page": 2}).get_data(as_text=True)
    assert 'rel="prev"' in second and re.findall(r'<time datetime="([^"]+)"', second)[0] <= days[-1]


@slow
@pytest.mark.parametrize(
    "params",
    [
        {"source": "ambcrypto"},
        {"entity": "Hyperliquid"},
        {"entity": "hyperliquid", "since": "2026-01-01", "until": "2026-01-31"},
    ],
    ids=["source", "entity", "entity-and-dates"],
)
def test_article_filters_find_the_seed(
    client: FlaskClient, seed_id: str, params: dict[str, str]
) -> None:
    page = client.get("/articles", query_string=params).get_data(as_text=True)
    assert f'href="/articles/{seed_id}"' in page
    assert f'value="{params.get("source") or params.get("entity")}"' in page


@slow
def test_date_range_excludes_articles_outside_it(client: FlaskClient, seed_id: str) -> None:
    page = client.get("/articles", query_string={"until": "2020-01-01"}).get_data(as_text=True)
    assert f'href="/articles/{seed_id}"' not in page


@slow
@pytest.mark.parametrize(
    "params, words",
    [
        ({"since": "last week"}, "since must be a date"),
        ({"since": "2026-02-01", "until": "2026-01-01"}, "is after until"),
        ({"page": "0"}, "page must be an integer"),
    ],
    ids=["bad-date", "reversed-range", "bad-page"],
)
def test_bad_filters_show_message(client: FlaskClient, params: dict[str, str], words: str) -> None:
    response = client.get("/articles", query_string=params)
    assert response.status_code == 400
    assert_friendly(response.data)
    assert words in text_of(response.data)


# -- one article -------------------------------------------------------------------------------


@slow
def test_article_page_links_to_the_original(client: FlaskClient, app: Flask) -> None:
    store = app.extensions["marketkb"].kb.store
    with_url = next(
        (i for i in store.article_ids() if store.get_article(i).article.url is not None), None
    )
    assert with_url is not None, "the built store has corpus articles with URLs"
    url = store.get_article(with_url).article.url
    page = client.get(f"/articles/{with_url}").get_data(as_text=True)
    assert f'href="{html.escape(url)}"' in page


@slow
def test_article_page_shows_body_figures_qa_and_related(
    client: FlaskClient, app: Flask, seed_id: str
) -> None:
    response = client.get(f"/articles/{seed_id}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    stored = app.extensions["marketkb"].kb.store.get_article(seed_id).article
    assert f"<h1>{html.escape(stored.title)}</h1>" in page
    assert page.count("<p>") > 5
    assert '<table class="figures">' in page and "Hyperliquid" in page
    assert page.count("<dt>") == len(stored.qa) > 0
    related = re.findall(r'class="related-link" href="/articles/([0-9a-f]+)"', page)
    assert related and seed_id not in related
    assert re.search(r"\d+% similar", page)


@slow
@pytest.mark.parametrize("article_id", ["000000000000", "not-an-id"])
def test_unknown_article_is_a_404_page(client: FlaskClient, article_id: str) -> None:
    response = client.get(f"/articles/{article_id}")
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert_friendly(response.data)
    assert "no article with that id" in text_of(response.data)


@slow
def test_unexpected_error_is_a_page_without_traceback(
    client: FlaskClient, seed_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import api.pages

    def broken(article_id: str) -> dict[str, object]:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(api.pages, "article_data", broken)
    response = client.get(f"/articles/{seed_id}")
    assert response.status_code == 500
    assert_friendly(response.data)
    assert "secret internals" not in response.get_data(as_text=True)


# -- extract -----------------------------------------------------------------------------------


def csv_rows(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8"))))


@slow
def test_extract_csv_cells_never_start_a_spreadsheet_formula(client: FlaskClient) -> None:
    # Written for this test: a pasted line that a spreadsheet would run as a formula.
    text = '=HYPERLINK("https://example.test/x","open") Zeltrax saw $5 million in liquidations.'
    rows = csv_rows(client.post("/extract.csv", data={"text": text}).data)
    assert rows
    for row in rows:
        assert row["sentence"].startswith("'=")
        assert not any(cell.startswith(("=", "+", "@")) for cell in row.values())
        assert float(row["value"]) == 5e6  # numbers stay numbers


@slow
def test_extract_form_renders(client: FlaskClient) -> None:
    page = client.get("/extract").get_data(as_text=True)
    assert '<label for="text">' in page and '<label for="url">' in page


@slow
def test_extract_pasted_text_shows_figures(client: FlaskClient) -> None:
    text = SEED_PAGE.read_text(encoding="utf-8")
    response = client.post("/extract", data={"text": text, "url": ""})
    assert response.status_code == 200
    rows = re.findall(r"<tr>(.*?)</tr>", response.get_data(as_text=True), re.S)
    assert any(
        "Hyperliquid" in row and "$59 million" in row and "long liquidations" in row for row in rows
    )
    assert 'formaction="/extract.csv"' in response.get_data(as_text=True)


@slow
def test_extract_csv_has_a_row_per_figure(client: FlaskClient) -> None:
    text = SEED_PAGE.read_text(encoding="utf-8")
    response = client.post("/extract.csv", data={"text": text})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = csv_rows(response.data)
    facts = client.post("/extract.json", data={"text": text}).get_json()["facts"]
    assert len(rows) == len(facts) > 5
    hyperliquid = [r for r in rows if r["entity"] == "Hyperliquid" and r["side"] == "long"]
    assert hyperliquid and hyperliquid[0]["metric"] == "liquidations"
    assert float(hyperliquid[0]["value"]) == 59e6 and hyperliquid[0]["unit"] == "USD"


@slow
def test_extract_from_url(client: FlaskClient) -> None:
    paragraphs = "".join(
        f"<p>{html.escape(line)}</p>"
        for line in SEED_PAGE.read_text(encoding="utf-8").splitlines()
        if line.strip()
    )
    page = (
        f"<!doctype html><html><head><title>Seed</title></head><body><article>{paragraphs}"
        "</article></body></html>"
    )
    with LocalServer({"/seed.html": Route(body=page.encode())}) as server:
        response = client.post("/extract", data={"url": server.url("/seed.html")})
        download = client.get("/extract.json", query_string={"url": server.url("/seed.html")})
    assert response.status_code == 200 and "Hyperliquid" in response.get_data(as_text=True)
    assert any(f["entity"] == "Hyperliquid" for f in json.loads(download.data)["facts"])


@slow
@pytest.mark.parametrize(
    "form, status, words",
    [
        ({"text": "", "url": ""}, 400, "Paste some commentary"),
        ({"text": "Binance saw $5 million", "url": "https://example.com/"}, 400, "not both"),
        ({"url": "ftp://example.com/x"}, 400, "must be an http or https URL"),
    ],
    ids=["empty", "both", "not-http"],
)
def test_extract_bad_input_shows_message(
    client: FlaskClient, form: dict[str, str], status: int, words: str
) -> None:
    response = client.post("/extract", data=form)
    assert response.status_code == status
    assert_friendly(response.data)
    assert words in text_of(response.data)
    assert "<textarea" in response.get_data(as_text=True)


@slow
def test_url_fetches_beyond_the_slots_are_refused_until_one_frees(
    app: Flask, client: FlaskClient
) -> None:
    from api.limits import FETCH_SLOTS

    slots = app.extensions["marketkb"].fetch_slots
    page = "<html><body><article><p>" + "Zeltrax saw $5 million in liquidations. " * 9
    with LocalServer(
        {"/note.html": Route(body=(page + "</p></article></body></html>").encode())}
    ) as server:
        for _ in range(FETCH_SLOTS):  # the slots held, as by fetches still running
            assert slots.acquire(blocking=False)
        try:
            busy = client.post("/api/extract", json={"url": server.url("/note.html")})
            assert busy.status_code == 503 and "retry" in busy.get_json()["detail"]
        finally:
            for _ in range(FETCH_SLOTS):
                slots.release()
        freed = client.post("/api/extract", json={"url": server.url("/note.html")})
    assert freed.status_code == 200 and freed.get_json()["facts"]


@slow
def test_failed_fetch_shows_message(client: FlaskClient) -> None:
    with LocalServer({}) as server:
        response = client.post("/extract", data={"url": server.url("/missing.html")})
    # The page's own 404 is the upstream's; ours is a bad gateway, as /api/extract answers.
    assert response.status_code == 502
    assert_friendly(response.data)
    assert "HTTP 404" in text_of(response.data)


@slow
def test_failed_fetch_download_is_an_error_page(client: FlaskClient) -> None:
    with LocalServer({}) as server:
        response = client.get("/extract.csv", query_string={"url": server.url("/gone")})
    assert response.status_code == 502 and response.mimetype == "text/html"
    assert_friendly(response.data)


@slow
def test_an_upstream_server_error_is_a_bad_gateway_page_not_ours(client: FlaskClient) -> None:
    with LocalServer({"/boom": Route(body=b"oops", status=500)}) as server:
        response = client.post("/extract", data={"url": server.url("/boom")})
    assert response.status_code == 502 and response.mimetype == "text/html"
    assert_friendly(response.data)
