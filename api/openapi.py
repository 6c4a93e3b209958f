"""The OpenAPI 3.1 document of the JSON API, built as plain data and served at /api/openapi.json.

A test walks the app's URL map and fails when a route is missing here, so the two stay in step.
"""

from __future__ import annotations

from collections.abc import Iterable

from api import limits
from kb.encoders import PATHS
from kb.factquery import DIRECTIONS, METRICS, SIDES, WINDOW_PATTERN, WINDOWS

_STRING = {"type": "string"}
_NULLABLE_STRING = {"type": ["string", "null"]}
_INTEGER = {"type": "integer"}
_NUMBER = {"type": "number"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _query(
    name: str, description: str, schema: dict | None = None, required: bool = False
) -> dict[str, object]:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": schema or _STRING,
    }


def _path_id() -> dict[str, object]:
    return {
        "name": "article_id",
        "in": "path",
        "required": True,
        "description": "Article id (12 hex digits).",
        "schema": _STRING,
    }


def _ok(schema_name: str, description: str) -> dict[str, object]:
    return {
        "description": description,
        "content": {"application/json": {"schema": _ref(schema_name)}},
    }


def _problems(*statuses: int) -> dict[str, object]:
    reasons = {
        400: "Bad parameter or body; detail says what is accepted",
        401: "No bearer token",
        403: "Wrong token, or writes disabled (no KB_API_TOKEN)",
        404: "Unknown article id",
        413: f"Body over {limits.MAX_CONTENT_LENGTH // (1024 * 1024)} MB",
        415: "Wrong Content-Type",
        422: "A URL or text could not be read as an article (for a batch: none could be "
        "stored; the per-item results are in the problem's articles member)",
        500: "Unexpected server error (logged)",
        502: "The page's server failed or answered with an error",
        503: "Too many pages being fetched at once; retry shortly",
        504: "The page's server did not answer in time",
    }
    return {
        str(status): {
            "description": reasons[status],
            "content": {"application/problem+json": {"schema": _ref("Problem")}},
        }
        for status in statuses
    }


_EXTRACT_TEXT = {"type": "string", "minLength": 1, "maxLength": limits.MAX_EXTRACT_CHARS}
_URL = {"type": "string", "format": "uri", "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://"}
# An optional query parameter given empty is the same as not given (forms send empty fields).
_EMPTY = {"maxLength": 0}


def _choice(values: Iterable[str]) -> dict[str, object]:
    """One of ``values``, or empty for none."""
    return {"type": "string", "enum": [*values, ""]}


# What ingest.dates.filter_date accepts: a day, or an RFC 3339 date-time.
_DATE = {
    "type": "string",
    "description": "YYYY-MM-DD or an ISO 8601 date-time; empty means none",
    "anyOf": [{"format": "date"}, {"format": "date-time"}, _EMPTY],
}
_FILTERS = [
    _query("since", "Published on or after this date.", _DATE),
    _query("until", "Published on or before this date (a bare day includes all of it).", _DATE),
    _query("source", "Only articles from this source (case-insensitive)."),
]
_WRITE = [{"bearerAuth": []}]
_WINDOW_PARAM = _query(
    "window",
    "Time window: a number and a unit (h, d, w or y).",
    {"type": "string", "anyOf": [{"pattern": WINDOW_PATTERN}, _EMPTY], "examples": list(WINDOWS)},
)

