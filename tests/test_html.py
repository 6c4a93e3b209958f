"""Tests for ingest.html: article body, boilerplate removal and page metadata."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ingest.encoding import decode_page, read_page_file
from ingest.errors import IngestError
from ingest.html import parse_html

BENCH = Path(__file__).resolve().parents[1].parent / "shared" / "bench" / "article-extraction"

# Article text written for these tests; each paragraph is long enough to count as prose.
PARAGRAPHS = [
    "Bitcoin futures open interest climbed to a record on Tuesday as traders added leveraged "
    "long positions ahead of the central bank decision, according to exchange data.",
    "Funding rates on perpetual swaps turned positive across the largest venues, a sign that "
    "buyers were paying sellers to keep their positions open through the week.",
    "Analysts warned that crowded positioning can unwind quickly when prices reverse, and "
    "pointed to the liquidation cascade of last spring as an example of that risk.",
    "Spot exchange-traded funds recorded a fifth straight day of inflows, adding to the demand "
    "that has supported prices since the start of the month.",
]


def page(body: str, head: str = "", lang: str = "en") -> str:
    """A minimal HTML document around the given body markup."""
    return f'<!DOCTYPE html><html lang="{lang}"><head>{head}</head><body>{body}</body></html>'


def article_markup(extra_inside: str = "") -> str:
    paragraphs = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    return (
        "<article><h1>Leverage builds in crypto markets</h1>"
        f"{paragraphs}<h2>What comes next</h2><p>{PARAGRAPHS[0]} Again.</p>"
        f"<ul><li>Open interest at a record high</li><li>Funding positive</li></ul>{extra_inside}"
        "</article>"
    )


BOILERPLATE = {
    "nav": '<nav><ul><li><a href="/markets">Markets</a></li><li><a href="/crypto">Crypto '
    "news and analysis</a></li></ul></nav>",
    "cookie": '<div id="cookie-banner" class="cookie-consent"><p>We use cookies to improve your '
    "experience on our site. By continuing you accept our cookie policy.</p>"
    "<button>Accept all cookies</button></div>",
    "newsletter": '<div class="newsletter-signup"><h3>Sign up for our daily newsletter</h3>'
    "<p>Sign up to get the morning briefing delivered to your inbox every weekday.</p>"
    '<form><input type="email"><button>Subscribe</button></form></div>',
    "share": '<div class="share-buttons"><a href="#">Share on Twitter</a> '
    '<a href="#">Share on Facebook</a></div>',
    "comments": '<section id="comments" class="comments"><h3>12 Comments</h3>'
    '<div class="comment"><p>Great article, I totally disagree with the conclusion though '
    "and think the market will crash tomorrow morning.</p></div></section>",
    "related": '<aside class="related-articles"><h3>Related articles</h3><ul>'
    '<li><a href="/a">Ether options expiry looms over derivatives desks</a></li>'
    '<li><a href="/b">Stablecoin supply hits a new all-time high this week</a></li></ul></aside>',
    "footer": "<footer><p>© 2024 Example Media Ltd. All rights reserved.</p>"
    '<a href="/privacy">Privacy policy</a> <a href="/terms">Terms of use</a></footer>',
}

BOILERPLATE_WORDS = {
    "nav": "Crypto news and analysis",
    "cookie": "cookie",
    "newsletter": "newsletter",
    "share": "Share on",
    "comments": "totally disagree",
    "related": "Ether options expiry",
    "footer": "All rights reserved",
}


def shingles(text: str) -> set[tuple[str, ...]]:
    tokens = re.findall(r"\w+", text)
    return {tuple(tokens[i : i + 4]) for i in range(max(1, len(tokens) - 3))}


def bench_page(key_prefix: str) -> tuple[str, dict]:
    truth = json.loads((BENCH / "ground-truth.json").read_text(encoding="utf-8"))
    key = next(k for k in sorted(truth) if k.startswith(key_prefix))
    html = decode_page(read_page_file(BENCH / "html" / f"{key}.html.gz"))
    return html, truth[key]


@pytest.mark.parametrize("key_prefix", ["04a6711c", "098bb3e9", "6ebac05f", "d605bdef", "ef4e67b6"])
def test_benchmark_page_body_matches_ground_truth(key_prefix):
    html, truth = bench_page(key_prefix)
    article = parse_html(html, url=truth["url"])
    expected, got = shingles(truth["articleBody"]), shingles(article.body)
    assert article.title
    assert len(expected & got) / len(expected) >= 0.85  # recall
    assert len(expected & got) / len(got) >= 0.85  # precision


def test_body_keeps_paragraphs_headings_and_items_in_order():
    article = parse_html(page(article_markup()))
    parts = article.body.split("\n\n")
    assert parts[: len(PARAGRAPHS)] == PARAGRAPHS
    assert "What comes next" in parts
    assert parts.index("What comes next") < parts.index("• Open interest at a record high")
    assert article.headings == ["What comes next"]
    assert all(h in parts for h in article.headings)


def test_title_is_not_repeated_in_body():
    article = parse_html(
        page(article_markup(), head="<title>Leverage builds in crypto markets</title>")
    )
    assert article.title == "Leverage builds in crypto markets"
    assert "Leverage builds" not in article.body


@pytest.mark.parametrize("name", sorted(BOILERPLATE))
def test_boilerplate_is_dropped(name):
    outside = "" if name in ("share", "related") else BOILERPLATE[name]
    inside = BOILERPLATE[name] if name in ("share", "related") else ""
    markup = (
        BOILERPLATE["nav"] + BOILERPLATE["cookie"] + article_markup(inside) + outside
        if name not in ("nav", "cookie")
        else BOILERPLATE[name] + article_markup()
    )
    article = parse_html(page(markup))
    assert BOILERPLATE_WORDS[name].lower() not in article.body.lower()
    assert PARAGRAPHS[2] in article.body


def test_page_with_all_boilerplate_keeps_only_the_article():
    markup = (
        BOILERPLATE["nav"]
        + BOILERPLATE["cookie"]
        + article_markup(BOILERPLATE["share"] + BOILERPLATE["related"])
        + BOILERPLATE["newsletter"]
        + BOILERPLATE["comments"]
        + BOILERPLATE["footer"]
    )
    body = parse_html(page(markup)).body
    for words in BOILERPLATE_WORDS.values():
        assert words.lower() not in body.lower()
    assert all(p in body for p in PARAGRAPHS)


def test_related_block_becomes_teasers():
    markup = article_markup(BOILERPLATE["related"])
    article = parse_html(page(markup), url="https://example.com/news/1")
    assert [(t.title, t.url) for t in article.related] == [
        ("Ether options expiry looms over derivatives desks", "https://example.com/a"),
        ("Stablecoin supply hits a new all-time high this week", "https://example.com/b"),
    ]
    assert "Ether options" not in article.body


def test_canonical_and_alternate_urls():
    head = (
        '<link rel="canonical" href="https://news.example.com/markets/leverage">'
        '<meta property="og:url" content="https://news.example.com/markets/leverage?src=og">'
        '<link rel="amphtml" href="/amp/markets/leverage">'
    )
    article = parse_html(page(article_markup(), head), url="https://m.example.com/x?utm_source=a")
    assert article.url == "https://news.example.com/markets/leverage"
    assert article.alternate_urls == [
        "https://m.example.com/x?utm_source=a",
        "https://news.example.com/markets/leverage?src=og",
        "https://m.example.com/amp/markets/leverage",
    ]


def test_given_url_is_used_without_canonical():
    article = parse_html(page(article_markup()), url="https://www.example.org/post/1")
    assert article.url == "https://www.example.org/post/1"
    assert article.alternate_urls == []
    assert article.source == "example.org"


def test_site_name_author_and_language():
    head = (
        '<meta property="og:site_name" content="Example Markets">'
        '<meta name="author" content="Jane Doe">'
    )
    article = parse_html(page(article_markup(), head, lang="en-GB"))
    assert (article.source, article.author, article.language) == (
        "Example Markets",
        "Jane Doe",
        "en-GB",
    )


JSON_LD = {
    "@context": "https://schema.org",
    "@type": "NewsArticle",
    "headline": "Leverage builds in crypto markets",
    "datePublished": "2024-03-05T09:30:00+01:00",
    "dateModified": "2024-03-05T12:00:00+01:00",
    "author": {"@type": "Person", "name": "John Roe"},
    "publisher": {"@type": "Organization", "name": "Example Wire"},
}


@pytest.mark.parametrize(
    ("head", "body_extra", "url", "published", "updated"),
    [
        (
            '<meta property="article:published_time" content="2024-03-05T08:30:00Z">'
            '<meta property="article:modified_time" content="2024-03-06T10:00:00Z">',
            "",
            None,
            "2024-03-05T08:30:00+00:00",
            "2024-03-06T10:00:00+00:00",
        ),
        (
            f'<script type="application/ld+json">{json.dumps(JSON_LD)}</script>',
            "",
            None,
            "2024-03-05T09:30:00+01:00",
            "2024-03-05T12:00:00+01:00",
        ),
        (
            "",
            '<time datetime="2024-03-04T17:00:00-05:00">March 4</time>',
            None,
            "2024-03-04T17:00:00-05:00",
            None,
        ),
        ("", "", "https://example.com/2023/11/18/leverage-builds/", "2023-11-18", None),
    ],
    ids=["meta", "json-ld", "time", "url"],
)
def test_published_and_updated_dates(head, body_extra, url, published, updated):
    article = parse_html(page(body_extra + article_markup(), head), url=url)
    assert (article.published, article.updated) == (published, updated)


def test_json_ld_author_and_publisher():
    head = f'<script type="application/ld+json">{json.dumps(JSON_LD)}</script>'
    article = parse_html(page(article_markup(), head))
    assert (article.author, article.source) == ("John Roe", "Example Wire")


def test_faq_json_ld_becomes_qa_pairs():
    faq = {
        "@context": "https://schema.org",
        "@type": "FAQPage",
        "mainEntity": [
            {
                "@type": "Question",
                "name": "What is open interest?",
                "acceptedAnswer": {
                    "@type": "Answer",
                    "text": "<p>The value of open contracts.</p>",
                },
            }
        ],
    }
    head = f'<script type="application/ld+json">{json.dumps(faq)}</script>'
    article = parse_html(page(article_markup(), head))
    assert [(q.question, q.answer) for q in article.qa] == [
        ("What is open interest?", "The value of open contracts.")
    ]


def test_malformed_html_does_not_crash():
    broken = (
        "<html><body><div><p>" + "</p><p>".join(PARAGRAPHS) + "<div><span><b>unclosed"
        "<table><tr><td>cell</div></p></i><p>" + PARAGRAPHS[0]
    )
    article = parse_html(broken)
    assert PARAGRAPHS[1] in article.body


@pytest.mark.parametrize(
    "html",
    [
        page('<nav><a href="/">Home</a></nav><p>Short note.</p><footer>© 2024</footer>'),
        page(""),
        "",
        "   ",
        "not html at all",
    ],
)
def test_page_without_article_body_raises(html):
    with pytest.raises(IngestError, match="no article body found"):
        parse_html(html)


def test_origin_is_kept():
    assert (
        parse_html(page(article_markup()), origin="upload:feed.html").origin == "upload:feed.html"
    )
