"""Figures over time (kb.series) and their chart (api.timeline), over a real SQLite store holding
articles written for these tests; no model is needed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from api.timeline import Dot, Timeline, compact_number, nice_ticks, render_timeline
from ingest.records import Article, Fact, Passage
from kb.errors import KbError
from kb.series import SeriesQuery, fact_day, fact_series
from kb.store import Store


def store_article(
    store: Store,
    tag: str,
    source: str,
    published: str | None,
    sentences: list[tuple[str, float, str, str | None]],
    entity: str = "Bybit",
) -> str:
    """Store an article of ``sentences`` (text, value, figure text, side), one long-liquidation
    fact of ``entity`` per sentence, and return its id."""
    body = " ".join(text for text, _, _, _ in sentences)
    article = Article(
        title=f"Digest {tag}",
        body=body,
        url=f"https://example.test/{tag}",
        source=source,
        published=published,
    )
    passages = [Passage(article.id, 0, body, 0, len(body))]
    facts = []
    offset = 0
    for text, value, figure, side in sentences:
        start = body.index(figure, offset)
        facts.append(
            Fact(
                value=value,
                unit="USD",
                metric="liquidations",
                text=figure,
                start=start,
                end=start + len(figure),
                sentence=text,
                entity=entity,
                entity_type="exchange",
                side=side,
            )
        )
        offset = body.index(text, offset) + len(text)
    store.save_article(article.id, article, tag, passages, facts, set())
    return article.id


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "kb.sqlite3")


def long_series(store: Store, **narrow: str) -> list[dict]:
    query = SeriesQuery(entity="bybit", metric="liquidations", side="long", **narrow)
    return fact_series(store, query).to_dict()["points"]


def test_points_are_oldest_first_with_the_article_day_and_a_citation(store: Store) -> None:
    later = store_article(
        store,
        "b",
        "Desk B",
        "2032-05-09T10:00:00Z",
        [("Bybit saw $30 million.", 30e6, "$30 million", "long")],
    )
    earlier = store_article(
        store,
        "a",
        "Desk A",
        "2032-05-02",
        [("Bybit saw $20 million.", 20e6, "$20 million", "long")],
    )
    points = long_series(store)
    assert [(p["day"], p["value"]) for p in points] == [("2032-05-02", 20e6), ("2032-05-09", 30e6)]
    citation = points[0]["citations"][0]
    assert (citation["article_id"], citation["source"], citation["text"]) == (
        earlier,
        "Desk A",
        "$20 million",
    )
    assert points[1]["citations"][0]["article_id"] == later
    body = store.get_article(earlier).article.body
    assert body[citation["start"] : citation["end"]] == "$20 million"


def test_a_day_the_sentence_states_dates_the_point(store: Store) -> None:
    store_article(
        store,
        "stated",
        "Desk A",
        "2032-05-10",
        [("On May 6, 2032, Bybit longs lost $44 million.", 44e6, "$44 million", "long")],
    )
    [point] = long_series(store)
    assert (point["day"], point["day_stated"]) == ("2032-05-06", True)


def test_copies_of_a_figure_count_once_and_cite_every_copy(store: Store) -> None:
    for tag, source, value, figure in (
        ("first", "Desk A", 50e6, "$50 million"),
        ("copy", "Desk C", 50.1e6, "$50.1 million"),
    ):
        store_article(
            store,
            tag,
            source,
            "2032-05-04",
            [(f"Bybit longs lost {figure}.", value, figure, "long")],
        )
    [point] = long_series(store)
    assert [c["source"] for c in point["citations"]] == ["Desk A", "Desk C"]
    assert point["disputed"] is False


def test_sources_more_than_five_percent_apart_on_a_day_are_disputed(store: Store) -> None:
    store_article(
        store,
        "x",
        "Desk A",
        "2032-05-04",
        [("Bybit longs lost $50 million.", 50e6, "$50 million", "long")],
    )
    store_article(
        store,
        "y",
        "Desk B",
        "2032-05-04",
        [("Bybit longs lost $80 million.", 80e6, "$80 million", "long")],
    )
    points = long_series(store)
    assert [(p["value"], p["disputed"]) for p in points] == [(50e6, True), (80e6, True)]
    assert [o["value"] for o in points[0]["disputed_with"]] == [80e6]
    assert points[0]["disputed_with"][0]["citations"][0]["source"] == "Desk B"


def test_two_figures_from_one_source_on_one_day_are_no_dispute(store: Store) -> None:
    store_article(
        store,
        "one",
        "Desk A",
        "2032-05-04",
        [
            ("Bybit longs lost $10 million in an hour.", 10e6, "$10 million", "long"),
            ("Over the day Bybit longs lost $70 million.", 70e6, "$70 million", "long"),
        ],
    )
    assert [p["disputed"] for p in long_series(store)] == [False, False]


def test_figures_five_percent_or_less_apart_are_no_dispute(store: Store) -> None:
    store_article(
        store,
        "p",
        "Desk A",
        "2032-05-04",
        [("Bybit longs lost $100 million.", 100e6, "$100 million", "long")],
    )
    store_article(
        store,
        "q",
        "Desk B",
        "2032-05-04",
        [("Bybit longs lost $104 million.", 104e6, "$104 million", "long")],
    )
    assert [p["disputed"] for p in long_series(store)] == [False, False]


def test_undated_figures_are_counted_not_plotted(store: Store) -> None:
    store_article(
        store, "u", "Desk A", None, [("Bybit longs lost $9 million.", 9e6, "$9 million", "long")]
    )
    found = fact_series(store, SeriesQuery("Bybit", "liquidations")).to_dict()
    assert (found["count"], found["undated"]) == (0, 1)


def test_since_and_until_bound_the_days(store: Store) -> None:
    for n in (1, 5, 9):
        store_article(
            store,
            f"d{n}",
            "Desk A",
            f"2032-05-0{n}",
            [(f"Bybit longs lost ${n} million.", n * 1e6, f"${n} million", "long")],
        )
    points = long_series(store, since="2032-05-02", until="2032-05-05")
    assert [p["day"] for p in points] == ["2032-05-05"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (SeriesQuery("", "liquidations"), "entity is required"),
        (SeriesQuery("Bybit", ""), "metric is required"),
        (SeriesQuery("Bybit", "speed"), "metric must be one of"),
        (SeriesQuery("Bybit", "liquidations", side="both"), "side must be one of"),
        (SeriesQuery("Bybit", "liquidations", window="a week"), "window must be"),
        (SeriesQuery("Bybit", "liquidations", since="May 2032"), "since must be"),
        (SeriesQuery("Bybit", "liquidations", since="2032-06-01", until="2032-05-01"), "after"),
    ],
)
def test_a_bad_query_is_refused_with_what_is_accepted(
    store: Store, query: SeriesQuery, message: str
) -> None:
    with pytest.raises(KbError, match=message):
        fact_series(store, query)


def test_a_figure_is_dated_by_publication_unless_its_sentence_names_one_day() -> None:
    published = "2032-05-10"
    assert fact_day("Bybit longs lost $5 million on May 6, 2032.", published) == (
        "2032-05-06",
        True,
    )
    assert fact_day("Bybit longs lost $5 million on May 6.", published) == ("2032-05-06", True)
    # A month is not a day, and a yearless day that would lie most of a year back is not believed.
    assert fact_day("Bybit longs lost $5 million in March.", published) == (published, False)
    assert fact_day("Bybit longs lost $5 million on May 20.", published) == (published, False)
    assert fact_day("Bybit longs lost $5 million.", None) == (None, False)


def test_axis_ticks_cover_the_values_in_round_steps() -> None:
    assert nice_ticks(-30, 73) == [-50, 0, 50, 100]
    assert nice_ticks(0, 1.2e9) == [0, 5e8, 1e9, 1.5e9]
    assert nice_ticks(0, 0)[0] == 0 and len(nice_ticks(0, 0)) >= 2


def test_axis_numbers_are_compact_in_their_unit() -> None:
    assert [compact_number(v, u) for v, u in ((1.5e9, "USD"), (-2e6, "USD"), (45, "%"))] == [
        "$1.5B",
        "-$2M",
        "45%",
    ]
    assert compact_number(2500, "BTC") == "2.5K BTC"


def test_the_chart_links_every_point_and_marks_disputed_ones() -> None:
    from datetime import date

    dots = (
        Dot(
            date(2032, 5, 2), 20e6, "2032-05-02: $20 million, Desk A", "/articles/a?mark=1-2#figure"
        ),
        Dot(date(2032, 5, 4), 50e6, "2032-05-04: $50 million (disputed)", "/articles/b", True),
    )
    svg = str(render_timeline(Timeline("Bybit long liquidations (USD)", "USD", dots)))
    assert re.findall(r'<a href="([^"]+)"><circle', svg) == [
        "/articles/a?mark=1-2#figure",
        "/articles/b",
    ]
    assert svg.count('class="timeline-dot disputed"') == 1
    assert "<title>2032-05-02: $20 million, Desk A</title>" in svg
    assert "2032-05-02" in svg and "2032-05-04" in svg  # the day axis
    assert 'role="img"' in svg


def test_a_unit_filter_keeps_that_unit_and_still_counts_the_others(store: Store) -> None:
    store_article(
        store,
        "usd",
        "Desk A",
        "2032-05-04",
        [("Bybit longs lost $7 million.", 7e6, "$7 million", "long")],
    )
    found = fact_series(store, SeriesQuery("Bybit", "liquidations", unit="BTC")).to_dict()
    assert (found["count"], found["units"]) == (0, {"USD": 1})
    found = fact_series(store, SeriesQuery("Bybit", "liquidations", unit="USD")).to_dict()
    assert found["count"] == 1


def test_an_answer_gets_a_series_chart_once_its_metric_has_three_dated_points(
    tmp_path: Path,
) -> None:
    from api import create_app
    from api.pages import answer_series
    from kb.knowledge import KnowledgeBase

    kb = KnowledgeBase(tmp_path / "data")
    app = create_app({"data_dir": str(tmp_path / "data"), "kb": kb})
    answer = {"facts": [{"entity": "Bybit", "metric": "liquidations", "side": "long"}]}
    for n in (1, 2, 3):
        store_article(
            kb.store,
            f"ask{n}",
            "Desk A",
            f"2032-05-0{n}",
            [(f"Bybit longs lost ${n} million.", n * 1e6, f"${n} million", "long")],
        )
        with app.test_request_context("/"):
            chart = answer_series(answer)
        if n < 3:
            assert chart is None
    assert chart is not None
    assert chart["url"] == "/figures?entity=Bybit&metric=liquidations&side=long"
    assert str(chart["svg"]).count("<circle") == 3
