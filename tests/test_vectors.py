"""Tests for kb.vectors: id-mapped search, removal, filters, atomic save and checked open."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from kb import vectors
from kb.vectors import IndexCorrupt, VectorIndex, manifest_path, mean_vector

DIM = 32
SHA = "a" * 64


def unit(n: int, seed: int = 0, centres: int = 50) -> np.ndarray:
    """Clustered unit vectors, like sentence embeddings (deterministic)."""
    rng = np.random.default_rng(seed)
    centre = rng.standard_normal((centres, DIM)).astype(np.float32)
    x = centre[rng.integers(0, centres, n)] + 0.5 * rng.standard_normal((n, DIM)).astype(np.float32)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def build(kind: str, n: int = 2000) -> tuple[VectorIndex, np.ndarray, np.ndarray]:
    """An index of the given kind over n vectors with ids 1000..1000+n-1."""
    index = VectorIndex(DIM, approx_threshold=10**9 if kind == "flat" else 0, model_sha=SHA)
    ids = np.arange(1000, 1000 + n, dtype=np.int64)
    x = unit(n)
    index.add(ids, x)
    assert index.kind == kind
    return index, ids, x


KINDS = ["flat", "ivf"]


@pytest.mark.parametrize("kind", KINDS)
def test_vector_finds_itself_first(kind: str) -> None:
    index, ids, x = build(kind)
    hits = index.search(x[7], 5)
    assert hits[0][0] == ids[7]
    assert hits[0][1] == pytest.approx(1.0, abs=1e-5)
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)


@pytest.mark.parametrize("kind", KINDS)
def test_add_replaces_an_existing_id(kind: str) -> None:
    index, ids, x = build(kind)
    index.add(ids[:1], x[500:501])
    assert len(index) == len(ids)
    np.testing.assert_allclose(index.vectors(ids[:1])[0], x[500], atol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_removed_ids_are_never_returned(kind: str) -> None:
    index, ids, x = build(kind)
    assert index.remove(np.array([ids[3], ids[4], 999_999])) == 2
    assert len(index) == len(ids) - 2
    assert not index.contains(ids[3:5]).any()
    found = {i for i, _ in index.search(x[3], 50)}
    assert not found & {int(ids[3]), int(ids[4])}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("exact_filter_limit", [0, 10**6])
def test_filtered_search_returns_only_allowed_ids(
    kind: str, exact_filter_limit: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vectors, "EXACT_FILTER_LIMIT", exact_filter_limit)
    index, ids, x = build(kind)
    allowed = {int(i) for i in ids[1500:1520]} | {5}  # 5 is not in the index
    hits = index.search(x[0], 10, allowed_ids=allowed)
    assert len(hits) == 10
    assert {i for i, _ in hits} <= allowed
    assert index.search(x[0], 10, allowed_ids={5}) == []


def test_ids_are_sorted_and_complete_after_changes() -> None:
    index, ids, _ = build("flat", n=100)
    index.remove(ids[:10])
    np.testing.assert_array_equal(index.ids(), ids[10:])


def test_growing_past_threshold_switches_to_approximate() -> None:
    index = VectorIndex(DIM, approx_threshold=500, model_sha=SHA)
    x = unit(1000)
    index.add(np.arange(400), x[:400])
    assert index.kind == "flat"
    index.add(np.arange(400, 1000), x[400:])
    assert index.kind == "ivf"
    np.testing.assert_array_equal(index.ids(), np.arange(1000))


def test_approximate_recall_at_10_against_exact() -> None:
    exact, _, x = build("flat", n=5000)
    approx, _, _ = build("ivf", n=5000)
    queries = unit(100, seed=1)
    overlap = [
        len({i for i, _ in approx.search(q, 10)} & {i for i, _ in exact.search(q, 10)}) / 10
        for q in queries
    ]
    assert np.mean(overlap) >= 0.9


@pytest.mark.parametrize("kind", KINDS)
def test_save_and_open_round_trip(kind: str, tmp_path: Path) -> None:
    index, ids, x = build(kind)
    index.remove(ids[:5])
    path = tmp_path / "vectors.faiss"
    index.save(path)
    reopened = VectorIndex.open(path, DIM, SHA)
    assert reopened.open_problem is None
    assert reopened.kind == kind
    np.testing.assert_array_equal(reopened.ids(), ids[5:])
    assert reopened.search(x[9], 5) == index.search(x[9], 5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vectors.faiss", "vectors.faiss.json"]
    manifest = json.loads(manifest_path(path).read_text())
    assert manifest["count"] == len(ids) - 5
    assert manifest["model_sha256"] == SHA


def test_missing_index_opens_empty(tmp_path: Path) -> None:
    index = VectorIndex.open(tmp_path / "vectors.faiss", DIM, SHA)
    assert len(index) == 0
    assert index.open_problem == "missing"


@pytest.mark.parametrize("keep_bytes", [0, 100, 0.5])
def test_torn_index_file_is_detected(tmp_path: Path, keep_bytes: float) -> None:
    index, _, _ = build("flat")
    path = tmp_path / "vectors.faiss"
    index.save(path)
    data = path.read_bytes()
    cut = int(len(data) * keep_bytes) if isinstance(keep_bytes, float) else keep_bytes
    path.write_bytes(data[:cut])
    with pytest.raises(IndexCorrupt, match="torn"):
        VectorIndex.open(path, DIM, SHA, strict=True)
    reopened = VectorIndex.open(path, DIM, SHA)
    assert len(reopened) == 0
    assert "torn" in reopened.open_problem


def test_stale_manifest_keeps_vectors_and_flags_them(tmp_path: Path) -> None:
    # A crash between the index rename and the manifest rename: new index, old manifest.
    index, ids, x = build("flat")
    path = tmp_path / "vectors.faiss"
    index.save(path)
    old_manifest = tmp_path / "old.json"
    shutil.copy(manifest_path(path), old_manifest)
    index.add(np.array([1]), x[:1])
    index.save(path)
    shutil.copy(old_manifest, manifest_path(path))
    with pytest.raises(IndexCorrupt, match="stale"):
        VectorIndex.open(path, DIM, SHA, strict=True)
    reopened = VectorIndex.open(path, DIM, SHA)
    assert reopened.open_problem.startswith("stale")
    assert len(reopened) == len(ids) + 1


def test_same_count_different_ids_is_stale(tmp_path: Path) -> None:
    index, ids, x = build("flat", n=50)
    path = tmp_path / "vectors.faiss"
    index.save(path)
    manifest = json.loads(manifest_path(path).read_text())
    index.remove(ids[:1])
    index.add(np.array([1]), x[:1])
    index.save(path)
    manifest_path(path).write_text(json.dumps(manifest))
    assert "ids in the file differ" in VectorIndex.open(path, DIM, SHA).open_problem


@pytest.mark.parametrize(
    ("dim", "sha", "problem"),
    [(DIM, "b" * 64, "made by model"), (DIM + 1, SHA, "dim")],
)
def test_wrong_model_or_dim_opens_empty(tmp_path: Path, dim: int, sha: str, problem: str) -> None:
    index, _, _ = build("flat", n=50)
    path = tmp_path / "vectors.faiss"
    index.save(path)
    with pytest.raises(IndexCorrupt, match=problem):
        VectorIndex.open(path, dim, sha, strict=True)
    reopened = VectorIndex.open(path, dim, sha)
    assert len(reopened) == 0
    assert problem in reopened.open_problem


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda ix: ix.add(np.arange(2), np.zeros((2, DIM + 1), np.float32)), "shape"),
        (lambda ix: ix.add(np.arange(3), np.zeros((2, DIM), np.float32)), "counts must match"),
        (lambda ix: ix.add(np.array([1, 1]), np.zeros((2, DIM), np.float32)), "unique"),
        (lambda ix: ix.search(np.zeros(DIM, np.float32), 0), "k must be a positive integer"),
        (lambda ix: ix.search(np.zeros(DIM + 1, np.float32), 3), f"{DIM} values"),
    ],
)
def test_bad_input_is_rejected_with_what_is_accepted(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call(VectorIndex(DIM, model_sha=SHA))


def test_mean_vector_is_a_unit_mean() -> None:
    x = unit(5)
    mean = mean_vector(x)
    np.testing.assert_allclose(np.linalg.norm(mean), 1.0, atol=1e-6)
    expected = x.mean(axis=0) / np.linalg.norm(x.mean(axis=0))
    np.testing.assert_allclose(mean, expected, atol=1e-6)


@pytest.mark.parametrize("bad", [np.zeros((0, DIM)), np.array([[1.0, 0.0], [-1.0, 0.0]])])
def test_mean_vector_rejects_empty_or_cancelling_input(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match="mean_vector"):
        mean_vector(bad)
