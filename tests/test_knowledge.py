"""Tests for kb.knowledge: the store and the vector indexes kept in step through ingest, update,
delete, duplicates, reopening and repair of torn or stale index files.

Uses the session fixtures of conftest.py (one loaded model); each test works on a copy of a small
data directory built once per module from a few articles of ../shared/corpus/articles.jsonl.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import copy_data_dir, copy_model_into
from support.corpus import articles_of, build_data_dir, corpus_records, shape_problems

from ingest.dedupe import DUPLICATE_OVERLAP, overlap, shingle_hashes
from ingest.records import Article, canonical_url
from ingest.sentences import sentence_spans
from kb.embedding import MODEL_DIM, MODEL_SHA256, Embedder
from kb.errors import NotFound
from kb.knowledge import (
    ARTICLE_INDEX_FILE,
    MANIFEST_FILE,
    PASSAGE_INDEX_FILE,
    KnowledgeBase,
    article_vector_id,
)
from kb.store import SCHEMA_VERSION
from kb.vectors import VectorIndex, manifest_path, mean_vector

pytestmark = pytest.mark.slow

BASE_ARTICLES = 8
INDEX_FILES = (
    PASSAGE_INDEX_FILE,
    ARTICLE_INDEX_FILE,
    manifest_path(PASSAGE_INDEX_FILE).name,
    manifest_path(ARTICLE_INDEX_FILE).name,
)
# Written for these tests: a syndication footer, not text from the corpus.
FOOTER = "This story was first published by a partner outlet and is republished with permission."


@pytest.fixture(scope="module")
def base_dir(
    tmp_path_factory: pytest.TempPathFactory, model_data_dir: Path, embedder: Embedder
) -> Path:
    """A data directory with BASE_ARTICLES corpus articles; copy it before writing."""
    data_dir = tmp_path_factory.mktemp("kb-small")
    copy_model_into(model_data_dir, data_dir)
    return build_data_dir(data_dir, embedder, BASE_ARTICLES)


@pytest.fixture
def kb_dir(base_dir: Path, tmp_path: Path) -> Path:
    """A writable copy of the small data directory."""
    return copy_data_dir(base_dir, tmp_path / "data")


@pytest.fixture
def kb(kb_dir: Path, embedder: Embedder) -> KnowledgeBase:
    """A knowledge base over a writable copy of the small data directory."""
    return KnowledgeBase(kb_dir, embedder=embedder)


def file_times(data_dir: Path) -> dict[str, int]:
    """mtime_ns of every file in the data directory except the model."""
    return {
        str(path.relative_to(data_dir)): path.stat().st_mtime_ns
        for path in data_dir.rglob("*")
        if path.is_file() and "models" not in path.parts
    }


def reopen(data_dir: Path, embedder: Embedder) -> KnowledgeBase:
    """A new knowledge base over the directory, its indexes opened (and so repaired)."""
    kb = KnowledgeBase(data_dir, embedder=embedder)
    kb.passage_index()
    return kb


def test_every_stored_passage_has_exactly_one_vector(kb: KnowledgeBase) -> None:
    counts = kb.stats()
    assert counts["articles"] == BASE_ARTICLES
    assert counts["passages"] > BASE_ARTICLES  # the chosen articles make several passages each
    assert len(kb.passage_index()) == counts["passages"]
    assert set(kb.passage_index().ids().tolist()) == kb.store.passage_ids()
    assert len(kb.article_index()) == BASE_ARTICLES
    assert kb.consistency_problems() == []


def test_every_passage_stores_one_vector_per_sentence(kb: KnowledgeBase) -> None:
    ids = sorted(kb.store.passage_ids())
    stored = kb.sentence_vectors(ids)
    assert sorted(stored) == ids
    for pid, passage in kb.store.get_passages(ids).items():
        assert stored[pid].spans == sentence_spans(passage.passage.text)
        norms = np.linalg.norm(stored[pid].vectors, axis=1)
        assert np.allclose(norms, 1.0, atol=1e-2)  # unit vectors, stored in float16


def test_a_sentence_vector_stands_for_its_own_sentence(
    kb: KnowledgeBase, embedder: Embedder
) -> None:
    # Pooled from the passage's tokens, a sentence's vector carries context; it should still
    # be nearer its own sentence, encoded alone, than any other sentence of the passage.
    ids = sorted(kb.store.passage_ids())
    stored = kb.sentence_vectors(ids)
    nearest_own = total = 0
    for pid, passage in kb.store.get_passages(ids).items():
        text, row = passage.passage.text, stored[pid]
        alone = embedder.encode_passages([text[a:b] for a, b in row.spans])
        nearest = np.argmax(row.vectors @ alone.T, axis=1)
        nearest_own += int(np.sum(nearest == np.arange(len(row.spans))))
        total += len(row.spans)
    assert total > 0 and nearest_own / total >= 0.75


def test_passage_vectors_are_the_mean_of_their_tokens_as_the_model_pools_them(
    kb: KnowledgeBase, embedder: Embedder
) -> None:
    ids = sorted(kb.store.passage_ids())[:5]
    texts = [p.passage.text for p in kb.store.get_passages(ids).values()]
    pooled, _ = embedder.encode_with_sentences(texts, [sentence_spans(t) for t in texts])
    cosines = np.sum(pooled * embedder.encode_passages(texts), axis=1)
    assert np.all(cosines > 0.9999)


def test_missing_sentence_vectors_are_embedded_on_repair(kb: KnowledgeBase) -> None:
    kb.passage_index()
    ids = sorted(kb.store.passage_ids())
    with kb.store.transaction() as db:
        db.execute("DELETE FROM sentence_vectors WHERE passage_id = ?", (ids[0],))
    assert kb.store.passages_without_sentence_vectors(MODEL_SHA256) == [ids[0]]
    assert "1 stored passages have no sentence vectors" in " | ".join(kb.consistency_problems())
    assert kb.repair()["sentences_embedded"] == 1
    assert kb.store.passages_without_sentence_vectors(MODEL_SHA256) == []
    assert kb.consistency_problems() == []


def test_deleting_an_article_deletes_its_sentence_vectors(kb: KnowledgeBase) -> None:
    article_id = kb.store.article_ids()[0]
    passage_ids = kb.store.article_passage_ids(article_id)
    kb.delete_article(article_id)
    assert kb.sentence_vectors(passage_ids) == {}


def test_passages_of_each_article_run_in_order_and_slice_its_body(kb: KnowledgeBase) -> None:
    assert shape_problems(kb.store) == []


def test_consistency_check_reports_missing_vectors_and_orphans(kb: KnowledgeBase) -> None:
    index = kb.passage_index()
    first = int(index.ids()[0])
    index.remove(np.array([first]))
    index.add(np.array([10**9]), np.ones((1, MODEL_DIM), dtype=np.float32) / MODEL_DIM**0.5)
    problems = " | ".join(kb.consistency_problems())
    assert "1 stored passages have no vector" in problems and str(first) in problems
    assert "1 vectors belong to no stored passage" in problems


def test_delete_removes_passages_facts_and_vectors(
    kb: KnowledgeBase, kb_dir: Path, embedder: Embedder
) -> None:
    victim = next(a for a in kb.store.article_ids() if kb.store.article_facts(a))
    passage_ids = kb.store.article_passage_ids(victim)
    kb.delete_article(victim)
    for current in (kb, reopen(kb_dir, embedder)):
        assert not current.store.has_article(victim)
        assert current.store.article_facts(victim) == []
        assert not current.store.get_passages(passage_ids)
        assert not current.passage_index().contains(np.array(passage_ids)).any()
        assert not current.article_index().contains(np.array([article_vector_id(victim)]))[0]
        assert current.stats()["articles"] == BASE_ARTICLES - 1
        assert current.consistency_problems() == []


def test_deleting_an_unknown_article_is_not_found(kb: KnowledgeBase) -> None:
    with pytest.raises(NotFound):
        kb.delete_article("000000000000")


def test_changed_body_at_the_same_url_replaces_the_old_vectors(kb: KnowledgeBase) -> None:
    original, other = corpus_records(1)[0], corpus_records(1, skip=BASE_ARTICLES)[0]
    article_id = articles_of([original])[0].id
    old_ids = kb.store.article_passage_ids(article_id)
    [result] = kb.ingest(articles_of([{**original, "text": other["text"]}]))
    assert (result.status, result.id) == ("updated", article_id)
    new_ids = kb.store.article_passage_ids(article_id)
    assert new_ids and not set(new_ids) & set(old_ids)
    index = kb.passage_index()
    assert not index.contains(np.array(old_ids)).any()
    assert index.contains(np.array(new_ids)).all()
    assert kb.store.get_article(article_id).article.body.startswith(other["text"][:40])
    article_vector = kb.article_index().vectors(np.array([article_vector_id(article_id)]))[0]
    np.testing.assert_allclose(
        article_vector, mean_vector(index.vectors(np.array(new_ids))), atol=1e-5
    )
    assert kb.consistency_problems() == []


def test_reingesting_unchanged_articles_writes_nothing(kb: KnowledgeBase, kb_dir: Path) -> None:
    kb.passage_index()
    before_files = file_times(kb_dir)
    before_changed = {a: kb.store.get_article(a).changed_at for a in kb.store.article_ids()}
    results = kb.ingest(articles_of(corpus_records(BASE_ARTICLES)))
    assert [r.status for r in results] == ["unchanged"] * BASE_ARTICLES
    assert all(not r.added_passages and not r.removed_passages for r in results)
    assert file_times(kb_dir) == before_files
    assert {a: kb.store.get_article(a).changed_at for a in kb.store.article_ids()} == before_changed


def test_same_article_at_a_second_url_is_stored_once_with_both_urls(kb: KnowledgeBase) -> None:
    original = corpus_records(1)[0]
    mirror = {**original, "url": "https://mirror.example.org/markets/story-1"}
    before = kb.stats()
    [result] = kb.ingest(articles_of([mirror]))
    first_id = articles_of([original])[0].id
    assert (result.status, result.duplicate_of) == ("duplicate", first_id)
    assert kb.stats() == before
    assert set(kb.store.article_urls(first_id)) >= {
        canonical_url(original["url"]),
        canonical_url(mirror["url"]),
    }
    assert kb.store.article_id_for_urls([mirror["url"]]) == first_id


def test_syndicated_copy_is_stored_once_with_both_urls(kb: KnowledgeBase) -> None:
    original = corpus_records(2)[1]
    copy = {
        **original,
        "url": "https://partner.example.net/reprint/42",
        "text": original["text"] + "\n\n" + FOOTER,
    }
    assert (
        overlap(shingle_hashes(original["text"]), shingle_hashes(copy["text"])) >= DUPLICATE_OVERLAP
    )
    before = kb.stats()
    [result] = kb.ingest(articles_of([copy]))
    first_id = articles_of([original])[0].id
    assert (result.status, result.duplicate_of) == ("duplicate", first_id)
    assert kb.stats() == before
    assert canonical_url(copy["url"]) in kb.store.article_urls(first_id)


def test_reingesting_a_syndicated_copy_keeps_the_original(kb: KnowledgeBase) -> None:
    original = corpus_records(2)[1]
    copy = {
        **original,
        "url": "https://partner.example.net/reprint/42",
        "text": original["text"] + "\n\n" + FOOTER,
    }
    first_id = articles_of([original])[0].id
    kb.ingest(articles_of([copy]))
    [again] = kb.ingest(articles_of([copy]))
    assert again.status in ("duplicate", "unchanged")
    assert FOOTER not in kb.store.get_article(first_id).article.body


def test_reopened_knowledge_base_finds_everything(
    kb: KnowledgeBase, kb_dir: Path, embedder: Embedder
) -> None:
    stats, passage_ids = kb.stats(), kb.store.passage_ids()
    vectors = kb.passage_index().vectors(np.array(sorted(passage_ids)))
    again = KnowledgeBase(kb_dir, embedder=embedder)
    again.passage_index()
    assert again.repair() == {
        "passages_added": 0,
        "passages_removed": 0,
        "articles_removed": 0,
        "articles_refreshed": 0,
        "sentences_embedded": 0,
    }
    assert again.stats() == stats
    assert set(again.passage_index().ids().tolist()) == passage_ids
    np.testing.assert_array_equal(
        again.passage_index().vectors(np.array(sorted(passage_ids))), vectors
    )
    assert len(again.article_index()) == stats["articles"]


def _tear(path: Path, how: str) -> None:
    data = path.read_bytes()
    path.write_bytes(
        {"half": data[: len(data) // 2], "empty": b"", "garbage": b"\x00not an index\xff" * 64}[how]
    )


@pytest.mark.parametrize(
    "name, how",
    [
        (PASSAGE_INDEX_FILE, "half"),
        (PASSAGE_INDEX_FILE, "empty"),
        (PASSAGE_INDEX_FILE, "garbage"),
        (ARTICLE_INDEX_FILE, "half"),
        (manifest_path(PASSAGE_INDEX_FILE).name, "half"),
    ],
)
def test_torn_index_file_is_repaired_on_open(
    kb_dir: Path, embedder: Embedder, name: str, how: str
) -> None:
    _tear(kb_dir / name, how)
    kb = reopen(kb_dir, embedder)
    assert kb.consistency_problems() == []
    assert len(kb.passage_index()) == kb.stats()["passages"]
    assert len(kb.article_index()) == kb.stats()["articles"]
    # The repaired files were saved: they open cleanly, without another repair.
    for index_name in (PASSAGE_INDEX_FILE, ARTICLE_INDEX_FILE):
        reopened = VectorIndex.open(kb_dir / index_name, dim=MODEL_DIM, model_sha=MODEL_SHA256)
        assert reopened.open_problem is None


def test_stale_index_files_are_reconciled_on_open(
    kb: KnowledgeBase, kb_dir: Path, embedder: Embedder, tmp_path: Path
) -> None:
    saved = tmp_path / "old-index"
    saved.mkdir()
    for name in INDEX_FILES:
        shutil.copy2(kb_dir / name, saved / name)
    # Later states the old files know nothing of: new articles, an update and a delete.
    kb.ingest(articles_of(corpus_records(3, skip=BASE_ARTICLES)))
    updated = corpus_records(1)[0]
    new_text = corpus_records(1, skip=BASE_ARTICLES + 3)[0]["text"]
    kb.ingest(articles_of([{**updated, "text": new_text}]))
    deleted = articles_of(corpus_records(2)[1:])[0].id
    kb.delete_article(deleted)
    for name in INDEX_FILES:
        shutil.copy2(saved / name, kb_dir / name)

    again = reopen(kb_dir, embedder)
    assert again.consistency_problems() == []
    assert again.stats()["articles"] == BASE_ARTICLES + 3 - 1
    assert not again.article_index().contains(np.array([article_vector_id(deleted)]))[0]
    updated_id = articles_of([updated])[0].id
    ids = np.array(again.store.article_passage_ids(updated_id))
    np.testing.assert_allclose(
        again.article_index().vectors(np.array([article_vector_id(updated_id)]))[0],
        mean_vector(again.passage_index().vectors(ids)),
        atol=1e-5,
    )


def test_crash_between_the_two_index_saves_heals(
    kb: KnowledgeBase, kb_dir: Path, embedder: Embedder, tmp_path: Path
) -> None:
    """The article index is saved first; a crash before the passage index leaves it newer."""
    old = tmp_path / PASSAGE_INDEX_FILE
    shutil.copy2(kb_dir / PASSAGE_INDEX_FILE, old)
    shutil.copy2(manifest_path(kb_dir / PASSAGE_INDEX_FILE), manifest_path(old))
    original = corpus_records(1)[0]
    kb.ingest(articles_of([{**original, "text": corpus_records(1, skip=BASE_ARTICLES)[0]["text"]}]))
    shutil.copy2(old, kb_dir / PASSAGE_INDEX_FILE)
    shutil.copy2(manifest_path(old), manifest_path(kb_dir / PASSAGE_INDEX_FILE))

    again = reopen(kb_dir, embedder)
    assert again.consistency_problems() == []
    article_id = articles_of([original])[0].id
    ids = np.array(again.store.article_passage_ids(article_id))
    np.testing.assert_allclose(
        again.article_index().vectors(np.array([article_vector_id(article_id)]))[0],
        mean_vector(again.passage_index().vectors(ids)),
        atol=1e-5,
    )


def test_reindex_rebuilds_both_indexes_from_the_store(kb: KnowledgeBase) -> None:
    before = kb.stats()
    changes = kb.reindex()
    assert changes["articles"] == before["articles"]
    assert changes["passages_added"] == before["passages"]
    assert kb.stats() == before
    assert kb.consistency_problems() == []
    assert shape_problems(kb.store) == []


def test_changed_chunking_settings_are_reported_until_reindexed(
    kb: KnowledgeBase, kb_dir: Path, embedder: Embedder
) -> None:
    again = KnowledgeBase(kb_dir, embedder=embedder, max_passage_tokens=100)
    assert again.manifest_warning and "kb reindex" in again.manifest_warning
    again.reindex()
    assert KnowledgeBase(kb_dir, embedder=embedder, max_passage_tokens=100).manifest_warning is None


def test_an_older_schema_in_the_manifest_follows_the_upgraded_store(
    kb: KnowledgeBase, kb_dir: Path, embedder: Embedder
) -> None:
    path = kb_dir / MANIFEST_FILE
    older = {**json.loads(path.read_text("utf-8")), "schema_version": SCHEMA_VERSION - 1}
    path.write_text(json.dumps(older), "utf-8")
    again = KnowledgeBase(kb_dir, embedder=embedder)
    assert again.manifest_warning is None
    assert json.loads(path.read_text("utf-8"))["schema_version"] == SCHEMA_VERSION


def made_up(n: int, **fields: str) -> Article:
    """An article written for these tests (no corpus text)."""
    values = {
        "title": f"Desk digest {n}",
        "body": f"Traders on Zeltrax exchange saw ${20 + n} million in long liquidations in a day.",
        "url": f"https://example.test/digest/{n}",
        **fields,
    }
    return Article(**values)


def test_a_batch_stopped_by_an_error_still_indexes_what_it_committed(kb: KnowledgeBase) -> None:
    before = kb.stats()

    def items():  # noqa: ANN202
        yield made_up(1)
        raise RuntimeError("the source broke off")

    with pytest.raises(RuntimeError):
        kb.ingest(items())
    counts = kb.stats()
    assert counts["articles"] == before["articles"] + 1
    assert len(kb.passage_index()) == counts["passages"]
    assert kb.consistency_problems() == []


@pytest.mark.parametrize(
    "fields",
    [
        {"body": "Binance saw $1 million \ud800 in liquidations."},
        {"title": "Digest \udfff"},
        {"author": "\ud83d"},
        {"url": "https://example.test/\ud800"},
        {"url": "https://example.test:99999/"},
        {"url": "http://[::1"},
    ],
)
def test_an_unwritable_field_fails_that_article_and_stores_nothing(
    kb: KnowledgeBase, fields: dict[str, str]
) -> None:
    before = kb.stats()
    results = kb.ingest([made_up(2, **fields), made_up(3)])
    assert [r.status for r in results] == ["failed", "new"]
    assert next(iter(fields)) in results[0].error or "url" in results[0].error
    assert kb.stats()["articles"] == before["articles"] + 1
    assert kb.consistency_problems() == []


def desk_page(figure: int) -> bytes:
    """An HTML page written for these tests."""
    return (
        "<html><head><title>Desk note</title></head><body><article><h1>Desk note</h1>"
        f"<p>Zeltrax exchange recorded roughly ${figure} million in long liquidations while "
        "a rival venue saw over $9 million in shorts.</p><p>Open interest held near $30 billion "
        "as funding stayed flat, and desks said positioning looked cautious into the close "
        "of a quiet week in which spot volumes thinned across the major venues.</p>"
        "</article></body></html>"
    ).encode()


def test_an_upload_named_like_an_ingested_file_never_replaces_its_article(
    kb: KnowledgeBase, tmp_path: Path
) -> None:
    from ingest.sources import read_sources, read_upload

    path = tmp_path / "desk-note.html"
    path.write_bytes(desk_page(21))
    (stored,) = kb.ingest(read_sources([str(path)]))
    assert stored.status == "new"
    (uploaded,) = kb.ingest(read_upload(desk_page(45), str(path.resolve())))
    assert uploaded.status == "new" and uploaded.id != stored.id
    assert "$21 million" in kb.store.get_article(stored.id).article.body
    # The file read again from its place is still that article, edited.
    path.write_bytes(desk_page(33))
    (again,) = kb.ingest(read_sources([str(path)]))
    assert again.status == "updated" and again.id == stored.id
