"""Saved page texts: the seed page parses into title, metadata, clean body, Q&A and teasers."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.errors import IngestError
from ingest.pagetext import parse_page_text

SEED = Path(__file__).resolve().parents[2] / "shared" / "seed" / "000_e760251becf4f2f2.txt"


@pytest.fixture(scope="module")
def seed():
    return parse_page_text(SEED.read_text(encoding="utf-8"), origin=str(SEED))


def test_seed_title(seed):
    assert seed.title == "Crypto traders brace for liquidation wave as leverage stress builds"


def test_seed_source_and_dates(seed):
    assert seed.source == "ambcrypto"
    assert seed.published == "2026-01-29"
    assert seed.updated == "2026-01-29"


def test_seed_body_starts_at_intro(seed):
    assert seed.body.startswith(
        "Cryptocurrency derivatives markets are exhibiting significant leverage stress"
    )


def test_seed_body_ends_with_final_thoughts_bullets(seed):
    tail = seed.body[seed.body.index("Final Thoughts") :]
    assert tail.count("• ") == 2
    assert seed.body.endswith("the market may continue to absorb stress in phases.")


@pytest.mark.parametrize(
    "furniture",
    [
        "Опубликовано",
        "Обновлено",
        "Введение",
        "Связанные с этим вопросы",
        "Похожее",
        "Торговля",
        "Спот",
        "Фьючерсы",
        "活动图片",
        "marsbit",
        "Hair Dryer",
        "a16z",
    ],
)
def test_seed_body_has_no_page_furniture(seed, furniture):
    assert furniture not in seed.body


def test_seed_headings_are_in_the_body(seed):
    assert "Final Thoughts" in seed.headings
    assert all(heading in seed.body for heading in seed.headings)


def test_seed_has_five_question_answer_pairs(seed):
    assert len(seed.qa) == 5
    assert seed.qa[1].question == (
        "Which exchanges accounted for the largest share of forced liquidations "
        "during recent spikes?"
    )
    assert seed.qa[1].answer.startswith("Binance and Hyperliquid accounted for the largest share")


def test_seed_has_two_related_teasers(seed):
    assert [teaser.title for teaser in seed.related] == [
        "a16z: AI's 'Amnesia', Can Continuous Learning Cure It?",
        "Can a Hair Dryer Earn $34,000? Deciphering the Reflexivity Paradox in Prediction Markets",
    ]
    assert all(teaser.source == "marsbit" and teaser.summary for teaser in seed.related)
    assert seed.related[0].time == "47 мин. назад"


def test_seed_language_is_english(seed):
    assert seed.language == "en"


def test_english_ui_labels_are_understood():
    text = (
        "Funding flips negative\n\nCoinDeskPublished 2025-03-02Updated 2025-03-03\n\n"
        "Summary\n\nFunding rates on perpetual swaps turned negative across major venues on "
        "Sunday as traders added short exposure.\n\nRelated questions\n\nQWhy did funding "
        "flip?\n\nATraders added shorts.\n"
    )
    article = parse_page_text(text)
    assert (article.source, article.published, article.updated) == (
        "CoinDesk",
        "2025-03-02",
        "2025-03-03",
    )
    assert article.body.startswith("Funding rates on perpetual swaps")
    assert [(p.question, p.answer) for p in article.qa] == [
        ("Why did funding flip?", "Traders added shorts.")
    ]


def test_plain_text_without_metadata_line_keeps_title_and_body():
    article = parse_page_text("A title\n\nFirst paragraph of the story is here.\n")
    assert article.title == "A title"
    assert article.body == "First paragraph of the story is here."
    assert article.published is None


@pytest.mark.parametrize("text", ["", "   \n\n  ", "Only a title\n"])
def test_page_text_without_body_is_refused(text):
    with pytest.raises(IngestError):
        parse_page_text(text)
