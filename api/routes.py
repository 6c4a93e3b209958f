"""The JSON API under /api: ask, ingest, extract, browse articles and facts, health.

Routes only read and check parameters, call ``kb``/``ingest`` and shape the JSON; they never
write SQL. Every parameter error is a KbError (400) that names the parameter, what was wrong and
what is accepted.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING

from flask import Blueprint, Response, current_app, request

from api.limits import (
    DEFAULT_FACTS_LIMIT,
    DEFAULT_K,
    DEFAULT_PER_PAGE,
    FETCH_SLOTS,
    MAX_ARTICLES,
    MAX_EXTRACT_CHARS,
    MAX_FACTS_LIMIT,
    MAX_K,
    MAX_PER_PAGE,
    MAX_QUESTION_CHARS,
    MAX_URLS,
)
from api.state import state
from ingest.dates import DATE_FORMS, filter_date
from ingest.errors import IngestError
from ingest.gazetteer import canonical
from ingest.jsonl import article_from_record
from ingest.records import Article
from ingest.sources import SourceOptions, read_sources, read_upload
from ingest.validation import checked_text, checked_url
from kb.errors import KbError
from kb.knowledge import KnowledgeBase
from kb.store import Filters, StoredArticle

if TYPE_CHECKING:
    from kb.series import SeriesQuery

blueprint = Blueprint("api", __name__, url_prefix="/api")

# Passages the keyword filter of /api/articles?q= looks at before mapping them to articles.
KEYWORD_DEPTH = 1000
GROUP_BY = ("entity",)


# -- shared state ----------------------------------------------------------------------------


def _kb() -> KnowledgeBase:
    return state().kb


def _json(data: object, status: int = 200) -> Response:
    return current_app.response_class(
        json.dumps(data, ensure_ascii=False, default=str),
        status=status,
        mimetype="application/json",
    )


# -- parameters ------------------------------------------------------------------------------


def int_param(name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter within [low, high]."""
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise KbError(f"{name} must be an integer from {low} to {high}, got {raw!r}") from None
    if not low <= value <= high:
        raise KbError(f"{name} must be an integer from {low} to {high}, got {value}")
    return value


def date_param(name: str) -> str | None:
    """A date query parameter as ISO 8601: YYYY-MM-DD stays a day, a date-time stays one."""
    raw = request.args.get(name)
    try:
        return filter_date(raw)
    except ValueError:
        raise KbError(f"{name} must be {DATE_FORMS}, got {raw!r}") from None


def choice_param(name: str, allowed: Iterable[str]) -> str | None:
    """A query parameter that must be one of ``allowed`` when given."""
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    allowed = tuple(allowed)
    if raw not in allowed:
        raise KbError(f"{name} must be one of {', '.join(allowed)}; got {raw!r}")
    return raw


def text_param(name: str, max_chars: int = 200) -> str | None:
    """A free-text query parameter, stripped; None when absent or blank."""
    raw = (request.args.get(name) or "").strip()
    if len(raw) > max_chars:
        raise KbError(f"{name} must be at most {max_chars} characters, got {len(raw)}")
    return raw or None


def date_filters() -> Filters:
    """``since``, ``until`` and ``source`` as Filters, checked for order."""
    since, until = date_param("since"), date_param("until")
    if since and until and since[:10] > until[:10]:
        raise KbError(f"since ({since}) is after until ({until}); no article could match")
    return Filters(since=since, until=until, source=text_param("source"))


