"""Recognising and parsing RSS/Atom feeds without letting feedparser touch the network."""

from __future__ import annotations

import pytest

from ingest.errors import IngestError
from ingest.feeds import FeedItem, looks_like_feed, parse_feed

BASE = "https://news.example/markets/feed.xml"

RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0">
  <channel>
    <title>Markets</title>
    <link>https://news.example/markets/</link>
    <item>
      <title>Bond yields &amp; the curve</title>
      <link>/markets/2024/03/yields.html</link>
      <pubDate>Tue, 05 Mar 2024 14:30:00 +0100</pubDate>
    </item>
    <item>
      <title>Oil <![CDATA[<b>rebounds</b>]]></title>
      <link>oil.html?utm_source=rss</link>
      <pubDate>Wed, 06 Mar 2024 09:00:00 GMT</pubDate>
    </item>
    <item>
      <title>No link, only a description</title>
      <description>skipped</description>
    </item>
    <item>
      <title>Permalink guid</title>
      <guid isPermaLink="true">https://news.example/markets/guid-story</guid>
    </item>
    <item>
      <title>Opaque guid</title>
      <guid isPermaLink="false">tag:news.example,2024:1234</guid>
    </item>
    <item>
      <title>Script link</title>
      <link>javascript:alert(1)</link>
    </item>
    <item>
      <title>No date</title>
      <link>https://other.example/undated</link>
    </item>
  </channel>
</rss>
"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://blog.example/fx/">
  <title>FX notes</title>
  <id>tag:blog.example,2024:fx</id>
  <updated>2024-03-07T10:00:00Z</updated>
  <entry>
    <title type="html">Dollar &lt;em&gt;slips&lt;/em&gt;</title>
    <link rel="alternate" href="2024/dollar-slips"/>
    <link rel="enclosure" href="https://cdn.example/chart.png"/>
    <id>tag:blog.example,2024:1</id>
    <published>2024-03-07T08:15:00-05:00</published>
    <updated>2024-03-07T09:00:00-05:00</updated>
  </entry>
  <entry>
    <title>Yen update</title>
    <link href="https://blog.example/fx/2024/yen"/>
    <id>tag:blog.example,2024:2</id>
    <updated>2024-03-06T23:00:00Z</updated>
  </entry>
  <entry>
    <title>Linkless</title>
    <id>tag:blog.example,2024:3</id>
    <updated>2024-03-05T23:00:00Z</updated>
  </entry>
</feed>
"""


def test_parses_rss_items_with_absolute_links_and_iso_dates():
    assert parse_feed(RSS, BASE) == [
        FeedItem(
            url="https://news.example/markets/2024/03/yields.html",
            title="Bond yields & the curve",
            published="2024-03-05T13:30:00+00:00",
        ),
        FeedItem(
            url="https://news.example/markets/oil.html?utm_source=rss",
            title="Oil rebounds",
            published="2024-03-06T09:00:00+00:00",
        ),
        FeedItem(
            url="https://news.example/markets/guid-story", title="Permalink guid", published=None
        ),
        FeedItem(url="https://other.example/undated", title="No date", published=None),
    ]


def test_parses_atom_entries_against_xml_base():
    assert parse_feed(ATOM, BASE) == [
        FeedItem(
            url="https://blog.example/fx/2024/dollar-slips",
            title="Dollar slips",
            published="2024-03-07T13:15:00+00:00",
        ),
        FeedItem(
            url="https://blog.example/fx/2024/yen",
            title="Yen update",
            published="2024-03-06T23:00:00+00:00",
        ),
    ]


def test_atom_relative_links_fall_back_to_the_feed_url():
    atom = ATOM.replace(b' xml:base="https://blog.example/fx/"', b"")
    items = parse_feed(atom, BASE)
    assert items[0].url == "https://news.example/markets/2024/dollar-slips"


def test_rdf_rss_1_0_is_parsed():
    rdf = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
         xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="https://news.example/"><title>T</title><link>https://news.example/</link>
    <description>d</description></channel>
  <item rdf:about="https://news.example/a"><title>A</title><link>https://news.example/a</link>
    <dc:date>2024-01-02T03:04:05Z</dc:date></item>
</rdf:RDF>"""
    assert parse_feed(rdf, BASE) == [
        FeedItem(url="https://news.example/a", title="A", published="2024-01-02T03:04:05+00:00")
    ]


