"""Every API error as RFC 9457 ``application/problem+json``: type, title, status and detail.

Domain errors (KbError, IngestError) carry their own status and a detail written for the user;
HTTP errors raised by Flask/Werkzeug (404 route, 405, 413, 415) keep theirs. Anything else is a
bug: the client gets a generic 500 and the traceback goes to the server log only.
"""

from __future__ import annotations

import logging
from http import HTTPStatus

from flask import Flask, Response, json, request
from werkzeug.exceptions import HTTPException

from ingest.errors import IngestError
from kb.errors import KbError

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


def problem(status: int, detail: str, extra: dict | None = None) -> Response:
    """A problem+json response with the standard title of ``status`` (and ``extra`` members)."""
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if request:
        body["instance"] = request.path
    body.update(extra or {})
    return Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)


def _respond(status: int, detail: str, extra: dict | None = None) -> Response:
    """problem+json under /api; a friendly HTML page for a person browsing anywhere else."""
    if request and request.path != "/api" and not request.path.startswith("/api/"):
        from api.pages import error_page

        page, status = error_page(status, detail)
        return Response(page, status=status, mimetype="text/html")
    return problem(status, detail, extra)


def _kb_error(error: KbError) -> Response:
    return _respond(error.status, error.detail, error.extra)


def _ingest_error(error: IngestError) -> Response:
    return _respond(error.status, str(error))


def _http_error(error: HTTPException) -> Response:
    response = _respond(error.code or 500, error.description or "")
    if error.code == 405 and error.valid_methods:
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


def _unexpected(error: Exception) -> Response:
    if isinstance(error, HTTPException):
        return _http_error(error)
    log.exception("unhandled error on %s %s", request.method, request.path)
    return _respond(500, "the server hit an unexpected error; it has been logged")


def register_error_handlers(app: Flask) -> None:
    """Route every error of ``app`` through problem+json (or an HTML page outside /api)."""
    app.register_error_handler(KbError, _kb_error)
    app.register_error_handler(IngestError, _ingest_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
