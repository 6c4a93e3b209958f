"""Running the app under waitress: load the model once, seed an empty store, log each request."""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from flask import Flask

from api import EXTENSION, create_app
from ingest.sources import read_sources
from kb.knowledge import KnowledgeBase

request_log = logging.getLogger("marketkb.requests")
watch_log = logging.getLogger("marketkb.watch")

SAMPLE_CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "digests.jsonl"

WsgiApp = Callable[[dict, Callable], Iterable[bytes]]


class RequestLog:
    """WSGI middleware logging one line per request: method, path, status, milliseconds.

    Only the path is logged: never the query string (it holds questions), headers or tokens.
    """

    def __init__(self, app: WsgiApp, logger: logging.Logger = request_log) -> None:
        self.app = app
        self.logger = logger

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        status: list[str] = ["-"]

        def recording_start_response(code: str, headers: list, exc_info: Any = None) -> Any:
            status[0] = code.split(" ", 1)[0]
            return start_response(code, headers, exc_info)

        try:
            return self.app(environ, recording_start_response)
        finally:
            ms = (time.perf_counter() - started) * 1000
            self.logger.info(
                "%s %s %s %.1fms",
                environ.get("REQUEST_METHOD", "-"),
                environ.get("PATH_INFO", "-"),
                status[0],
                ms,
            )


def ingest_sample_if_empty(kb: KnowledgeBase, sample: Path = SAMPLE_CORPUS) -> int:
    """Ingest the shipped sample corpus into an empty store; returns how many were stored."""
    if kb.stats()["articles"] or not sample.is_file():
        return 0
    results = kb.ingest(read_sources([str(sample)]))
    stored = sum(result.status == "new" for result in results)
    print(f"ingested {stored} sample articles from {sample}", flush=True)
    return stored


def warm_up(kb: KnowledgeBase) -> None:
    """Load the model, choose the query path and open the indexes before the first request."""
    kb.embedder.encode_query("warm up: which exchange saw the most long liquidations?")
    kb.passage_index()


def serve(settings: dict[str, object]) -> None:
    """Serve the API for ``settings`` (as from kb.config.load_settings) until interrupted."""
    from waitress import create_server

    request_log.setLevel(logging.INFO)
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    feeds, every = None, 0.0
    if settings.get("watch"):
        from kb.watch import parse_every, read_feed_list

        # Checked before the model loads, so a typo fails at once with a clear message.
        feeds = read_feed_list([str(settings["watch"])])
        every = parse_every(str(settings["watch_every"]))
        watch_log.setLevel(logging.INFO)
    app = create_app(settings)
    kb: KnowledgeBase = app.extensions[EXTENSION].kb
    warm_up(kb)
    if not settings.get("no_sample"):
        ingest_sample_if_empty(kb)
    server = create_server(
        RequestLog(app),
        host=str(settings["host"]),
        port=int(settings["port"]),
        threads=int(settings["threads"]),
        ident="marketkb",
    )
    host, port = settings["host"], server.effective_port
    print(
        f"marketkb serving {kb.stats()['articles']} articles on http://{host}:{port}/", flush=True
    )
    stop = threading.Event()
    watching = start_watching(app, feeds, every, settings, stop) if feeds else None
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        stop.set()
        if watching is not None:
            # The watcher stops between items: the one being stored is finished first.
            watching.join()
        sys.stdout.flush()


def start_watching(
    app: Flask, feeds: list[str], every: float, settings: dict[str, object], stop: threading.Event
) -> threading.Thread:
    """Run a watcher of ``feeds`` (each polled every ``every`` seconds) in a thread of this
    process, writing under the app's write lock (as POST /api/ingest does) and refreshing cached
    answers after each stored item."""
    from kb.watch import FeedWatcher, WatchSettings

    app_state = app.extensions[EXTENSION]
    watcher = FeedWatcher(
        app_state.kb,
        feeds,
        WatchSettings(
            every=every,
            allow_private=bool(settings["allow_private_urls"]),
        ),
        write_lock=app_state.write_lock,
        on_round=lambda done: watch_log.info("%s", done.line()),
        on_stored=app_state.answers.invalidate,
    )
    thread = threading.Thread(target=watcher.run, args=(stop,), name="kb-watch", daemon=True)
    thread.start()
    print(f"watching {len(watcher.feeds)} feeds from {settings['watch']}", flush=True)
    return thread