def test_repeated_links_are_listed_once():
    item = b"<item><title>Same</title><link>https://news.example/same</link></item>"
    rss = b'<rss version="2.0"><channel><title>x</title>' + item * 3 + b"</channel></rss>"
    assert [i.url for i in parse_feed(rss, BASE)] == ["https://news.example/same"]


def test_an_empty_feed_has_no_items():
    assert parse_feed(b'<rss version="2.0"><channel><title>x</title></channel></rss>', BASE) == []


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"<html><body><p>Not a feed</p></body></html>",
        b"\x00\x01\x02 binary junk",
        b"just some text",
        b'{"version": "https://jsonfeed.org/version/1"}',
    ],
)
def test_refuses_data_that_is_not_a_feed(data):
    with pytest.raises(IngestError) as caught:
        parse_feed(data, BASE)
    assert caught.value.status == 422
    assert caught.value.source == BASE


def test_refuses_a_truncated_feed():
    with pytest.raises(IngestError, match="feed"):
        parse_feed(RSS[:60], BASE)


def test_never_reads_a_file_named_by_the_data(tmp_path):
    # feedparser opens a str or bytes argument as a file name if it can; parse_feed must not.
    secret = tmp_path / "feed.xml"
    secret.write_bytes(RSS)
    with pytest.raises(IngestError):
        parse_feed(str(secret).encode(), BASE)


def test_never_fetches_a_url_given_as_data(monkeypatch):
    import feedparser.http

    def no_network(*args, **kwargs):
        raise AssertionError("feedparser tried to fetch")

    monkeypatch.setattr(feedparser.http, "get", no_network)
    with pytest.raises(IngestError):
        parse_feed(b"http://127.0.0.1:9/feed.xml", BASE)


def test_does_not_load_external_entities(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    xxe = (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file://'
        + str(secret).encode()
        + b'">]><rss version="2.0"><channel><title>t</title>'
        b"<item><title>&x;</title><link>https://news.example/x</link></item></channel></rss>"
    )
    items = parse_feed(xxe, BASE)
    assert all("TOP-SECRET" not in item.title for item in items)


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (RSS, None),
        (ATOM, None),
        (RSS, "text/xml"),
        (ATOM, "application/xml; charset=utf-8"),
        (b"\xef\xbb\xbf" + RSS, None),
        (b"<!-- generated -->\n<?xml-stylesheet href='s.xsl'?>\n" + RSS.split(b"?>", 1)[1], None),
        (b"<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'/>", None),
        (b"", "application/rss+xml"),
        (b"", "Application/Atom+XML; charset=utf-8"),
        (RSS, "text/html"),  # mislabelled by the server; the body decides
    ],
)
def test_recognises_feeds(data, content_type):
    assert looks_like_feed(data, content_type)


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (b"<!DOCTYPE html><html><head><title>x</title></head></html>", "text/html"),
        (b"<html><body>rss feed</body></html>", None),
        (b'<?xml version="1.0"?><sitemap/>', "application/xml"),
        (b"plain text mentioning <rss>", "text/plain"),
        (b"", None),
    ],
)
def test_recognises_non_feeds(data, content_type):
    assert not looks_like_feed(data, content_type)


def test_refuses_a_feed_nested_deeper_than_any_real_one():
    deep = b"<rss><channel>" + b"<x>" * 50_000 + b"</x>" * 50_000 + b"</channel></rss>"
    with pytest.raises(IngestError, match="nest more than") as caught:
        parse_feed(deep, "https://example.test/feed")
    assert caught.value.status == 422


def test_markup_inside_character_data_does_not_count_as_nesting():
    # An item whose description holds HTML with many unclosed tags, as feeds often carry.
    description = b"<![CDATA[" + b"<p>line<br>" * 200 + b"]]>"
    feed = RSS.replace(b"<item>", b"<item><description>" + description + b"</description>", 1)
    assert parse_feed(feed, "https://example.test/feed")
