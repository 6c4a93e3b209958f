"""The HTML pages: ask, browse articles, read one with its related articles, extract figures.

Each page's data is built as the same plain data the JSON API returns (through ``kb``/``ingest``
public functions and the API's parameter checks) and rendered with Jinja; nothing here writes SQL.
Errors on these routes render a page with a message a reader can act on, never a traceback.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import re
from datetime import date
from http import HTTPStatus
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Response, render_template, request, url_for
from markupsafe import Markup, escape
from werkzeug.exceptions import HTTPException

from api.charts import chart_from_facts, metric_label, render_svg
from api.limits import MAX_EXTRACT_CHARS, MAX_QUESTION_CHARS
from api.routes import (
    article_detail,
    article_summary,
    fetch_article,
    find_articles,
    http_url,
    int_param,
    listing_filters,
    series_query,
    state,
)
from api.timeline import Dot, Timeline, render_timeline
from ingest.errors import IngestError
from ingest.facts import extract_facts
from ingest.gazetteer import load_gazetteer
from ingest.records import METRICS
from ingest.sources import commentary_text
from kb.errors import KbError
from kb.series import Citation, Series, SeriesQuery, fact_series

log = logging.getLogger(__name__)

pages = Blueprint("pages", __name__)

PER_PAGE = 20
ANSWER_K = 5
RELATED_K = 5
# An answer gets a series chart when its entity's metric has at least this many dated points.
ASK_SERIES_MIN_POINTS = 3
SUGGESTIONS = 300
CSV_COLUMNS = (
    "entity",
    "metric",
    "side",
    "direction",
    "window",
    "value",
    "unit",
    "text",
    "qualifier",
    "as_of",
    "sentence",
)
_MARKER = re.compile(r"\[(\d+)\]")


# -- page data ---------------------------------------------------------------------------------


def answer_data(question: str, k: int = ANSWER_K) -> dict[str, object]:
    """The answer as the JSON of ``/api/ask``, shared with its cache (same key, same body)."""
    from kb.store import Filters

    if not question:
        raise KbError(
            "Type a question to ask, for example: Which exchange saw the most long liquidations?"
        )
    if len(question) > MAX_QUESTION_CHARS:
        raise KbError(
            f"The question is {len(question)} characters long; at most "
            f"{MAX_QUESTION_CHARS} are accepted."
        )
    body, _ = state().answers.answer(question, k, Filters())
    return json.loads(body)


def cited_figures(answer: dict[str, object]) -> list[dict[str, object]]:
    """The figures of the passages an answer's text cites, each with its citation number.

    A ranking answer may quote a sentence that names the entities without their figures
    ("Binance and Hyperliquid led"); the cited passage states them, so the page shows those.
    """
    cited = {int(n) for n in _MARKER.findall(str(answer["answer"]))}
    by_passage = {c["passage_id"]: c["n"] for c in answer["citations"] if c["n"] in cited}
    facts = state().kb.store.passage_facts(by_passage)
    rows = [{**fact.to_dict(), "citation": by_passage[fact.passage_id]} for fact in facts]
    # Named entities first: they are what a "which ..." question asks about.
    return sorted(rows, key=lambda row: (row["entity"] is None, row["citation"]))


def article_data(article_id: str) -> dict[str, object]:
    """One article as ``/api/articles/<id>`` returns it, plus its related articles."""
    from kb.search import related

    kb = state().kb
    return {
        **article_detail(kb, article_id),
        "related_articles": [item.to_dict() for item in related(kb, article_id, RELATED_K)],
    }


def extract_data(text: str | None, url: str | None) -> dict[str, object]:
    """Figures of pasted text or HTML, or of a fetched page, as ``/api/extract`` returns them."""
    text, url = (text or "").strip(), (url or "").strip()
    if bool(text) == bool(url):
        raise KbError("Paste some commentary or give the URL of a page, not both and not neither.")
    title = None
    if url:
        article = fetch_article(http_url(url, "The URL"))
        title, body = article.title, article.body
    else:
        if len(text) > MAX_EXTRACT_CHARS:
            raise KbError(
                f"The text is {len(text):,} characters long; at most "
                f"{MAX_EXTRACT_CHARS:,} are accepted.",
                status=413,
            )
        # Sniffed like an upload: a pasted HTML page gives its article body, text stays as is.
        body = commentary_text(text.encode("utf-8"), name="pasted")
    return {
        "title": title,
        "url": url or None,
        "facts": [fact.to_dict() for fact in extract_facts(body, load_gazetteer())],
    }


def series_charts(found: Series, small: bool = False) -> list[dict[str, object]]:
    """One timeline per unit of a series (most points first), each with its summary."""
    charts = []
    for unit in found.units:
        points = [p for p in found.points if p.unit == unit]
        if not points:
            continue
        dots = tuple(
            Dot(
                day=date.fromisoformat(p.day),
                value=signed_value(p.value, p.direction),
                label=_dot_label(p.to_dict(nested=False)),
                href=passage_link(p.citations[0]),
                disputed=p.disputed,
            )
            for p in points
        )
        words = metric_label(found.query.metric, found.query.side)
        timeline = Timeline(f"{found.entity} {words} ({unit})", unit, dots)
        charts.append(
            {
                "unit": unit,
                "svg": render_timeline(timeline, small=small),
                "summary": timeline.summary,
            }
        )
    return charts


def signed_value(value: float, direction: str | None) -> float:
    """A figure drawn below zero when it is a fall or an outflow, so moves read as moves."""
    return -abs(value) if direction in ("down", "out") else value


def _dot_label(point: dict[str, object]) -> str:
    citation = point["citations"][0]  # type: ignore[index]
    where = citation.get("source") or citation.get("title") or "article"
    extra = " (disputed)" if point["disputed"] else ""
    copies = len(point["citations"]) - 1  # type: ignore[arg-type]
    also = f", +{copies} more" if copies else ""
    return f"{point['day']}: {point['text']}{extra}, {where}{also}"


def passage_link(citation: Citation) -> str:
    """The article page with the cited figure marked and scrolled to."""
    mark = f"{citation.start}-{citation.end}"
    return f"{url_for('pages.article', article_id=citation.article_id, mark=mark)}#figure"


def answer_series(answer: dict[str, object]) -> dict[str, object] | None:
    """A small series chart for the answer's first named figure, when its entity's metric has
    enough dated points to show a trend; else None."""
    fact = next((f for f in answer.get("facts") or [] if f.get("entity")), None)
    if fact is None:
        return None
    query = SeriesQuery(str(fact["entity"]), str(fact["metric"]), side=fact.get("side"))
    found = fact_series(state().kb.store, query)
    if len(found.points) < ASK_SERIES_MIN_POINTS:
        return None
    charts = series_charts(found, small=True)
    args = {"entity": query.entity, "metric": query.metric}
    if query.side:
        args["side"] = query.side
    return {**charts[0], "url": f"{url_for('pages.figures')}?{urlencode(args)}"}


def facts_csv(facts: list[dict[str, object]]) -> str:
    """Facts as CSV with a header row, one fact per row, every cell safe to open in a
    spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for fact in facts:
        writer.writerow([csv_cell(fact.get(c)) for c in CSV_COLUMNS])
    return out.getvalue()


