"""The marketkb web application: ``create_app`` builds a Flask app over one data directory."""

from __future__ import annotations

from collections.abc import Mapping

from flask import Flask

from api.limits import MAX_CONTENT_LENGTH
from api.state import EXTENSION, AppState
from kb.config import load_settings
from kb.knowledge import KnowledgeBase

__all__ = ["EXTENSION", "AppState", "create_app"]


def create_app(config: Mapping[str, object] | None = None) -> Flask:
    """An app configured from defaults, then ``KB_*`` environment variables, then ``config``.

    ``config`` takes the setting names of ``kb.config.SETTINGS``; a ``kb`` entry may hand in an
    already open KnowledgeBase (tests and ``kb serve`` share one that way).
    """
    config = dict(config or {})
    kb = config.pop("kb", None)
    settings = load_settings(config)
    if kb is None:
        kb = KnowledgeBase(
            settings["data_dir"],
            max_passage_tokens=settings["max_passage_tokens"],
            approx_threshold=settings["approx_threshold"],
            inference=settings["inference"],
        )
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_CONTENT_LENGTH
    app.json.sort_keys = False
    app.json.ensure_ascii = False
    app.extensions[EXTENSION] = AppState(kb, settings)

    from api.errors import register_error_handlers
    from api.pages import pages
    from api.routes import blueprint
    from api.security import register_security_headers

    register_error_handlers(app)
    register_security_headers(app)
    app.register_blueprint(blueprint)
    app.register_blueprint(pages)
    return app
