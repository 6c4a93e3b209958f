"""Corpus records and store checks shared by the knowledge-base, search and reliability tests."""

from __future__ import annotations

import json
from pathlib import Path

from ingest.jsonl import article_from_record
from ingest.records import Article
from kb.embedding import Embedder
from kb.knowledge import KnowledgeBase
from kb.store import Store

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "articles.jsonl"
SOURCES = ("Alpha Wire", "Beta Daily")


def corpus_records(count: int, skip: int = 0) -> list[dict]:
    """Corpus records long enough to make more than one passage, with a source and a date added."""
    records = []
    with open(CORPUS, encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            if len(record["text"]) >= 1500:
                records.append(record)
    chosen = records[skip : skip + count]
    return [
        {
            **record,
            "source": SOURCES[(skip + n) % 2],
            "published": f"2024-03-{skip + n + 1:02d}T09:00:00+00:00",
        }
        for n, record in enumerate(chosen)
    ]


def articles_of(records: list[dict]) -> list[Article]:
    """Parsed articles of the records, as `kb ingest` would read them from a JSONL file."""
    return [article_from_record(record, origin=f"test:{n}") for n, record in enumerate(records)]


def shape_problems(store: Store) -> list[str]:
    """Articles whose passages do not run 0, 1, 2, ... or whose offsets do not slice the body."""
    problems = []
    for article_id in store.article_ids():
        body = store.get_article(article_id).article.body
        passages = sorted(
            (p.passage for p in store.get_passages(store.article_passage_ids(article_id)).values()),
            key=lambda p: p.ordinal,
        )
        if [p.ordinal for p in passages] != list(range(len(passages))) or not passages:
            problems.append(f"{article_id}: ordinals {[p.ordinal for p in passages]}")
        problems += [
            f"{article_id}#{p.ordinal}: offsets do not slice the body"
            for p in passages
            if body[p.start : p.end] != p.text
        ]
    return problems


def build_data_dir(data_dir: Path, embedder: Embedder, articles: int) -> Path:
    """Ingest the first ``articles`` corpus records into ``data_dir`` (model already in place)."""
    kb = KnowledgeBase(data_dir, embedder=embedder)
    results = kb.ingest(articles_of(corpus_records(articles)))
    assert [r.status for r in results] == ["new"] * articles
    kb.store.close()
    return data_dir