# A spreadsheet runs a cell that starts with one of these as a formula (OWASP's CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """``value`` for a CSV cell: text a spreadsheet would run as a formula is quoted with a
    leading apostrophe; numbers (negative ones too) stay numbers."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


# -- rendering helpers -------------------------------------------------------------------------


def linked_answer(text: str, numbers: set[int]) -> Markup:
    """The answer text, escaped, with each [n] marker linking to citation n below it."""

    def link(match: re.Match[str]) -> str:
        n = int(match.group(1))
        if n not in numbers:
            return match.group(0)
        return f'<a class="cite-ref" href="#cite-{n}" aria-label="citation {n}">[{n}]</a>'

    return Markup(_MARKER.sub(link, str(escape(text))))


def highlighted(text: str, span: list[int] | None) -> Markup:
    """A passage with its answering sentence in ``<mark>``."""
    if not span or len(span) != 2 or not 0 <= span[0] < span[1] <= len(text):
        return escape(text)
    start, end = span
    return Markup(
        f"{escape(text[:start])}<mark>{escape(text[start:end])}</mark>{escape(text[end:])}"
    )


def paragraph_spans(body: str) -> list[tuple[int, int]]:
    """The (start, end) of each paragraph of an article body (blank-line separated, else one
    per line), surrounding white space left out."""
    separator = r"\n\s*\n" if re.search(r"\n\s*\n", body.strip()) else r"\n"
    spans, start = [], 0
    for match in [*re.finditer(separator, body), None]:
        end = match.start() if match else len(body)
        text = body[start:end]
        if text.strip():
            lead = len(text) - len(text.lstrip())
            spans.append((start + lead, start + lead + len(text.strip())))
        if match:
            start = match.end()
    return spans