_FACT = {
    "type": "object",
    "description": "A figure stated in an article (shared/eval/FACTS.md schema) with its span.",
    "properties": {
        "value": _NUMBER,
        "unit": _STRING,
        "metric": {"type": "string", "enum": list(METRICS)},
        "text": _STRING,
        "start": _INTEGER,
        "end": _INTEGER,
        "sentence": _STRING,
        "entity": _NULLABLE_STRING,
        "entity_type": _NULLABLE_STRING,
        "side": {"type": ["string", "null"], "enum": [*SIDES, None]},
        "direction": {"type": ["string", "null"], "enum": [*DIRECTIONS, None]},
        "window": _NULLABLE_STRING,
        "qualifier": {"type": "string", "enum": ["exact", "approx", "over", "under"]},
        "article_id": _NULLABLE_STRING,
        "passage_id": {"type": ["integer", "null"]},
        "as_of": _NULLABLE_STRING,
    },
}
_ARTICLE_SUMMARY = {
    "type": "object",
    "properties": {
        name: _NULLABLE_STRING
        for name in (
            "id",
            "url",
            "title",
            "source",
            "author",
            "published",
            "updated",
            "language",
            "ingested_at",
            "changed_at",
        )
    },
}
_SCHEMAS: dict[str, object] = {
    "Problem": {
        "type": "object",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": _STRING,
            "title": _STRING,
            "status": _INTEGER,
            "detail": _STRING,
            "instance": _STRING,
        },
    },
    "Health": {
        "type": "object",
        "properties": {
            "status": {"type": "string", "enum": ["ok"]},
            "articles": _INTEGER,
            "passages": _INTEGER,
            "facts": _INTEGER,
            "passage_vectors": _INTEGER,
            "article_vectors": _INTEGER,
            "inference_path": {"type": ["string", "null"], "enum": [*PATHS, None]},
            "warning": _STRING,
            "feeds": {
                "type": "array",
                "description": "Each watched feed (kb watch, kb serve --watch): its last poll, "
                "last success and failures in a row.",
                "items": {
                    "type": "object",
                    "properties": {
                        "url": _STRING,
                        "last_poll": _NULLABLE_STRING,
                        "last_success": _NULLABLE_STRING,
                        "errors": _INTEGER,
                        "last_error": _NULLABLE_STRING,
                        "last_new": _INTEGER,
                    },
                },
            },
        },
    },
    "Fact": _FACT,
    "Citation": {
        "type": "object",
        "properties": {
            "n": _INTEGER,
            "passage_id": _INTEGER,
            "article_id": _STRING,
            "url": _NULLABLE_STRING,
            "title": _STRING,
            "source": _NULLABLE_STRING,
            "published": _NULLABLE_STRING,
            "text": {"type": "string", "description": "The cited passage."},
            "start": {"type": "integer", "description": "Passage offset in the article body."},
            "end": _INTEGER,
            "highlight": {
                "type": "array",
                "items": _INTEGER,
                "minItems": 2,
                "maxItems": 2,
                "description": "[start, end] of the answering sentence inside text.",
            },
            "score": _NUMBER,
        },
    },
    "Answer": {
        "type": "object",
        "properties": {
            "question": _STRING,
            "answer": {
                "type": "string",
                "description": "One to three sentences; figures carry [n].",
            },
            "kind": {"type": "string", "enum": ["ranking", "figure", "passage", "none"]},
            "as_of": {
                "type": ["string", "null"],
                "format": "date",
                "description": "Date of the commentary the answer relies on; null if undated.",
            },
            "confidence": {
                "type": "number",
                "minimum": 0,
                "maximum": 1,
                "description": "How sure the model is that the corpus answers at all.",
            },
            "facts": {
                "type": "array",
                "items": {
                    "allOf": [
                        _ref("Fact"),
                        {"type": "object", "properties": {"citation": _INTEGER}},
                    ]
                },
            },
            "earlier": {
                "type": ["object", "null"],
                "description": "Other dated figures of this entity and metric, and a link.",
                "properties": {
                    "count": _INTEGER,
                    "earlier": {"type": ["integer", "null"]},
                    "later": {"type": ["integer", "null"]},
                    "url": _STRING,
                },
            },
            "citations": {"type": "array", "items": _ref("Citation")},
        },
    },
    "ArticleRecord": {
        "type": "object",
        "required": ["text"],
        "description": "null for an optional field means it is not given.",
        "properties": {
            "url": _NULLABLE_STRING,
            "title": _NULLABLE_STRING,
            "text": {"type": "string", "minLength": 1},
            "published": _NULLABLE_STRING,
            "source": _NULLABLE_STRING,
            "author": _NULLABLE_STRING,
        },
    },
    "IngestRequest": {
        "oneOf": [
            {
                "type": "object",
                "required": ["articles"],
                "properties": {
                    "articles": {
                        "type": "array",
                        "items": _ref("ArticleRecord"),
                        "minItems": 1,
                        "maxItems": limits.MAX_ARTICLES,
                    }
                },
            },
            {
                "type": "object",
                "required": ["urls"],
                "properties": {
                    "urls": {
                        "type": "array",
                        "items": {"type": "string", "format": "uri"},
                        "minItems": 1,
                        "maxItems": limits.MAX_URLS,
                    }
                },
            },
        ]
    },
    "IngestResults": {
        "type": "object",
        "properties": {
            "articles": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "id": _NULLABLE_STRING,
                        "url": _NULLABLE_STRING,
                        "title": _NULLABLE_STRING,
                        "status": {
                            "type": "string",
                            "enum": ["new", "updated", "unchanged", "duplicate", "failed"],
                        },
                        "error": _STRING,
                        "duplicate_of": _STRING,
                    },
                },
            }
        },
    },
    "ExtractRequest": {
        "oneOf": [
            {"type": "object", "required": ["text"], "properties": {"text": _EXTRACT_TEXT}},
            {"type": "object", "required": ["html"], "properties": {"html": _EXTRACT_TEXT}},
            {"type": "object", "required": ["url"], "properties": {"url": _URL}},
        ]
    },
    "ExtractResult": {
        "type": "object",
        "properties": {
            "facts": {"type": "array", "items": _ref("Fact")},
            "title": {"type": "string", "description": "Only for html and url input."},
            "text": {
                "type": "string",
                "description": "The extracted body the spans refer to (html and url input only).",
            },
        },
    },
    "ArticleSummary": _ARTICLE_SUMMARY,
    "ArticleList": {
        "type": "object",
        "properties": {
            "articles": {"type": "array", "items": _ref("ArticleSummary")},
            "total": _INTEGER,
            "page": _INTEGER,
            "per_page": _INTEGER,
        },
    },
    "Article": {
        "allOf": [
            _ref("ArticleSummary"),
            {
                "type": "object",
                "properties": {
                    "alternate_urls": {"type": "array", "items": _STRING},
                    "headings": {"type": "array", "items": _STRING},
                    "body": _STRING,
                    "facts": {"type": "array", "items": _ref("Fact")},
                    "qa": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {"question": _STRING, "answer": _STRING},
                        },
                    },
                    "related": {
                        "type": "array",
                        "description": "Teasers the page itself showed.",
                        "items": {
                            "type": "object",
                            "properties": {
                                "title": _STRING,
                                "summary": _STRING,
                                "source": _NULLABLE_STRING,
                                "time": _NULLABLE_STRING,
                                "url": _NULLABLE_STRING,
                            },
                        },
                    },
                },
            },
        ]
    },
    "RelatedList": {
        "type": "object",
        "properties": {
            "article_id": _STRING,
            "related": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "article_id": _STRING,
                        "url": _NULLABLE_STRING,
                        "title": _STRING,
                        "source": _NULLABLE_STRING,
                        "published": _NULLABLE_STRING,
                        "similarity": {
                            "type": "number",
                            "description": "Cosine of mean passage vectors.",
                        },
                    },
                },
            },
        },
    },
    "Deleted": {
        "type": "object",
        "properties": {"id": _STRING, "status": {"type": "string", "enum": ["deleted"]}},
    },
    "Series": {
        "type": "object",
        "required": ["entity", "metric", "points", "count", "units", "undated"],
        "properties": {
            "entity": _STRING,
            "metric": {"type": "string", "enum": list(METRICS)},
            "side": {"type": ["string", "null"], "enum": [*SIDES, None]},
            "window": _NULLABLE_STRING,
            "unit": _NULLABLE_STRING,
            "units": {"type": "object", "additionalProperties": _INTEGER},
            "since": _NULLABLE_STRING,
            "until": _NULLABLE_STRING,
            "count": _INTEGER,
            "disputed": _INTEGER,
            "undated": _INTEGER,
            "points": {"type": "array", "items": _ref("SeriesPoint")},
        },
    },
    "SeriesPoint": {
        "type": "object",
        "required": ["day", "value", "unit", "citations", "disputed"],
        "properties": {
            "day": {"type": "string", "format": "date"},
            "day_stated": {"type": "boolean"},
            "value": _NUMBER,
            "unit": _STRING,
            "qualifier": _STRING,
            "side": _NULLABLE_STRING,
            "window": _NULLABLE_STRING,
            "text": _STRING,
            "citations": {"type": "array", "minItems": 1, "items": _ref("FigureCitation")},
            "disputed": {"type": "boolean"},
            "disputed_with": {"type": "array", "items": _ref("SeriesPoint")},
        },
    },
    "FigureCitation": {
        "type": "object",
        "required": ["article_id", "start", "end", "text"],
        "properties": {
            "article_id": _STRING,
            "passage_id": {"type": ["integer", "null"]},
            "start": _INTEGER,
            "end": _INTEGER,
            "text": _STRING,
            "sentence": _STRING,
            "title": _NULLABLE_STRING,
            "url": _NULLABLE_STRING,
            "source": _NULLABLE_STRING,
            "published": _NULLABLE_STRING,
        },
    },
    "FactList": {
        "oneOf": [
            {
                "type": "object",
                "required": ["facts", "count"],
                "additionalProperties": False,
                "properties": {
                    "facts": {"type": "array", "items": _ref("Fact")},
                    "count": _INTEGER,
                },
            },
            {
                "type": "object",
                "required": ["group_by", "groups"],
                "additionalProperties": False,
                "properties": {
                    "group_by": {"type": "string", "enum": ["entity"]},
                    "groups": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "entity": _NULLABLE_STRING,
                                "unit": _STRING,
                                "sum": _NUMBER,
                                "max": _NUMBER,
                                "count": _INTEGER,
                                "facts": {"type": "array", "items": _ref("Fact")},
                            },
                        },
                    },
                },
            },
        ]
    },
}

