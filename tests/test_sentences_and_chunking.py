"""Punkt sentence splitting trained on commentary, and passages cut from whole sentences."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.chunking import ChunkSettings, approx_token_count, chunk_article, passage_sentences
from ingest.jsonl import parse_jsonl
from ingest.pagetext import parse_page_text
from ingest.records import Article, Passage
from ingest.sentences import PARAMS_PATH, sentence_spans, split_sentences

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.mark.parametrize(
    "sentence",
    [
        "Bitcoin's market cap hovered around $1.71 trillion while ether held $344 billion.",
        "The U.S. Federal Reserve cut rates by 0.25% on Wednesday.",
        "Bitcoin outperformed ether vs. the dollar over the week.",
        "The token unlock is due on Jan. 29 and could weigh on price.",
        "Derivatives venues, e.g. Binance and OKX, saw most of the flows.",
        "Open interest rose 3.5% to $14.73 billion in 24 hours.",
        "Funding rates stayed near 0.01% per eight hours.",
    ],
)
def test_abbreviations_and_decimals_stay_inside_their_sentence(sentence):
    text = f"Markets were quiet on Monday. {sentence} Traders now watch the next print."
    assert sentence in split_sentences(text)


def test_spans_slice_back_to_sentences():
    text = "First one. Second one?  Third one!\nA list item\n\nLast."
    spans = sentence_spans(text)
    assert [text[s:e] for s, e in spans] == [
        "First one.",
        "Second one?",
        "Third one!",
        "A list item",
        "Last.",
    ]


def test_parameters_file_holds_statistics_not_text():
    data = json.loads(PARAMS_PATH.read_text(encoding="utf-8"))
    assert set(data) == {"abbrev_types", "collocations", "sent_starters", "ortho_context"}
    assert {"u.s", "vs", "jan", "e.g"} <= set(data["abbrev_types"])


def _seed() -> Article:
    return parse_page_text((SHARED / "seed" / "000_e760251becf4f2f2.txt").read_text("utf-8"))


def _corpus(limit: int = 60) -> list[Article]:
    text = (SHARED / "corpus" / "articles.jsonl").read_text("utf-8")
    return [a for a in parse_jsonl(text) if isinstance(a, Article)][:limit]


@pytest.mark.parametrize("max_tokens", [40, 120, 254])
def test_passage_offsets_slice_back_to_passage_text(max_tokens):
    for article in [_seed(), *_corpus()]:
        for passage in chunk_article(article, ChunkSettings(max_tokens=max_tokens)):
            assert article.body[passage.start : passage.end] == passage.text


@pytest.mark.parametrize("max_tokens", [40, 120, 254])
def test_passages_fit_the_window(max_tokens):
    for article in [_seed(), *_corpus()]:
        for passage in chunk_article(article, ChunkSettings(max_tokens=max_tokens)):
            assert approx_token_count(passage.text) <= max_tokens


def test_passages_are_whole_sentences_with_one_sentence_overlap():
    article = _seed()
    sentences = {article.body[s:e] for s, e in sentence_spans(article.body)}
    passages = chunk_article(article, ChunkSettings(max_tokens=60))
    for before, after in zip(passages, passages[1:], strict=False):
        assert after.start < before.end, "consecutive passages share a sentence"
        assert article.body[after.start : before.end] in sentences
    for passage in passages:
        assert {s for s, _ in sentence_spans(passage.text)}  # non-empty
        assert article.body[passage.start :].startswith(passage.text)


def test_passages_record_the_sentences_a_fresh_split_of_their_text_finds():
    for article in [_seed(), *_corpus()]:
        for passage in chunk_article(article):
            assert list(passage.sentences) == sentence_spans(passage.text)


def test_a_passage_without_recorded_sentences_is_split_again():
    passage = chunk_article(_seed())[0]
    bare = Passage(passage.article_id, 0, passage.text, passage.start, passage.end)
    assert passage_sentences(bare) == passage_sentences(passage) == list(passage.sentences)


def test_passages_cover_the_whole_body():
    article = _seed()
    passages = chunk_article(article, ChunkSettings(max_tokens=60))
    assert passages[0].start == 0
    assert passages[-1].end == len(article.body)


def test_passages_carry_their_section_heading():
    article = _seed()
    passages = chunk_article(article, ChunkSettings(max_tokens=60))
    binance = next(p for p in passages if "Binance recorded approximately" in p.text)
    # The section heading is the last one that opens at or before the passage.
    opened = [h for h in article.headings if 0 <= article.body.find(h) <= binance.start]
    assert opened and binance.heading == opened[-1]
    assert binance.heading.startswith("Crypto market exchange data")
    assert binance.heading != article.headings[0]
    assert passages[0].heading is None


def test_a_sentence_longer_than_the_window_is_cut_at_words():
    body = " ".join(f"word{i}" for i in range(400)) + "."
    passages = chunk_article(Article(title="t", body=body), ChunkSettings(max_tokens=50))
    assert len(passages) > 1
    assert all(body[p.start : p.end] == p.text for p in passages)
    assert all(approx_token_count(p.text) <= 50 for p in passages)


def test_ordinals_count_from_zero_and_ids_match_article():
    article = _seed()
    passages = chunk_article(article, ChunkSettings(max_tokens=80))
    assert [p.ordinal for p in passages] == list(range(len(passages)))
    assert {p.article_id for p in passages} == {article.id}


_WORDS = st.sampled_from(
    [
        "Bitcoin",
        "fell",
        "3.5%",
        "to",
        "$104,500",
        "U.S.",
        "ETFs",
        "saw",
        "$1.71",
        "trillion",
        "e.g.",
        "longs",
        "on",
        "Jan.",
        "29",
        "vs.",
        "shorts",
        "!",
        "?",
        "and",
        "Binance",
    ]
)
_TEXTS = st.lists(
    st.tuples(
        st.lists(_WORDS, min_size=1, max_size=30), st.sampled_from([". ", ".\n", "\n\n", " "])
    ),
    min_size=1,
    max_size=25,
).map(lambda parts: "".join(" ".join(words) + end for words, end in parts).strip())


@settings(max_examples=60, deadline=None)
@given(body=_TEXTS, max_tokens=st.integers(min_value=8, max_value=120))
def test_any_body_chunks_into_passages_that_slice_back(body, max_tokens):
    passages = chunk_article(Article(title="t", body=body), ChunkSettings(max_tokens=max_tokens))
    assert passages
    for passage in passages:
        assert body[passage.start : passage.end] == passage.text
        assert approx_token_count(passage.text) <= max_tokens
    assert passages[-1].end == len(body.rstrip())