def json_body() -> dict:
    """The request's JSON object; 415 for another content type, 400 for malformed JSON."""
    if not request.is_json:
        raise KbError(
            f"expected Content-Type application/json, got {request.mimetype or 'none'!r}",
            status=415,
        )
    raw = request.get_data(cache=True)
    try:
        data = json.loads(raw)
    except RecursionError:
        raise KbError("the body is not valid JSON: nested too deeply") from None
    except ValueError as error:
        raise KbError(f"the body is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise KbError(f"the body must be a JSON object, got {type(data).__name__}")
    return data


def require_token() -> None:
    """Refuse a write without the configured bearer token (401) or with a wrong one (403)."""
    expected = state().settings.get("api_token")
    if not expected:
        raise KbError("writes are disabled until KB_API_TOKEN is set on the server", status=403)
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise KbError("this endpoint needs an 'Authorization: Bearer <token>' header", status=401)
    if not hmac.compare_digest(token.strip().encode(), str(expected).encode()):
        raise KbError("the bearer token is not valid", status=403)


def http_url(value: object, where: str) -> str:
    """``value`` if it is an http(s) URL string, else a 400 naming ``where``."""
    if not isinstance(value, str):
        raise KbError(f"'{where}' must be an http or https URL, got {value!r}")
    try:
        return checked_url(value, where)
    except IngestError as error:
        raise KbError(error.reason) from None


def _source_options() -> SourceOptions:
    return SourceOptions(allow_private=bool(state().settings.get("allow_private_urls")))


# -- shaping -----------------------------------------------------------------------------------


def article_summary(stored: StoredArticle) -> dict[str, object]:
    """An article's metadata without its body."""
    a = stored.article
    return {
        "id": stored.id,
        "url": a.url,
        "title": a.title,
        "source": a.source,
        "author": a.author,
        "published": a.published,
        "updated": a.updated,
        "language": a.language,
        "ingested_at": stored.ingested_at,
        "changed_at": stored.changed_at,
    }


# -- routes ------------------------------------------------------------------------------------


@blueprint.get("/health")
def health() -> Response:
    """Liveness and counts, plus a warning when the data directory needs attention."""
    kb = _kb()
    body: dict[str, object] = {
        "status": "ok",
        **kb.stats(),
        "passage_vectors": len(kb.passage_index()),
        "article_vectors": len(kb.article_index()),
        # Null until the first encode settles it (the model loads lazily).
        "inference_path": kb.embedder.inference_path,
    }
    if kb.manifest_warning:
        body["warning"] = kb.manifest_warning
    feeds = kb.store.feed_statuses()
    if feeds:
        body["feeds"] = [
            {
                "url": f.url,
                "last_poll": f.last_poll,
                "last_success": f.last_success,
                "errors": f.errors,
                "last_error": f.last_error,
                "last_new": f.last_new,
            }
            for f in feeds
        ]
    return _json(body)


@blueprint.get("/ask")
def ask() -> Response:
    """Answer a question with cited passages."""
    question = " ".join((request.args.get("q") or "").split())
    if not question:
        raise KbError(
            "q is required: the question to answer, e.g. ?q=Which+exchange+led+long+liquidations"
        )
    if len(question) > MAX_QUESTION_CHARS:
        raise KbError(f"q must be at most {MAX_QUESTION_CHARS} characters, got {len(question)}")
    k = int_param("k", DEFAULT_K, 1, MAX_K)
    body, cached = state().answers.answer(question, k, date_filters())
    response = current_app.response_class(body, mimetype="application/json")
    response.headers["X-Answer-Cache"] = "hit" if cached else "miss"
    return response


@blueprint.post("/ingest")
def ingest() -> Response:
    """Store articles given as JSON records, URLs to fetch, or uploaded files."""
    require_token()
    app_state = state()
    uploads = request.mimetype == "multipart/form-data"
    # URLs are fetched before the lock, so a slow site never holds up other writes.
    items = [] if uploads else _json_items(json_body())
    with app_state.write_lock:
        if uploads:
            # An upload is held unpacked in memory while read: reading under the lock keeps
            # one in memory at a time however many arrive together.
            items = _uploaded_items()
        try:
            results = app_state.kb.ingest(items)
        finally:
            app_state.answers.invalidate()
    articles = [result.to_dict() for result in results]
    if results and all(result.status == "failed" for result in results):
        # Nothing was stored: the status says so; each item's reason is in "articles".
        first = results[0].error
        more = f" (and {len(results) - 1} more failed)" if len(results) > 1 else ""
        raise KbError(f"no article could be stored: {first}{more}", 422, {"articles": articles})
    return _json({"articles": articles})


def _json_items(data: dict) -> list[Article | IngestError]:
    if ("articles" in data) == ("urls" in data):
        raise KbError(
            "the body must have exactly one of 'articles' (a list of {url, title, "
            "text, published?, source?, author?}) or 'urls' (a list of http(s) URLs)"
        )
    if "urls" in data:
        urls = data["urls"]
        if not isinstance(urls, list) or not 1 <= len(urls) <= MAX_URLS:
            raise KbError(f"'urls' must be a list of 1 to {MAX_URLS} http(s) URLs")
        checked = [http_url(url, f"urls[{i}]") for i, url in enumerate(urls)]
        return list(read_sources(checked, _source_options()))
    records = data["articles"]
    if not isinstance(records, list) or not 1 <= len(records) <= MAX_ARTICLES:
        raise KbError(
            f"'articles' must be a list of 1 to {MAX_ARTICLES} objects with url, title and text"
        )
    items: list[Article | IngestError] = []
    for i, record in enumerate(records):
        try:
            items.append(article_from_record(record, origin=f"articles[{i}]"))
        except IngestError as error:
            items.append(error)
    return items


def _uploaded_items() -> list[Article | IngestError]:
    files = request.files.getlist("file")
    if not files:
        raise KbError(
            "multipart uploads need one or more parts named 'file' (HTML, .html.gz, "
            "saved page text or JSONL)"
        )
    items: list[Article | IngestError] = []
    for number, upload in enumerate(files, start=1):
        name = upload.filename or f"upload-{number}"
        items.extend(read_upload(upload.read(), name, upload.mimetype or None))
    return items


@blueprint.post("/extract")
def extract() -> Response:
    """The figures stated in a text, an HTML page or a fetched URL; nothing is stored."""
    from ingest.facts import extract_facts
    from ingest.gazetteer import load_gazetteer
    from ingest.html import parse_html

    data = json_body()
    given = [name for name in ("text", "html", "url") if name in data]
    if len(given) != 1:
        raise KbError("the body must have exactly one of 'text', 'html' or 'url'")
    name = given[0]
    value = data[name]
    if name != "url" and (not isinstance(value, str) or not value.strip()):
        raise KbError(f"'{name}' must be a non-empty string")
    if name != "url":
        try:
            checked_text(value, name)
        except IngestError as error:
            raise KbError(error.reason) from None
    if name != "url" and len(value) > MAX_EXTRACT_CHARS:
        raise KbError(
            f"'{name}' must be at most {MAX_EXTRACT_CHARS:,} characters, got {len(value):,}",
            status=413,
        )
    title = None
    if name == "text":
        text = value
    elif name == "html":
        article = parse_html(value, origin="html")
        title, text = article.title, article.body
    else:
        article = fetch_article(http_url(value, "url"))
        title, text = article.title, article.body
    facts = [fact.to_dict() for fact in extract_facts(text, load_gazetteer())]
    payload: dict[str, object] = {"facts": facts}
    if name != "text":
        # Fact offsets point into the extracted body, so the client gets it too.
        payload.update({"title": title, "text": text})
    return _json(payload)


def fetch_article(url: str) -> Article:
    """The article at ``url``; a failed fetch is a 502 naming what the upstream said, and a 503
    while FETCH_SLOTS other fetches are running."""
    slots = state().fetch_slots
    if not slots.acquire(blocking=False):
        raise KbError(
            f"the server is already fetching {FETCH_SLOTS} pages; retry in a few seconds",
            status=503,
        )
    try:
        items = list(read_sources([url], _source_options()))
    finally:
        slots.release()
    first = items[0] if items else IngestError("nothing could be read", source=url)
    if isinstance(first, IngestError):
        raise _as_gateway_error(first)
    return first


def _as_gateway_error(error: IngestError) -> IngestError:
    """A fetch failure with the upstream's own status (404, 500…) becomes a 502 of ours."""
    if error.status not in (400, 413, 422, 502, 504):
        error.status = 502
    return error


@blueprint.get("/articles")
def list_articles() -> Response:
    """Articles newest first, filtered and paginated."""
    page = int_param("page", 1, 1, 1_000_000)
    per_page = int_param("per_page", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE)
    filters = listing_filters()
    q = text_param("q", MAX_QUESTION_CHARS)
    found, total = find_articles(_kb(), filters, q, (page - 1) * per_page, per_page)
    return _json(
        {
            "articles": [article_summary(s) for s in found],
            "total": total,
            "page": page,
            "per_page": per_page,
        }
    )


def listing_filters() -> Filters:
    """Date, source and entity filters of an article listing (entity aliases resolved)."""
    filters = date_filters()
    entity = text_param("entity")
    if entity:
        filters.entity = canonical(entity) or entity
    return filters


def find_articles(
    kb: KnowledgeBase, filters: Filters, q: str | None, offset: int, limit: int
) -> tuple[list[StoredArticle], int]:
    """A page of articles newest first, with the total; ``q`` keeps those whose words match."""
    query_ids = None
    if q:
        hits = kb.store.keyword_search(q, KEYWORD_DEPTH, filters)
        passages = kb.store.get_passages(pid for pid, _ in hits)
        query_ids = list(
            dict.fromkeys(passages[pid].passage.article_id for pid, _ in hits if pid in passages)
        )
        if not query_ids:
            return [], 0
    return kb.store.list_articles(filters, offset, limit, query_ids=query_ids)


def article_detail(kb: KnowledgeBase, article_id: str) -> dict[str, object]:
    """One article as plain data: metadata, body, facts, Q/A pairs and related teasers."""
    stored = kb.store.get_article(article_id)
    a = stored.article
    return {
        **article_summary(stored),
        "alternate_urls": a.alternate_urls,
        "headings": a.headings,
        "body": a.body,
        "facts": [fact.to_dict() for fact in kb.store.article_facts(article_id)],
        "qa": [vars(pair) for pair in a.qa],
        "related": [vars(teaser) for teaser in a.related],
    }


@blueprint.get("/articles/<article_id>")
def get_article(article_id: str) -> Response:
    """One article: metadata, body, facts, Q/A pairs and related teasers."""
    return _json(article_detail(_kb(), article_id))


@blueprint.get("/articles/<article_id>/related")
def related_articles(article_id: str) -> Response:
    """Stored articles most similar to this one."""
    from kb.search import related

    k = int_param("k", DEFAULT_K, 1, MAX_K)
    found = related(_kb(), article_id, k)
    return _json({"article_id": article_id, "related": [item.to_dict() for item in found]})


@blueprint.delete("/articles/<article_id>")
def delete_article(article_id: str) -> Response:
    """Delete an article with its passages, facts and vectors."""
    require_token()
    app_state = state()
    with app_state.write_lock:
        try:
            app_state.kb.delete_article(article_id)
        finally:
            app_state.answers.invalidate()
    return _json({"id": article_id, "status": "deleted"})


@blueprint.get("/facts")
def list_facts() -> Response:
    """Stored facts, or per-entity aggregates with the facts behind them."""
    from kb.factquery import (
        DIRECTIONS,
        METRICS,
        SIDES,
        FactQuery,
        aggregate_by_entity,
        find_facts,
    )

    filters = date_filters()
    query = FactQuery(
        entity=text_param("entity"),
        metric=choice_param("metric", METRICS),
        side=choice_param("side", SIDES),
        direction=choice_param("direction", DIRECTIONS),
        window=text_param("window"),
        since=filters.since,
        until=filters.until,
        source=filters.source,
        limit=int_param("limit", DEFAULT_FACTS_LIMIT, 1, MAX_FACTS_LIMIT),
    )
    group_by = choice_param("group_by", GROUP_BY)
    found = find_facts(_kb().store, query)
    if group_by:
        groups = aggregate_by_entity(found)
        return _json({"group_by": group_by, "groups": [g.to_dict() for g in groups]})
    return _json({"facts": [fact.to_dict() for fact in found], "count": len(found)})


def series_query() -> SeriesQuery:
    """The series the request's parameters ask for (entity and metric required)."""
    from kb.factquery import METRICS, SIDES
    from kb.series import SeriesQuery

    # Missing ones are refused by SeriesQuery.validate, with the message the CLI gives too.
    return SeriesQuery(
        entity=text_param("entity") or "",
        metric=choice_param("metric", METRICS) or "",
        side=choice_param("side", SIDES),
        window=text_param("window"),
        unit=text_param("unit", max_chars=12),
        since=date_param("since"),
        until=date_param("until"),
    )


@blueprint.get("/facts/series")
def fact_series() -> Response:
    """The dated points of one entity's metric, copies merged and disagreements marked."""
    from kb.series import fact_series

    return _json(fact_series(_kb().store, series_query()).to_dict())


@blueprint.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3 description of this API."""
    from api.openapi import openapi_document

    # The server is named relative to the document, never from the Host header a client sent.
    return _json(openapi_document("/"))
