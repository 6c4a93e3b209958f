"""Watching feeds (kb.watch, ``kb watch``, ``kb serve --watch``) against feeds served on
127.0.0.1 whose items change between polls; the pages and feeds are written here.

Polls are driven one at a time (``poll`` / ``poll_all``), and the scheduling loop by its own
events, so no test depends on how long anything takes.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import copy_model_into, serving
from support.http_server import LocalServer, Route

from kb.errors import KbError
from kb.knowledge import KnowledgeBase
from kb.watch import FeedWatcher, WatchSettings, parse_every, read_feed_list

EVERY = 600.0


def page(n: int) -> bytes:
    """A made-up commentary page, different for each ``n``."""
    return (
        f"<html><head><title>Watch note {n}</title></head><body><article>"
        f"<h1>Watch note {n}</h1>"
        f"<p>Desk note number {n} for the watcher tests. Bybit recorded ${10 + n} million in "
        f"long liquidations during session {n}, while the funding rate held near 0.0{n}%.</p>"
        f"<p>Traders watched item {n} closely through the afternoon, comparing the move with "
        f"earlier sessions and the positioning data each desk keeps for item {n}.</p>"
        f"<p>Market makers widened quotes for a while before calm returned; the note on "
        f"item {n} ends here with no further figures to report.</p>"
        "</article></body></html>"
    ).encode()


def rss(items: list[int], prefix: str = "") -> bytes:
    """An RSS feed linking to the pages of ``items``."""
    entries = "".join(
        f"<item><title>Watch note {n}</title><link>{prefix}/item{n}.html</link>"
        f"<pubDate>Mon, 0{n % 9 + 1} Mar 2032 10:00:00 GMT</pubDate></item>"
        for n in items
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Watch feed</title>'
        f"{entries}</channel></rss>"
    ).encode()


def serve_feed(server: LocalServer, path: str, items: list[int], version: str) -> None:
    """(Re)publish ``path`` with ``items``; the ETag names the version."""
    server.routes[path] = Route(
        body=rss(items), content_type="application/rss+xml", etag=f'"{path}-{version}"'
    )
    for n in items:
        server.routes[f"/item{n}.html"] = Route(body=page(n))


def item_requests(server: LocalServer) -> list[str]:
    return [r.path for r in server.requests if r.path.startswith("/item")]


@pytest.fixture
def kb(tmp_path: Path, model_data_dir: Path, embedder) -> KnowledgeBase:  # noqa: ANN001
    copy_model_into(model_data_dir, tmp_path / "data")
    return KnowledgeBase(tmp_path / "data", embedder=embedder)


@pytest.fixture
def site() -> Iterator[LocalServer]:
    with LocalServer() as server:
        yield server


def watcher(kb: KnowledgeBase, feeds: list[str], **settings: object) -> FeedWatcher:
    options = {"every": EVERY, "allow_private": True, **settings}
    return FeedWatcher(kb, feeds, WatchSettings(**options), seed=1)  # type: ignore[arg-type]


def test_new_items_are_ingested_and_seen_ones_are_not_fetched_again(kb, site) -> None:
    serve_feed(site, "/feed.xml", [1, 2], "v1")
    watch = watcher(kb, [site.url("/feed.xml")])
    first = watch.poll(site.url("/feed.xml"))
    assert (first.outcome, first.stored) == ("new", 2)
    serve_feed(site, "/feed.xml", [1, 2, 3], "v2")
    second = watch.poll(site.url("/feed.xml"))
    assert (second.outcome, second.stored) == ("new", 1)
    assert sorted(item_requests(site)) == ["/item1.html", "/item2.html", "/item3.html"]
    assert kb.stats()["articles"] == 3


def test_an_unchanged_feed_is_asked_conditionally_and_answers_304(kb, site) -> None:
    serve_feed(site, "/feed.xml", [1], "v1")
    watch = watcher(kb, [site.url("/feed.xml")])
    watch.poll(site.url("/feed.xml"))
    again = watch.poll(site.url("/feed.xml"))
    assert again.outcome == "unchanged"
    feed_requests = [r for r in site.requests if r.path == "/feed.xml"]
    assert feed_requests[-1].headers.get("If-None-Match") == '"/feed.xml-v1"'
    assert item_requests(site) == ["/item1.html"]


def test_a_restarted_watcher_remembers_what_it_read(kb, site, embedder) -> None:  # noqa: ANN001
    serve_feed(site, "/feed.xml", [1, 2], "v1")
    watcher(kb, [site.url("/feed.xml")]).poll(site.url("/feed.xml"))
    kb.store.close()
    # A new process: a new knowledge base over the same directory, and a new feed version that
    # lists the same items plus one.
    serve_feed(site, "/feed.xml", [1, 2, 4], "v2")
    reopened = KnowledgeBase(kb.data_dir, embedder=embedder)
    done = watcher(reopened, [site.url("/feed.xml")]).poll(site.url("/feed.xml"))
    assert (done.outcome, done.stored) == ("new", 1)
    assert sorted(item_requests(site)) == ["/item1.html", "/item2.html", "/item4.html"]


def test_a_broken_feed_backs_off_without_stopping_the_others_then_recovers(kb, site) -> None:
    site.routes["/broken.xml"] = Route(body=b"down", status=500, content_type="text/plain")
    serve_feed(site, "/good.xml", [5], "v1")
    watch = watcher(kb, [site.url("/broken.xml"), site.url("/good.xml")])
    broken, good = watch.poll_all()
    assert broken.outcome == "failed" and "HTTP 500" in (broken.reason or "")
    assert broken.retry_in == 2 * EVERY
    assert (good.outcome, good.stored) == ("new", 1)
    assert watch.poll(site.url("/broken.xml")).retry_in == 4 * EVERY
    assert kb.store.feed_status(site.url("/broken.xml")).errors == 2

    serve_feed(site, "/broken.xml", [6], "v1")
    recovered = watch.poll(site.url("/broken.xml"))
    assert (recovered.outcome, recovered.stored) == ("new", 1)
    status = kb.store.feed_status(site.url("/broken.xml"))
    assert (status.errors, status.last_error) == (0, None)
    assert 0.9 * EVERY <= recovered.retry_in <= 1.1 * EVERY


def test_an_unexpected_error_fails_that_feed_and_the_others_are_still_polled(kb, site) -> None:
    serve_feed(site, "/first.xml", [7], "v1")
    serve_feed(site, "/second.xml", [8], "v1")
    calls = []

    def breaks_once() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("callback broke")

    feeds = [site.url("/first.xml"), site.url("/second.xml")]
    settings = WatchSettings(every=EVERY, allow_private=True)
    watch = FeedWatcher(kb, feeds, settings, on_stored=breaks_once, seed=1)
    first, second = watch.poll_all()
    assert first.outcome == "failed" and first.reason == "RuntimeError: callback broke"
    assert first.retry_in == 2 * EVERY
    assert kb.store.feed_status(feeds[0]).last_error == "RuntimeError: callback broke"
    assert (second.outcome, second.stored) == ("new", 1)


def test_a_slow_feed_times_out_and_the_next_feed_is_still_read(kb, site) -> None:
    site.routes["/slow.xml"] = Route(body=rss([7]), content_type="application/rss+xml", delay=5)
    serve_feed(site, "/quick.xml", [8], "v1")
    watch = watcher(kb, [site.url("/slow.xml"), site.url("/quick.xml")], timeout=0.5)
    slow, quick = watch.poll_all()
    assert slow.outcome == "failed"
    assert (quick.outcome, quick.stored) == ("new", 1)


def test_a_page_that_is_not_a_feed_is_a_failure_with_its_reason(kb, site) -> None:
    site.routes["/page.html"] = Route(body=page(9))
    done = watcher(kb, [site.url("/page.html")]).poll(site.url("/page.html"))
    assert done.outcome == "failed" and "not an RSS or Atom feed" in (done.reason or "")
    assert kb.stats()["articles"] == 0


def test_stopping_takes_effect_between_items_and_the_rest_is_read_next_time(kb, site) -> None:
    serve_feed(site, "/feed.xml", [1, 2, 3], "v1")
    stop = threading.Event()
    watch = FeedWatcher(
        kb,
        [site.url("/feed.xml")],
        WatchSettings(every=EVERY, allow_private=True),
        on_stored=stop.set,  # as a SIGTERM arriving while the first item is stored
    )
    first = watch.poll(site.url("/feed.xml"), stop)
    assert first.stored == 1 and kb.stats()["articles"] == 1
    rest = watch.poll(site.url("/feed.xml"))
    assert (rest.outcome, rest.stored) == ("new", 2)


def test_the_loop_polls_each_feed_when_due_until_stopped(kb, site) -> None:
    serve_feed(site, "/a.xml", [1], "v1")
    serve_feed(site, "/b.xml", [2], "v1")
    rounds: list[str] = []
    stop = threading.Event()

    def record(done) -> None:  # noqa: ANN001
        rounds.append(done.outcome)
        if len(rounds) >= 4:
            stop.set()

    watch = FeedWatcher(
        kb,
        [site.url("/a.xml"), site.url("/b.xml")],
        WatchSettings(every=0.01, jitter=0.0, allow_private=True),
        on_round=record,
    )
    thread = threading.Thread(target=watch.run, args=(stop,), daemon=True)
    thread.start()
    thread.join(timeout=120)
    assert not thread.is_alive()
    assert rounds[:2] == ["new", "new"] and set(rounds[2:4]) == {"unchanged"}


def test_feed_lists_come_from_urls_and_files(tmp_path: Path) -> None:
    listing = tmp_path / "feeds.txt"
    listing.write_text(
        "# desk feeds\nhttps://example.test/a.xml\n\nhttps://example.test/b.xml  # second\n"
    )
    assert read_feed_list([str(listing), "https://example.test/a.xml"]) == [
        "https://example.test/a.xml",
        "https://example.test/b.xml",
    ]
    with pytest.raises(KbError, match="no such file"):
        read_feed_list([str(tmp_path / "missing.txt")])
    (tmp_path / "bad.txt").write_text("ftp://example.test/feed\n")
    with pytest.raises(KbError, match="http or https"):
        read_feed_list([str(tmp_path / "bad.txt")])


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("10m", 600), ("2h", 7200), ("45", 45)])
def test_intervals_read_with_their_unit(text: str, seconds: float) -> None:
    assert parse_every(text) == seconds


@pytest.mark.parametrize("text", ["soon", "0s", "30d", "nan"])
def test_bad_intervals_are_refused(text: str) -> None:
    with pytest.raises(KbError, match="interval"):
        parse_every(text)


def test_health_lists_each_watched_feed(kb, site) -> None:
    from api import create_app

    serve_feed(site, "/feed.xml", [1], "v1")
    site.routes["/gone.xml"] = Route(body=b"", status=404)
    watcher(kb, [site.url("/feed.xml"), site.url("/gone.xml")]).poll_all()
    app = create_app({"data_dir": str(kb.data_dir), "kb": kb})
    feeds = {f["url"]: f for f in app.test_client().get("/api/health").get_json()["feeds"]}
    assert feeds[site.url("/feed.xml")]["errors"] == 0
    assert feeds[site.url("/feed.xml")]["last_new"] == 1
    assert feeds[site.url("/gone.xml")]["errors"] == 1
    assert "HTTP 404" in feeds[site.url("/gone.xml")]["last_error"]


def test_kb_watch_once_prints_one_line_per_feed(kb, site) -> None:
    from click.testing import CliRunner

    from cli.main import main

    serve_feed(site, "/feed.xml", [3], "v1")
    site.routes["/gone.xml"] = Route(body=b"", status=404)
    kb.store.close()
    args = ["--data-dir", str(kb.data_dir), "watch", "--once", "--allow-private-urls"]
    result = CliRunner().invoke(main, [*args, site.url("/feed.xml"), site.url("/gone.xml")])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(line.startswith(f"{site.url('/feed.xml')}: 1 new; next poll in ") for line in lines)
    assert any(line.startswith(f"{site.url('/gone.xml')}: failed: ") for line in lines)


@pytest.mark.slow
def test_kb_serve_watch_ingests_new_items_while_serving(tmp_path: Path, model_data_dir: Path, site):  # noqa: ANN001
    serve_feed(site, "/feed.xml", [1, 2], "v1")
    feeds = tmp_path / "feeds.txt"
    feeds.write_text(site.url("/feed.xml") + "\n")
    copy_model_into(model_data_dir, tmp_path / "data")
    env = {
        "KB_NO_SAMPLE": "1",
        "KB_ALLOW_PRIVATE_URLS": "1",
        "KB_WATCH": str(feeds),
        "KB_WATCH_EVERY": "1s",
    }
    with serving(tmp_path / "data", tmp_path / "server.log", env) as server:
        health = wait_for_feed(server.base_url, lambda f: f["last_new"] == 2)
        serve_feed(site, "/feed.xml", [1, 2, 3], "v2")
        wait_for_feed(server.base_url, lambda f: f["last_new"] == 1)
        with urllib.request.urlopen(f"{server.base_url}/api/articles?per_page=10") as reply:
            titles = {a["title"] for a in json.load(reply)["articles"]}
        assert titles == {"Watch note 1", "Watch note 2", "Watch note 3"}
        assert health["feeds"][0]["errors"] == 0
        assert f"{site.url('/feed.xml')}: 2 new" in server.output()


def wait_for_feed(base_url: str, done, limit: float = 120.0) -> dict:  # noqa: ANN001
    """/api/health once its first feed satisfies ``done`` (polled; fails after ``limit``)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{base_url}/api/health") as reply:
            health = json.load(reply)
        if health.get("feeds") and done(health["feeds"][0]):
            return health
        time.sleep(0.1)
    raise AssertionError(f"the watched feed never got there: {health.get('feeds')}")


@pytest.mark.slow
def test_kb_watch_stops_on_sigterm_after_the_item_in_hand(
    tmp_path: Path, model_data_dir: Path, site
):  # noqa: ANN001
    import signal
    import subprocess
    import sys

    from conftest import ROOT

    from kb.store import Store

    serve_feed(site, "/feed.xml", [1, 2], "v1")
    # The first item's page is slow to arrive, so the signal lands while it is being read.
    site.routes["/item1.html"] = Route(body=page(1), body_delay=3.0)
    copy_model_into(model_data_dir, tmp_path / "data")
    command = [sys.executable, "-m", "cli", "--data-dir", str(tmp_path / "data"), "watch"]
    process = subprocess.Popen(
        [*command, "--allow-private-urls", site.url("/feed.xml")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while "/item1.html" not in item_requests(site) and time.monotonic() < deadline:
            assert process.poll() is None, process.stdout.read()
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert "SIGTERM: stopping after the current item" in output and "stopped" in output
    store = Store(tmp_path / "data" / "kb.sqlite3")
    titles = {a.article.title for a in map(store.get_article, store.article_ids())}
    assert titles == {"Watch note 1"}
    assert item_requests(site) == ["/item1.html"]