def marked_paragraphs(body: str, mark: tuple[int, int] | None) -> list[tuple[str, Markup]]:
    """Each paragraph as (text, escaped HTML), the span ``mark`` (body offsets) in
    ``<mark id="figure">`` inside the paragraph that holds it."""
    out: list[tuple[str, Markup]] = []
    for a, b in paragraph_spans(body):
        text = body[a:b]
        if mark and a <= mark[0] and mark[1] <= b:
            start, end = mark[0] - a, mark[1] - a
            html = (
                f'{escape(text[:start])}<mark id="figure">{escape(text[start:end])}</mark>'
                f"{escape(text[end:])}"
            )
            out.append((text, Markup(html)))
        else:
            out.append((text, escape(text)))
    return out


def _chart(facts: list[dict[str, object]]) -> dict[str, object] | None:
    chart = chart_from_facts(facts)
    if chart is None:
        return None
    return {"svg": render_svg(chart), "summary": chart.summary, "title": chart.title}


def _page_url(page: int) -> str:
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    args["page"] = str(page)
    return f"{url_for('pages.articles')}?{urlencode(args)}"


@pages.app_template_filter("web_url")
def web_link(value: object) -> str | None:
    """The URL if it is http(s); stored data from elsewhere never becomes a script link."""
    url = str(value or "")
    return url if urlsplit(url).scheme.lower() in ("http", "https") else None


@pages.app_template_filter("day")
def day(value: object) -> str:
    """An ISO date-time as its day (``2026-01-29``); empty when unknown."""
    return str(value)[:10] if value else ""


@pages.app_template_global("describe_metric")
def describe_metric(fact: dict[str, object]) -> str:
    """What a fact measures, in words."""
    return metric_label(fact.get("metric"), fact.get("side"), fact.get("direction"))  # type: ignore[arg-type]


# -- routes ------------------------------------------------------------------------------------


@pages.get("/")
def ask() -> tuple[str, int] | str:
    """The question box, and the answer with its citations when a question was asked."""
    if "q" not in request.args:
        return render_template("ask.html", question="", answer=None)
    question = " ".join(request.args.get("q", "").split())
    try:
        answer = answer_data(question)
    except KbError as error:
        return render_template(
            "ask.html", question=question, answer=None, error=error.detail
        ), error.status
    numbers = {c["n"] for c in answer["citations"]}
    figures = answer["facts"] or cited_figures(answer)
    return render_template(
        "ask.html",
        question=question,
        answer=answer,
        answer_html=linked_answer(answer["answer"], numbers),
        figures=figures,
        from_passages=not answer["facts"],
        chart=_chart(figures),
        series=answer_series(answer),
        highlighted=highlighted,
    )


@pages.get("/articles")
def articles() -> tuple[str, int] | str:
    """Stored articles newest first, filtered by source, date range and entity, paginated."""
    form = {
        name: (request.args.get(name) or "").strip()
        for name in ("source", "since", "until", "entity")
    }
    try:
        page = int_param("page", 1, 1, 1_000_000)
        filters = listing_filters()
    except KbError as error:
        return render_template(
            "articles.html", form=form, items=[], total=0, page=1, pages=0, error=error.detail
        ), error.status
    found, total = find_articles(state().kb, filters, None, (page - 1) * PER_PAGE, PER_PAGE)
    items = [{**article_summary(s), "snippet": _snippet(s.article.body)} for s in found]
    last = max(1, math.ceil(total / PER_PAGE))
    return render_template(
        "articles.html",
        form=form,
        items=items,
        total=total,
        page=page,
        pages=last,
        prev_url=_page_url(page - 1) if page > 1 else None,
        next_url=_page_url(page + 1) if page < last else None,
        filtered=any(form.values()),
    )


def _snippet(body: str, limit: int = 220) -> str:
    text = " ".join(body.split())
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + "…"


@pages.get("/articles/<article_id>")
def article(article_id: str) -> str:
    """One article: body, figures, Q&A, teasers and related articles."""
    data = article_data(article_id)
    return render_template(
        "article.html",
        article=data,
        paragraphs=marked_paragraphs(data["body"], _mark_param(len(data["body"]))),
        chart=_chart(data["facts"]),
    )