_PATHS: dict[str, object] = {
    "/api/health": {
        "get": {
            "summary": "Liveness and counts of stored articles, passages and facts.",
            "responses": {"200": _ok("Health", "Counts")},
        }
    },
    "/api/ask": {
        "get": {
            "summary": "Answer a question from stored facts and passages, with citations.",
            "parameters": [
                _query(
                    "q",
                    "The question.",
                    {"type": "string", "minLength": 1, "maxLength": limits.MAX_QUESTION_CHARS},
                    required=True,
                ),
                _query(
                    "k",
                    "Most passages to cite.",
                    {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": limits.MAX_K,
                        "default": limits.DEFAULT_K,
                    },
                ),
                *_FILTERS,
            ],
            "responses": {
                "200": _ok("Answer", "The answer; header X-Answer-Cache says hit or miss"),
                **_problems(400, 500),
            },
        }
    },
    "/api/ingest": {
        "post": {
            "summary": "Store articles given as records, URLs to fetch, or uploaded files.",
            "security": _WRITE,
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": _ref("IngestRequest")},
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "required": ["file"],
                            "properties": {
                                "file": {
                                    "type": "array",
                                    "items": {"type": "string", "format": "binary"},
                                    "description": "HTML, .html.gz, saved page text or JSONL files",
                                }
                            },
                        }
                    },
                },
            },
            "responses": {
                "200": _ok("IngestResults", "One result per article, in input order"),
                **_problems(400, 401, 403, 413, 415, 422),
            },
        }
    },
    "/api/extract": {
        "post": {
            "summary": "Extract the figures of a text, an HTML page or a URL; nothing is stored.",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("ExtractRequest")}},
            },
            "responses": {
                "200": _ok("ExtractResult", "Facts with spans"),
                **_problems(400, 413, 415, 422, 502, 503, 504),
            },
        }
    },
    "/api/articles": {
        "get": {
            "summary": "Articles newest first, filtered and paginated.",
            "parameters": [
                *_FILTERS,
                _query("entity", "Only articles with a fact about this entity (aliases resolve)."),
                _query("q", "Keyword search over passages."),
                _query("page", "Page number.", {"type": "integer", "minimum": 1, "default": 1}),
                _query(
                    "per_page",
                    "Articles per page.",
                    {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": limits.MAX_PER_PAGE,
                        "default": limits.DEFAULT_PER_PAGE,
                    },
                ),
            ],
            "responses": {
                "200": _ok("ArticleList", "A page of article summaries"),
                **_problems(400),
            },
        }
    },
    "/api/articles/{article_id}": {
        "get": {
            "summary": "One article with body, facts, Q/A pairs and related teasers.",
            "parameters": [_path_id()],
            "responses": {"200": _ok("Article", "The article"), **_problems(404)},
        },
        "delete": {
            "summary": "Delete an article with its passages, facts and vectors.",
            "security": _WRITE,
            "parameters": [_path_id()],
            "responses": {"200": _ok("Deleted", "Deleted"), **_problems(401, 403, 404)},
        },
    },
    "/api/articles/{article_id}/related": {
        "get": {
            "summary": "Stored articles most similar to this one.",
            "parameters": [
                _path_id(),
                _query(
                    "k",
                    "Most articles to return.",
                    {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": limits.MAX_K,
                        "default": limits.DEFAULT_K,
                    },
                ),
            ],
            "responses": {"200": _ok("RelatedList", "Similar articles"), **_problems(400, 404)},
        }
    },
    "/api/facts": {
        "get": {
            "summary": "Stored facts, or per-entity aggregates with the facts behind them.",
            "parameters": [
                _query("entity", "Canonical entity or alias (BTC finds Bitcoin)."),
                _query("metric", "Metric.", _choice(METRICS)),
                _query("side", "Side.", _choice(SIDES)),
                _query("direction", "Direction.", _choice(DIRECTIONS)),
                _WINDOW_PARAM,
                *_FILTERS,
                _query("group_by", "Aggregate per entity.", _choice(["entity"])),
                _query(
                    "limit",
                    "Most facts to read.",
                    {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": limits.MAX_FACTS_LIMIT,
                        "default": limits.DEFAULT_FACTS_LIMIT,
                    },
                ),
            ],
            "responses": {"200": _ok("FactList", "Facts or groups"), **_problems(400)},
        }
    },
    "/api/facts/series": {
        "get": {
            "summary": "The dated points of one entity's metric: copies of a figure counted "
            "once, points where sources disagree by over 5% marked disputed.",
            "parameters": [
                _query(
                    "entity",
                    "Canonical entity or alias (BTC finds Bitcoin).",
                    {"type": "string", "minLength": 1, "maxLength": 200},
                    required=True,
                ),
                _query(
                    "metric",
                    "Metric.",
                    {"type": "string", "enum": list(METRICS)},
                    required=True,
                ),
                _query("side", "Side.", _choice(SIDES)),
                _WINDOW_PARAM,
                _query(
                    "unit",
                    "Only points in this unit (USD, %, BTC…).",
                    {"type": "string", "maxLength": 12},
                ),
                _query("since", "Points on or after this day.", _DATE),
                _query("until", "Points on or before this day.", _DATE),
            ],
            "responses": {"200": _ok("Series", "Dated points"), **_problems(400)},
        }
    },
    "/api/openapi.json": {
        "get": {
            "summary": "This document.",
            "responses": {
                "200": {
                    "description": "OpenAPI 3.1 document",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        }
    },
}


def openapi_document(server_url: str = "") -> dict[str, object]:
    """The OpenAPI 3.1 document, with ``server_url`` as its server when given."""
    document: dict[str, object] = {
        "openapi": "3.1.0",
        "info": {
            "title": "marketkb",
            "version": "0.2.0",
            "description": "Answers from market commentary with cited passages, article "
            "browsing and figure extraction. Errors are "
            "application/problem+json.",
        },
        "paths": _PATHS,
        "components": {
            "schemas": _SCHEMAS,
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The server's KB_API_TOKEN",
                }
            },
        },
    }
    if server_url:
        document["servers"] = [{"url": server_url}]
    return document
