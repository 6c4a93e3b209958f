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


@pytest.fixture(scope="module")
def paragraphs() -> list[str]:
    """The seed file's blank-line separated paragraphs, read here without the parser."""
    text = SEED.read_text(encoding="utf-8")
    return [block.strip() for block in text.split("\n\n") if block.strip()]


def _after(paragraphs: list[str], marker: str) -> list[str]:
    return paragraphs[paragraphs.index(marker) + 1 :]


def test_seed_title(seed, paragraphs):
    assert seed.title == paragraphs[0]
    assert seed.title and "\n" not in seed.title
    assert "ambcrypto" not in seed.title


def test_seed_source_and_dates(seed):
    assert seed.source == "ambcrypto"
    assert seed.published == "2026-01-29"
    assert seed.updated == "2026-01-29"


def test_seed_body_starts_at_intro(seed, paragraphs):
    intro = _after(paragraphs, "Введение")[0]
    assert len(intro.split()) > 20
    assert seed.body.startswith(intro)


def test_seed_body_ends_with_final_thoughts_bullets(seed, paragraphs):
    tail = seed.body[seed.body.index("Final Thoughts") :]
    assert tail.count("• ") == 2
    bullets = [
        line.strip().removeprefix("•").strip()
        for line in _after(paragraphs, "Final Thoughts")[0].splitlines()
    ]
    assert len(bullets) == 2 and all(bullets)
    assert seed.body.endswith(bullets[-1])


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


def _seed_pairs(paragraphs: list[str]) -> list[tuple[str, str]]:
    """Question/answer pairs read straight from the file: a "Q" paragraph, then its "A" one."""
    block = _after(paragraphs, "Связанные с этим вопросы")
    block = block[: block.index("Похожее")]
    questions = [p[1:].strip() for p in block if p.startswith("Q")]
    answers = [p[1:].strip() for p in block if p.startswith("A")]
    assert len(questions) == len(answers)
    return list(zip(questions, answers, strict=True))


def test_seed_has_five_question_answer_pairs(seed, paragraphs):
    expected = _seed_pairs(paragraphs)
    assert len(seed.qa) == len(expected) == 5
    assert [(pair.question, pair.answer) for pair in seed.qa] == expected
    assert seed.qa[1].question.startswith("Which exchanges")
    assert seed.qa[1].question.endswith("?")
    assert seed.qa[1].answer.startswith("Binance and Hyperliquid")
    assert all(not pair.question.startswith("Q") for pair in seed.qa)


def _seed_teaser_titles(paragraphs: list[str]) -> list[str]:
    """Each related teaser's title is printed twice in the file (above its summary and again)."""
    block = _after(paragraphs, "Похожее")
    block = block[: block.index("Торговля")]
    titles = []
    for paragraph in block:
        if paragraph.startswith("marsbit") or paragraph in titles:
            continue
        if block.count(paragraph) == 2:
            titles.append(paragraph)
    return titles


def test_seed_has_two_related_teasers(seed, paragraphs):
    expected = _seed_teaser_titles(paragraphs)
    assert len(expected) == 2
    assert [teaser.title for teaser in seed.related] == expected
    assert seed.related[0].title.startswith("a16z:")
    assert "Hair Dryer" in seed.related[1].title
    assert all(teaser.source == "marsbit" and teaser.summary for teaser in seed.related)
    assert all(teaser.summary not in expected for teaser in seed.related)
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