def _mark_param(length: int) -> tuple[int, int] | None:
    """The ``mark=START-END`` span of the article body to highlight; None when absent or not a
    span inside the body (a stale link still shows the article)."""
    match = re.fullmatch(r"(\d{1,9})-(\d{1,9})", request.args.get("mark", ""))
    if not match:
        return None
    start, end = int(match.group(1)), int(match.group(2))
    return (start, end) if 0 <= start < end <= length else None


@pages.get("/figures")
def figures() -> tuple[str, int] | str:
    """One entity's metric over time: a dated chart per unit and the points in a table."""
    form = {
        name: (request.args.get(name) or "").strip()
        for name in ("entity", "metric", "side", "window", "unit", "since", "until")
    }
    kinds = state().kb.store.fact_kinds(SUGGESTIONS)
    stored = {metric for _, metric, _ in kinds}
    context = {
        "form": form,
        "entities": list(dict.fromkeys(entity for entity, _, _ in kinds)),
        # The metrics something is stored for (all of them while nothing is), in schema order.
        "metrics": [m for m in METRICS if m in stored or m == form["metric"]] or list(METRICS),
        "series": None,
        "charts": [],
    }
    if not (form["entity"] or form["metric"]):
        return render_template("figures.html", **context)
    try:
        found = fact_series(state().kb.store, series_query())
    except KbError as error:
        return render_template("figures.html", **context, error=error.detail), error.status
    context.update(series=found.to_dict(), charts=series_charts(found))
    return render_template("figures.html", **context)


@pages.app_template_global("passage_url")
def passage_url(citation: dict[str, object]) -> str:
    """The link of a series citation (JSON form) to its marked figure in the article."""
    return passage_link(Citation(**citation))  # type: ignore[arg-type]


@pages.route("/extract", methods=["GET", "POST"])
def extract() -> tuple[str, int] | str:
    """A form for pasted commentary or a URL; on POST, the figures found in it."""
    if request.method == "GET" and "url" not in request.args:
        return render_template("extract.html", text="", url="", result=None)
    text, url = _extract_input()
    try:
        result = extract_data(text, url)
    except (KbError, IngestError) as error:
        detail = error.detail if isinstance(error, KbError) else str(error)
        status = error.status if 400 <= error.status < 600 else 400
        return render_template(
            "extract.html", text=text, url=url, result=None, error=detail
        ), status
    return render_template(
        "extract.html", text=text, url=url, result=result, chart=_chart(result["facts"])
    )


def _extract_input() -> tuple[str, str]:
    source = request.form if request.method == "POST" else request.args
    return source.get("text", ""), source.get("url", "")


@pages.route("/extract.csv", methods=["GET", "POST"])
def extract_csv() -> Response:
    """The figures of the submitted text or URL as a CSV download."""
    result = extract_data(*_extract_input())
    return Response(
        facts_csv(result["facts"]),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="figures.csv"'},
    )


@pages.route("/extract.json", methods=["GET", "POST"])
def extract_json() -> Response:
    """The figures of the submitted text or URL as a JSON download."""
    result = extract_data(*_extract_input())
    body = json.dumps(result, ensure_ascii=False, indent=2, default=str)
    return Response(
        body,
        mimetype="application/json",
        headers={"Content-Disposition": 'attachment; filename="figures.json"'},
    )


# -- errors ------------------------------------------------------------------------------------


def error_page(status: int, message: str) -> tuple[str, int]:
    """A page saying what went wrong, with the standard phrase of ``status`` as its heading."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return render_template("error.html", status=status, phrase=phrase, message=message), status


@pages.errorhandler(KbError)
def _kb_error(error: KbError) -> tuple[str, int]:
    if error.status == 404:
        return error_page(
            404,
            "There is no article with that id. It may have been deleted, "
            "or the link may be mistyped.",
        )
    return error_page(error.status, error.detail)


@pages.errorhandler(IngestError)
def _ingest_error(error: IngestError) -> tuple[str, int]:
    return error_page(error.status if 400 <= error.status < 600 else 422, str(error))


@pages.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> tuple[str, int]:
    return error_page(error.code or 500, error.description or "")


@pages.errorhandler(Exception)
def _unexpected(error: Exception) -> tuple[str, int]:
    if isinstance(error, HTTPException):
        return _http_error(error)
    log.exception("unhandled error on %s %s", request.method, request.path)
    return error_page(
        500,
        "Something went wrong on the server while building this page. "
        "It has been logged; please try again.",
    )
