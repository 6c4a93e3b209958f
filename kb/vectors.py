"""A FAISS vector index keyed by int64 passage (or article) ids, saved atomically with a manifest.

Two kinds, chosen by size:

* ``flat``: ``IndexIDMap2(IndexFlatIP)``: exact inner product (= cosine on unit vectors).
* ``ivf``: ``IndexIVFFlat`` (inner product) with a hashtable direct map, used once the index
  holds more than ``approx_threshold`` vectors. IVF rather than HNSW because FAISS's HNSW cannot
  ``remove_ids`` (deleting or updating an article would need tombstones and periodic rebuilds), and
  building HNSW over 1M 384-d vectors takes minutes on two cores, while IVF trains on a sample in
  seconds, stores the real ids itself, and removes them in place.

``save`` writes the index and then a JSON manifest (count, dim, kind, sha256 of the sorted id
list, model sha256), each through temp file + fsync + rename + directory fsync. ``open`` checks the
pair: a missing, torn or wrong-model file gives an empty index (or `IndexCorrupt` when strict); an
index that loads but disagrees with its manifest (a crash between the two renames) is kept and
flagged as stale, so the caller can reconcile its ids against the store instead of re-embedding.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import faiss
import numpy as np

logger = logging.getLogger(__name__)

MANIFEST_VERSION = 1
DEFAULT_APPROX_THRESHOLD = 200_000
DEFAULT_NPROBE = 64  # bench/search.py, 1M synthetic: recall@10 0.85 at 7.4 ms; 32 gave 0.78
# Filters that leave at most this many candidates are scored exactly (gathered vectors times the
# query) instead of probing IVF lists, which could miss allowed ids outside the probed lists.
EXACT_FILTER_LIMIT = 50_000
# Retrain the IVF quantiser once the index has grown this many times past its training size.
RETRAIN_GROWTH = 4
TRAIN_POINTS_PER_LIST = 50


class IndexCorrupt(RuntimeError):
    """A saved vector index is missing, torn, or does not match its manifest or model."""


def manifest_path(path: str | os.PathLike[str]) -> Path:
    """Return where the manifest of the index at `path` lives."""
    path = Path(path)
    return path.with_name(path.name + ".json")


def ids_checksum(ids: np.ndarray) -> str:
    """Return the sha256 of the sorted ids as little-endian int64, order-independent."""
    ordered = np.sort(np.asarray(ids, dtype="<i8"))
    return hashlib.sha256(ordered.tobytes()).hexdigest()


def mean_vector(vectors: np.ndarray) -> np.ndarray:
    """Return the L2-normalised mean of a set of vectors (e.g. one article's passages)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or len(vectors) == 0:
        raise ValueError(f"mean_vector needs a non-empty (n, dim) array, got shape {vectors.shape}")
    mean = vectors.mean(axis=0)
    norm = float(np.linalg.norm(mean))
    if norm == 0.0:
        raise ValueError("mean_vector: the vectors cancel out (zero mean); cannot normalise")
    return (mean / norm).astype(np.float32)


class VectorIndex:
    """Maps int64 ids to unit vectors and answers inner-product top-k queries."""

    def __init__(
        self,
        dim: int,
        approx_threshold: int = DEFAULT_APPROX_THRESHOLD,
        nprobe: int = DEFAULT_NPROBE,
        model_sha: str | None = None,
    ) -> None:
        if dim < 1:
            raise ValueError(f"dim must be a positive integer, got {dim!r}")
        self.dim = dim
        self.approx_threshold = approx_threshold
        self.nprobe = nprobe
        # The embedding model's sha256, recorded in the manifest so stale vectors are caught.
        self.model_sha = model_sha
        self.kind = "flat"
        self.index: Any = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self._trained_count = 0
        self._ids_cache: np.ndarray | None = None
        # Set by `open` when the file disagreed with its manifest; None when all was well.
        self.open_problem: str | None = None

    def __len__(self) -> int:
        return int(self.index.ntotal)

    # ----------------------------------------------------------------- contents

    def ids(self) -> np.ndarray:
        """Return the ids held, sorted, as a new int64 array."""
        return self._sorted_ids().copy()

    def _sorted_ids(self) -> np.ndarray:
        if self._ids_cache is None:
            if self.kind == "flat":
                ids = faiss.vector_to_array(self.index.id_map)
            else:
                invlists = self.index.invlists
                parts = [
                    faiss.rev_swig_ptr(invlists.get_ids(i), invlists.list_size(i)).copy()
                    for i in range(invlists.nlist)
                    if invlists.list_size(i)
                ]
                ids = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
            self._ids_cache = np.sort(ids.astype(np.int64))
        return self._ids_cache

    def contains(self, ids: np.ndarray) -> np.ndarray:
        """Return a boolean mask: which of `ids` are in the index."""
        ids = np.asarray(ids, dtype=np.int64)
        held = self._sorted_ids()
        if len(held) == 0:
            return np.zeros(len(ids), dtype=bool)
        pos = np.searchsorted(held, ids).clip(max=len(held) - 1)
        return held[pos] == ids

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        """Return the stored vectors of `ids` (all must be present), shape (n, dim)."""
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        missing = ids[~self.contains(ids)]
        if len(missing):
            raise KeyError(f"ids not in the index: {missing[:10].tolist()}")
        return self.index.reconstruct_batch(ids)

    # ----------------------------------------------------------------- changes

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add vectors under ids; an id already present has its vector replaced."""
        ids, vectors = self._check_batch(ids, vectors)
        if len(ids) == 0:
            return
        present = ids[self.contains(ids)]
        if len(present):
            self._remove_present(present)
        self.index.add_with_ids(vectors, ids)
        self._ids_cache = None
        too_big_for_flat = self.kind == "flat" and len(self) > self.approx_threshold
        outgrew_training = self.kind == "ivf" and len(self) > RETRAIN_GROWTH * self._trained_count
        if too_big_for_flat or outgrew_training:
            self._rebuild_approx()

    def remove(self, ids: np.ndarray) -> int:
        """Remove ids (absent ones are ignored); returns how many were removed."""
        ids = np.unique(np.asarray(ids, dtype=np.int64).ravel())
        if len(ids) == 0:
            return 0
        return self._remove_present(ids)

    def _remove_present(self, ids: np.ndarray) -> int:
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if self.kind == "ivf":
            # IVF's hashtable direct map only removes through an explicit id array.
            selector = faiss.IDSelectorArray(len(ids), faiss.swig_ptr(ids))
        else:
            selector = faiss.IDSelectorBatch(ids)
        removed = int(self.index.remove_ids(selector))
        if removed:
            self._ids_cache = None
        return removed

    def _check_batch(self, ids: np.ndarray, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ids = np.ascontiguousarray(np.asarray(ids).ravel(), dtype=np.int64)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim == 1 and len(ids) == 1:
            vectors = vectors.reshape(1, -1)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise ValueError(f"vectors must have shape (n, {self.dim}), got {vectors.shape}")
        if len(ids) != len(vectors):
            raise ValueError(f"got {len(ids)} ids for {len(vectors)} vectors; counts must match")
        if len(np.unique(ids)) != len(ids):
            raise ValueError("ids in one add() call must be unique")
        return ids, vectors

    def _rebuild_approx(self) -> None:
        """Move every vector into a freshly trained IVF index (ids preserved)."""
        ids = self._sorted_ids()
        vectors = self.index.reconstruct_batch(ids)
        n = len(ids)
        nlist = max(1, int(math.sqrt(n)))
        quantizer = faiss.IndexFlatIP(self.dim)
        ivf = faiss.IndexIVFFlat(quantizer, self.dim, nlist, faiss.METRIC_INNER_PRODUCT)
        ivf.own_fields = True
        quantizer.this.disown()
        rng = np.random.default_rng(0)
        sample = min(n, nlist * TRAIN_POINTS_PER_LIST)
        train = vectors
        if sample < n:
            train = vectors[np.sort(rng.choice(n, size=sample, replace=False))]
        ivf.cp.min_points_per_centroid = 1  # small indexes (tests) train without warnings
        ivf.train(train)
        ivf.set_direct_map_type(faiss.DirectMap.Hashtable)
        ivf.nprobe = self.nprobe
        ivf.add_with_ids(vectors, ids)
        self.index = ivf
        self.kind = "ivf"
        self._trained_count = n
        self._ids_cache = ids
        logger.info("vector index rebuilt as IVF: %d vectors, %d lists", n, nlist)

    # ----------------------------------------------------------------- search

    def search(
        self, query: np.ndarray, k: int, allowed_ids: set[int] | None = None
    ) -> list[tuple[int, float]]:
        """Return up to k (id, inner product) pairs, best first, optionally among allowed ids."""
        if not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        query = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
        if query.shape[1] != self.dim:
            raise ValueError(f"query must have {self.dim} values, got {query.shape[1]}")
        if len(self) == 0:
            return []
        params = None
        if allowed_ids is not None:
            allowed = np.fromiter(allowed_ids, dtype=np.int64, count=len(allowed_ids))
            allowed = allowed[self.contains(allowed)]
            if len(allowed) == 0:
                return []
            if self.kind == "ivf" and len(allowed) <= EXACT_FILTER_LIMIT:
                return self._search_exact_subset(query[0], k, allowed)
            selector = faiss.IDSelectorBatch(allowed)
            if self.kind == "flat":
                params = faiss.SearchParameters(sel=selector)
            else:
                params = faiss.SearchParametersIVF(sel=selector, nprobe=self.index.nprobe)
        k = min(k, len(self))
        scores, found = self.index.search(query, k, params=params)
        return [(int(i), float(s)) for i, s in zip(found[0], scores[0], strict=True) if i != -1]

    def _search_exact_subset(
        self, query: np.ndarray, k: int, allowed: np.ndarray
    ) -> list[tuple[int, float]]:
        scores = self.index.reconstruct_batch(allowed) @ query
        k = min(k, len(allowed))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(allowed[i]), float(scores[i])) for i in top]

    # ----------------------------------------------------------------- persistence

    def save(self, path: str | os.PathLike[str], model_sha: str | None = None) -> None:
        """Write the index, then its manifest, each atomically (temp, fsync, rename, dir fsync)."""
        model_sha = model_sha or self.model_sha
        if not model_sha:
            raise ValueError("save needs the model sha256 (pass model_sha or set it at creation)")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        manifest = {
            "version": MANIFEST_VERSION,
            "count": len(self),
            "dim": self.dim,
            "kind": self.kind,
            "ids_sha256": ids_checksum(self._sorted_ids()),
            "model_sha256": model_sha,
            "approx_threshold": self.approx_threshold,
            "trained_count": self._trained_count,
        }
        _atomic_write(path, lambda tmp: faiss.write_index(self.index, str(tmp)))
        data = json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8")
        _atomic_write(manifest_path(path), lambda tmp: tmp.write_bytes(data))

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        dim: int,
        model_sha: str,
        approx_threshold: int = DEFAULT_APPROX_THRESHOLD,
        strict: bool = False,
    ) -> VectorIndex:
        """Load a saved index and check it against its manifest, the dimension and the model.

        Missing, torn or wrong-model files raise `IndexCorrupt` when strict, otherwise give an
        empty index; an index that loads but disagrees with its manifest is kept. Either way
        `open_problem` says what was wrong and a warning is logged.
        """
        path = Path(path)
        empty = cls(dim, approx_threshold=approx_threshold, model_sha=model_sha)

        def fail(problem: str, keep: VectorIndex | None = None) -> VectorIndex:
            if strict:
                raise IndexCorrupt(f"{path}: {problem}")
            result = keep if keep is not None else empty
            result.open_problem = problem
            action = "keeping its vectors" if keep is not None else "starting empty"
            logger.warning(
                "vector index %s: %s; %s, reconcile it with the store", path, problem, action
            )
            return result

        mpath = manifest_path(path)
        if not path.exists() and not mpath.exists():
            empty.open_problem = "missing"
            logger.info("no vector index at %s; starting empty", path)
            if strict:
                raise IndexCorrupt(f"{path}: no index file and no manifest")
            return empty
        try:
            manifest = json.loads(mpath.read_text(encoding="utf-8"))
            if not isinstance(manifest, dict):
                raise ValueError("manifest is not a JSON object")
        except (OSError, ValueError) as exc:
            manifest = None
            manifest_error = f"manifest {mpath} unreadable ({exc})"
        if manifest is not None:
            if manifest.get("dim") != dim:
                return fail(f"manifest dim {manifest.get('dim')!r} != expected {dim}")
            if manifest.get("model_sha256") != model_sha:
                return fail(
                    f"vectors were made by model {manifest.get('model_sha256')!r}, "
                    f"not {model_sha!r}"
                )
        if not path.exists():
            return fail("index file missing but manifest present")
        try:
            index = faiss.read_index(str(path))
        except RuntimeError as exc:
            return fail(f"index file is torn or unreadable ({str(exc).splitlines()[0]})")
        loaded = cls(dim, approx_threshold=approx_threshold, model_sha=model_sha)
        if index.d != dim:
            return fail(f"index file has dim {index.d}, expected {dim}")
        if isinstance(index, faiss.IndexIVF):
            loaded.kind = "ivf"
            loaded.nprobe = int(index.nprobe)
            loaded._trained_count = int((manifest or {}).get("trained_count") or index.ntotal)
        elif isinstance(index, faiss.IndexIDMap2):
            loaded.kind = "flat"
        else:
            return fail(f"index file holds an unexpected {type(index).__name__}")
        loaded.index = index
        if manifest is None:
            return fail(manifest_error, keep=loaded)
        if manifest.get("kind") != loaded.kind or manifest.get("count") != len(loaded):
            return fail(
                f"stale: manifest says {manifest.get('count')} {manifest.get('kind')} vectors, "
                f"file holds {len(loaded)} {loaded.kind}",
                keep=loaded,
            )
        if manifest.get("ids_sha256") != ids_checksum(loaded._sorted_ids()):
            return fail("stale: the ids in the file differ from the manifest", keep=loaded)
        return loaded


def _atomic_write(path: Path, write: Any) -> None:
    """Call write(tmp) on a temp file beside `path`, fsync it, rename it over `path`, fsync dir."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
