"""Reading what a user names: files, directories, JSONL exports, URLs and feeds, and bad input."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from support.http_server import LocalServer, Route

from ingest.errors import IngestError
from ingest.jsonl import parse_jsonl
from ingest.records import Article
from ingest.sources import (
    SourceOptions,
    commentary_text,
    read_source,
    read_sources,
    read_upload,
)

SHARED = Path(__file__).resolve().parents[2] / "shared"
BENCH_PAGES = SHARED / "bench" / "article-extraction" / "html"
SEED = SHARED / "seed" / "000_e760251becf4f2f2.txt"
LOCAL = SourceOptions(allow_private=True)
PARAGRAPH = (
    "Bitcoin futures open interest rose to a record as traders piled into leveraged "
    "longs ahead of the Federal Reserve meeting, while funding rates climbed across "
    "major exchanges including Binance, OKX and Bybit. "
)
PAGE = (
    f"<html><head><title>Open interest hits record</title>"
    f"<link rel='canonical' href='https://news.example.com/oi-record'></head><body>"
    f"<nav><a href='/'>Home</a> <a href='/markets'>Markets</a></nav><article>"
    f"<h1>Open interest hits record</h1><p>{PARAGRAPH * 2}</p><p>{PARAGRAPH}</p>"
    f"</article><footer>Copyright 2026</footer></body></html>"
).encode()


def _articles(items):
    return [item for item in items if isinstance(item, Article)]


def _errors(items):
    return [item for item in items if isinstance(item, IngestError)]


def test_jsonl_export_yields_one_article_per_line():
    items = list(read_source(str(SHARED / "corpus" / "articles.jsonl")))
    assert len(_articles(items)) == 371 and not _errors(items)


def test_jsonl_ids_come_from_canonical_urls():
    first = json.loads((SHARED / "corpus" / "articles.jsonl").read_text("utf-8").splitlines()[0])
    article = _articles(read_source(str(SHARED / "corpus" / "articles.jsonl")))[0]
    assert article.id == first["id"]


def test_jsonl_bad_lines_are_reported_and_the_rest_kept():
    text = (
        '{"url": "https://a.example/1", "title": "A", "text": "Body one is here."}\n'
        "not json\n"
        '{"url": "https://a.example/2", "title": "B"}\n'
        '{"url": "ftp://a.example/3", "text": "x"}\n'
        '{"url": "https://a.example/4", "text": "Body four.", "published": "2024-05-01"}\n'
    )
    items = list(parse_jsonl(text, origin="export.jsonl"))
    assert [a.title for a in _articles(items)] == ["A", "Body four."]
    assert [e.source for e in _errors(items)] == [
        "export.jsonl:2",
        "export.jsonl:3",
        "export.jsonl:4",
    ]
    assert _articles(items)[1].published == "2024-05-01"


def test_jsonl_published_falls_back_to_the_url_date():
    record = '{"url": "https://x.example/markets/2024/04/30/etf-debut/", "text": "Body."}'
    assert _articles(parse_jsonl(record))[0].published == "2024-04-30"


def test_saved_page_text_file(tmp_path):
    articles = _articles(read_source(str(SEED)))
    assert articles[0].title.startswith("Crypto traders brace")


def test_html_gz_file_and_directory_recursion(tmp_path):
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    for name in sorted(p.name for p in BENCH_PAGES.glob("*.html.gz"))[:3]:
        (nested / name).write_bytes((BENCH_PAGES / name).read_bytes())
    (nested / "notes.bin").write_bytes(b"\x00\x01")
    items = list(read_source(str(tmp_path)))
    assert len(_articles(items)) == 3, _errors(items)


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("empty.html", b"", "empty"),
        ("binary.html", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "PNG"),
        ("nobody.html", b"<html><body><nav>Home</nav></body></html>", "no article body"),
        ("broken.html.gz", b"\x1f\x8b\x08\x00garbage", "gzip"),
    ],
)
def test_bad_files_give_a_clear_error(tmp_path, name, data, reason):
    path = tmp_path / name
    path.write_bytes(data)
    errors = _errors(read_source(str(path)))
    assert len(errors) == 1
    assert reason.lower() in errors[0].reason.lower()
    assert errors[0].source == str(path)


def test_pages_over_ten_megabytes_are_refused(tmp_path):
    path = tmp_path / "huge.html"
    path.write_bytes(b"<html><body><p>" + b"a " * (5 * 1024 * 1024 + 10) + b"</p></body></html>")
    [error] = _errors(read_source(str(path)))
    assert error.status == 413 and "10 MB" in error.reason


def test_a_gzip_bomb_is_refused(tmp_path):
    path = tmp_path / "bomb.html.gz"
    path.write_bytes(gzip.compress(b"<p>" + b"a" * (11 * 1024 * 1024)))
    [error] = _errors(read_source(str(path)))
    assert error.status == 413


def test_missing_path_is_a_clear_error():
    [error] = _errors(read_source("/no/such/file.html"))
    assert "no such file" in error.reason


def test_one_bad_source_does_not_stop_the_batch(tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    items = list(read_sources([str(tmp_path / "empty.txt"), str(SEED)]))
    assert isinstance(items[0], IngestError) and isinstance(items[1], Article)


def test_uploads_are_parsed_by_their_file_name():
    items = list(read_upload(gzip.compress(PAGE), "page.html.gz"))
    assert _articles(items)[0].title == "Open interest hits record"
    jsonl = b'{"url": "https://u.example/1", "title": "T", "text": "Some body text."}\n'
    assert _articles(read_upload(jsonl, "export.jsonl"))[0].url == "https://u.example/1"


@pytest.fixture
def server():
    with LocalServer() as server:
        yield server


def test_url_ingest_records_the_requested_and_canonical_urls(server):
    server.routes["/story?utm_source=x"] = Route(body=PAGE)
    server.routes["/story"] = Route(body=PAGE)
    [article] = _articles(read_source(server.url("/story?utm_source=x"), LOCAL))
    assert article.url == "https://news.example.com/oi-record"
    assert server.url("/story?utm_source=x") in article.alternate_urls


def test_url_on_loopback_is_refused_without_the_allow_option(server):
    server.routes["/story"] = Route(body=PAGE)
    [error] = _errors(read_source(server.url("/story")))
    assert error.status == 400
    assert not server.requests


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.com/a",
        "gopher://x/",
        "http://169.254.169.254/latest/meta-data/",
    ],
)
def test_hostile_urls_are_refused(url):
    [error] = _errors(read_source(url))
    assert error.status == 400


def test_feed_items_are_each_fetched(server):
    server.routes["/a"] = Route(body=PAGE.replace(b"oi-record", b"a"))
    server.routes["/b"] = Route(body=PAGE.replace(b"oi-record", b"b"))
    feed = (
        f"<?xml version='1.0'?><rss version='2.0'><channel><title>F</title>"
        f"<item><title>A</title><link>{server.url('/a')}</link>"
        f"<pubDate>Tue, 30 Apr 2024 12:00:00 GMT</pubDate></item>"
        f"<item><title>B</title><link>{server.url('/b')}</link></item>"
        f"<item><title>C</title><link>{server.url('/missing')}</link></item>"
        f"</channel></rss>"
    ).encode()
    server.routes["/feed.xml"] = Route(body=feed, content_type="application/rss+xml")
    items = list(read_source(server.url("/feed.xml"), LOCAL))
    assert [a.url for a in _articles(items)] == [
        "https://news.example.com/a",
        "https://news.example.com/b",
    ]
    assert _articles(items)[0].published.startswith("2024-04-30")
    assert len(_errors(items)) == 1 and _errors(items)[0].status == 404


def test_cp1252_and_shift_jis_pages_come_out_readable(server):
    body = PARAGRAPH * 2
    server.routes["/cp"] = Route(
        body=(
            f"<html><body><article><p>Prices – “€5bn” café. {body}</p></article></body></html>"
        ).encode("cp1252"),
        content_type="text/html; charset=windows-1252",
    )
    server.routes["/sj"] = Route(
        body=(
            f"<html><head><meta charset='shift_jis'></head><body><article><p>ビットコイン価格が"
            f"上昇しました。{body}</p></article></body></html>"
        ).encode("shift_jis"),
        content_type="text/html",
    )
    assert "“€5bn” café" in _articles(read_source(server.url("/cp"), LOCAL))[0].body
    assert "ビットコイン価格" in _articles(read_source(server.url("/sj"), LOCAL))[0].body


def test_figures_are_read_from_a_pasted_page_body_not_its_teasers():
    text = commentary_text(SEED.read_bytes(), "pasted")
    assert "Hyperliquid saw over $59 million" in text
    assert "Hair Dryer" not in text and "Связанные" not in text


def test_plain_pasted_text_is_kept_whole():
    text = "OKX logged roughly $18 million in short liquidations over the weekend."
    assert commentary_text(text.encode(), "pasted") == text


def test_a_jsonl_export_may_be_larger_than_one_page(tmp_path):
    record = {"url": "https://big.example/{}", "title": "T", "text": "Bitcoin rose. " * 300}
    lines = [json.dumps({**record, "url": record["url"].format(n)}) for n in range(3000)]
    path = tmp_path / "big.jsonl"
    path.write_text("\n".join(lines), encoding="utf-8")
    assert path.stat().st_size > 10 * 1024 * 1024
    items = list(read_source(str(path)))
    assert len(_articles(items)) == 3000 and not _errors(items)


def test_an_upload_whose_jsonl_unpacks_past_the_upload_limit_is_refused():
    import gzip

    from ingest.sources import MAX_UPLOAD_JSONL_BYTES, read_upload

    line = json.dumps({"text": "Zeltrax saw $1 million in liquidations. " * 50}) + "\n"
    data = gzip.compress((line * (MAX_UPLOAD_JSONL_BYTES // len(line) + 2)).encode())
    (error,) = list(read_upload(data, "export.jsonl.gz"))
    assert isinstance(error, IngestError) and error.status == 413
    assert "upload:export.jsonl.gz" in str(error)
