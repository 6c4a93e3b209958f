"""One data directory's knowledge base: the store, the vector indexes and the model, in step.

SQLite is the source of truth. Vectors are derived: passages are embedded after their article is
committed, and on open the indexes are compared with the store (missing vectors embedded, orphans
removed), so a crash at any point heals on the next start.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ingest.chunking import ChunkSettings, passage_sentences
from ingest.errors import IngestError
from ingest.records import Article, Passage
from ingest.validation import checked_article
from kb.embedding import MODEL_DIM, MODEL_NAME, MODEL_SHA256, Embedder, ensure_model, get_embedder
from kb.errors import KbError
from kb.ingesting import IngestResult, failed, rewrite_article, store_article
from kb.store import SCHEMA_VERSION, SentenceVectorRow, Store
from kb.vectors import DEFAULT_APPROX_THRESHOLD, VectorIndex, manifest_path, mean_vector

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckReport:
    """What ``KnowledgeBase.check`` found: each problem in words, and the counts on disk."""

    problems: list[str]
    counts: dict[str, int]


STORE_FILE = "kb.sqlite3"
PASSAGE_INDEX_FILE = "passages.faiss"
ARTICLE_INDEX_FILE = "articles.faiss"
MANIFEST_FILE = "manifest.json"
# Passages embedded per batch: big enough for throughput, small enough that progress moves.
FLUSH_PASSAGES = 256
# Passages per call into the model: the model's lock is released between calls, so searches
# running beside an ingest wait for one slice (about a second), not for a whole flush.
ENCODE_SLICE = 64
# Temp files of index saves older than this were left by a killed process and are removed.
STALE_TEMP_SECONDS = 600

Progress = Callable[[IngestResult], None]


def article_vector_id(article_id: str) -> int:
    """The int64 id of an article in the article index (its hex id read as a number)."""
    return int(article_id, 16)


class KnowledgeBase:
    """Store, indexes and model for one data directory; safe to share between threads."""

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        max_passage_tokens: int = 254,
        approx_threshold: int = DEFAULT_APPROX_THRESHOLD,
        embedder: Embedder | None = None,
        inference: str = "auto",
    ) -> None:
        self.data_dir = Path(data_dir)
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise KbError(f"cannot create data directory {self.data_dir}: {error}", 500) from error
        self.store = Store(self.data_dir / STORE_FILE)
        self.chunk_settings = ChunkSettings(max_tokens=max_passage_tokens)
        self.approx_threshold = approx_threshold
        self._embedder = embedder
        self.inference = inference
        self._token_counter: Callable[[str], int] | None = None
        self._lock = threading.RLock()
        self._passages: VectorIndex | None = None
        self._articles: VectorIndex | None = None
        self._loaded_stamp: tuple[float, float] | None = None
        self.manifest_warning = self._check_manifest()

    # -- components --------------------------------------------------------------------------

    @property
    def embedder(self) -> Embedder:
        """The process's embedding model (loaded on first use)."""
        if self._embedder is None:
            self._embedder = get_embedder(self.data_dir, self.inference)
        return self._embedder

    def count_tokens(self, text: str) -> int:
        """Word pieces the model's tokenizer makes of ``text`` (without special tokens)."""
        if self._token_counter is None:
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(ensure_model(self.data_dir) / "tokenizer.json"))
            tokenizer.no_truncation()
            tokenizer.no_padding()
            self._token_counter = lambda t: len(tokenizer.encode(t, add_special_tokens=False).ids)
        return self._token_counter(text)

    def passage_index(self) -> VectorIndex:
        """The passage vector index, opened and reconciled with the store on first use."""
        self._reload_if_changed()
        if self._passages is None:
            with self._lock:
                if self._passages is None:
                    self._open_indexes()
        return self._passages

    def article_index(self) -> VectorIndex:
        """The per-article vector index (normalised mean of each article's passage vectors)."""
        self.passage_index()
        return self._articles

    # -- manifest ------------------------------------------------------------------------------

    def _manifest(self) -> dict:
        return {
            "schema_version": SCHEMA_VERSION,
            "model": {"name": MODEL_NAME, "sha256": MODEL_SHA256, "dim": MODEL_DIM},
            "chunking": asdict(self.chunk_settings),
        }

    def _check_manifest(self) -> str | None:
        """Write the manifest of a new data directory; describe any mismatch with an old one."""
        path = self.data_dir / MANIFEST_FILE
        wanted = self._manifest()
        if not path.exists():
            self._write_manifest(wanted)
            return None
        try:
            found = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            self._write_manifest(wanted)
            return f"manifest was unreadable ({error}); rewritten"
        problems = []
        if found.get("schema_version", SCHEMA_VERSION) > SCHEMA_VERSION:
            problems.append(
                f"data written by a newer marketkb (schema "
                f"{found.get('schema_version')}); upgrade marketkb"
            )
        if found.get("model") != wanted["model"]:
            # The vector index checks the model hash itself and re-embeds on open.
            problems.append(
                f"vectors were made by {found.get('model')}; they are re-embedded "
                f"with {wanted['model']['name']}"
            )
        if found.get("chunking") != wanted["chunking"]:
            problems.append(
                f"passages were cut with {found.get('chunking')}, settings now say "
                f"{wanted['chunking']}; run `kb reindex` to re-cut them"
            )
        if not problems and found.get("schema_version", SCHEMA_VERSION) < SCHEMA_VERSION:
            # The store upgraded itself on open; the manifest follows it.
            self._write_manifest({**found, "schema_version": SCHEMA_VERSION})
        for problem in problems:
            log.warning("%s: %s", path, problem)
        return "; ".join(problems) or None

    def _write_manifest(self, manifest: dict) -> None:
        """Replace manifest.json atomically, so a process killed mid-write never leaves half."""
        path = self.data_dir / MANIFEST_FILE
        fd, tmp = tempfile.mkstemp(prefix=f".{MANIFEST_FILE}.", suffix=".tmp", dir=self.data_dir)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(json.dumps(manifest, indent=2) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    # -- indexes -------------------------------------------------------------------------------

    def _index_stamp(self) -> tuple[float, float] | None:
        try:
            return tuple(
                manifest_path(self.data_dir / name).stat().st_mtime
                for name in (PASSAGE_INDEX_FILE, ARTICLE_INDEX_FILE)
            )
        except OSError:
            return None

    def _reload_if_changed(self) -> None:
        """Pick up indexes saved by another process (a `kb ingest` beside a running server)."""
        if self._passages is None or self._loaded_stamp is None:
            return
        stamp = self._index_stamp()
        if stamp is not None and stamp != self._loaded_stamp:
            with self._lock:
                if self._index_stamp() != self._loaded_stamp:
                    log.info("vector indexes changed on disk; reloading")
                    self._open_indexes()

    def _remove_stale_temp_files(self) -> None:
        """Delete temp files that killed saves left behind (old enough that no save is running)."""
        cutoff = time.time() - STALE_TEMP_SECONDS
        for name in (PASSAGE_INDEX_FILE, ARTICLE_INDEX_FILE, MANIFEST_FILE):
            for prefix in (f".{name}.", f".{manifest_path(name).name}."):
                for leftover in self.data_dir.glob(f"{prefix}*.tmp"):
                    try:
                        if leftover.stat().st_mtime < cutoff:
                            leftover.unlink()
                            log.info("removed %s, left by an interrupted save", leftover.name)
                    except OSError:
                        pass  # another process removed or renamed it first

    def _open_indexes(self) -> None:
        self._remove_stale_temp_files()
        open_args = {
            "dim": MODEL_DIM,
            "model_sha": MODEL_SHA256,
            "approx_threshold": self.approx_threshold,
        }
        passages = VectorIndex.open(self.data_dir / PASSAGE_INDEX_FILE, **open_args)
        articles = VectorIndex.open(self.data_dir / ARTICLE_INDEX_FILE, **open_args)
        self._passages, self._articles = passages, articles
        self.repair()

    def repair(self, progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
        """Make the indexes hold exactly the store's passages and articles; returns what changed."""
        with self._lock:
            passages, articles = self._passages, self._articles
            stored = self.store.passage_ids()
            held = set(passages.ids().tolist())
            orphans = held - stored
            missing = sorted(stored - held)
            passages.remove(np.array(sorted(orphans), dtype=np.int64))
            for start in range(0, len(missing), FLUSH_PASSAGES):
                batch = missing[start : start + FLUSH_PASSAGES]
                self._embed_passages(batch)
                if progress:
                    progress(min(start + FLUSH_PASSAGES, len(missing)), len(missing))
            article_ids = self.store.article_ids()
            wanted = {article_vector_id(a): a for a in article_ids}
            held_articles = set(articles.ids().tolist())
            stale_articles = held_articles - set(wanted)
            articles.remove(np.array(sorted(stale_articles), dtype=np.int64))
            # Passages without sentence vectors (a store from before them, a crash between the
            # index save and their write, another model): encode them now.
            unsentenced = self.store.passages_without_sentence_vectors(MODEL_SHA256)
            for start in range(0, len(unsentenced), FLUSH_PASSAGES):
                found = self.store.get_passages(unsentenced[start : start + FLUSH_PASSAGES])
                _, rows = self._encode({pid: p.passage for pid, p in found.items()})
                self.store.put_sentence_vectors(MODEL_SHA256, rows)
                if progress:
                    progress(min(start + FLUSH_PASSAGES, len(unsentenced)), len(unsentenced))
            touched = {p.passage.article_id for p in self.store.get_passages(missing).values()}
            todo = touched | {a for vid, a in wanted.items() if vid not in held_articles}
            self._refresh_article_vectors(todo)
            changes = {
                "passages_added": len(missing),
                "passages_removed": len(orphans),
                "articles_removed": len(stale_articles),
                "articles_refreshed": len(todo),
                "sentences_embedded": len(unsentenced),
            }
            if any(changes.values()) or passages.open_problem or articles.open_problem:
                log.info("vector index repaired: %s", changes)
                self._save_indexes()
            else:
                self._loaded_stamp = self._index_stamp()
            return changes

    def _embed_passages(self, passage_ids: list[int]) -> None:
        found = self.store.get_passages(passage_ids)
        # Longest first, in slices: each slice pads to similar lengths, and searches get the model
        # between slices.
        ids = sorted(
            (pid for pid in passage_ids if pid in found),
            key=lambda pid: -len(found[pid].passage.text),
        )
        for start in range(0, len(ids), ENCODE_SLICE):
            piece = ids[start : start + ENCODE_SLICE]
            vectors, rows = self._encode({pid: found[pid].passage for pid in piece})
            with self._lock:
                self._passages.add(np.array(piece, dtype=np.int64), vectors)
            self.store.put_sentence_vectors(MODEL_SHA256, rows)

    def _encode(self, passages: dict[int, Passage]) -> tuple[np.ndarray, list[SentenceVectorRow]]:
        """Passage vectors and the sentence vectors of each passage, from one encode."""
        spans = [passage_sentences(passage) for passage in passages.values()]
        texts = [passage.text for passage in passages.values()]
        vectors, sentences = self.embedder.encode_with_sentences(texts, spans)
        rows = []
        for pid, own, found in zip(passages, spans, sentences, strict=True):
            kept = [(span, v) for span, v in zip(own, found, strict=True) if v is not None]
            rows.append(
                SentenceVectorRow(
                    pid,
                    [span for span, _ in kept],
                    np.array([v for _, v in kept], dtype=np.float32).reshape(len(kept), MODEL_DIM),
                )
            )
        return vectors, rows

    def sentence_vectors(self, passage_ids: Iterable[int]) -> dict[int, SentenceVectorRow]:
        """The stored vectors of those passages' sentences, where present."""
        return self.store.sentence_vectors(MODEL_SHA256, passage_ids)

    def _refresh_article_vectors(self, article_ids: Iterable[str]) -> None:
        with self._lock:
            for article_id in article_ids:
                vid = np.array([article_vector_id(article_id)], dtype=np.int64)
                ids = np.array(self.store.article_passage_ids(article_id), dtype=np.int64)
                ids = ids[self._passages.contains(ids)] if len(ids) else ids
                if len(ids) == 0:
                    self._articles.remove(vid)
                    continue
                self._articles.add(vid, mean_vector(self._passages.vectors(ids)).reshape(1, -1))

    def _save_indexes(self) -> None:
        # Articles first: if the process dies between the two saves, the passage index on disk
        # still lacks the new passages, so repair re-embeds them and refreshes their articles.
        # The other order could leave an updated article's old mean vector looking current.
        with self._lock:
            self._articles.save(self.data_dir / ARTICLE_INDEX_FILE, MODEL_SHA256)
            self._passages.save(self.data_dir / PASSAGE_INDEX_FILE, MODEL_SHA256)
            self._passages.open_problem = self._articles.open_problem = None
            self._loaded_stamp = self._index_stamp()

    # -- ingest ----------------------------------------------------------------------------------

    def ingest(
        self, items: Iterable[Article | IngestError], progress: Progress | None = None
    ) -> list[IngestResult]:
        """Store each article (or record each error), embedding new passages in batches.

        A batch is embedded on a worker thread while the next articles are read and stored, so
        parsing, facts and SQLite overlap the model (one batch in flight at most, in order).
        """
        self.passage_index()
        results: list[IngestResult] = []
        pending: list[IngestResult] = []
        pending_passages = 0
        in_flight: Future | None = None
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="kb-embed") as worker:
            try:
                for item in items:
                    if isinstance(item, IngestError):
                        result = failed(item)
                    else:
                        try:
                            article = checked_article(item)
                            result = store_article(
                                self.store, article, self.chunk_settings, self.count_tokens
                            )
                        except IngestError as error:
                            result = failed(error, item.origin)
                    results.append(result)
                    if result.added_passages or result.removed_passages:
                        pending.append(result)
                        pending_passages += len(result.added_passages)
                    if pending_passages >= FLUSH_PASSAGES:
                        if in_flight is not None:
                            in_flight.result()
                        in_flight = worker.submit(self._flush, pending)
                        pending, pending_passages = [], 0
                    if progress:
                        progress(result)
            finally:
                # Whatever stops the batch, every article already committed gets its vectors
                # now, not at the next restart's repair: the batch in flight is finished and
                # the rest embedded, even when the one in flight failed.
                try:
                    if in_flight is not None:
                        in_flight.result()
                finally:
                    self._flush(pending)
        return results

    def _flush(self, results: list[IngestResult]) -> None:
        """Embed the passages these results added, drop the ones they replaced, save."""
        if not results:
            return
        removed = [pid for r in results for pid in r.removed_passages]
        added = [pid for r in results for pid in r.added_passages]
        with self._lock:
            self._passages.remove(np.array(removed, dtype=np.int64))
        self._embed_passages(added)
        self._refresh_article_vectors({r.id for r in results if r.id})
        self._save_indexes()

    def delete_article(self, article_id: str) -> None:
        """Delete an article, its passages, facts and vectors."""
        self.passage_index()
        removed = self.store.delete_article(article_id)
        with self._lock:
            self._passages.remove(np.array(removed, dtype=np.int64))
            self._articles.remove(np.array([article_vector_id(article_id)], dtype=np.int64))
            self._save_indexes()

    def reindex(self, progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
        """Re-cut every article into passages, re-extract facts and rebuild both indexes."""
        with self._lock:
            ids = self.store.article_ids()
            for number, article_id in enumerate(ids, start=1):
                stored = self.store.get_article(article_id)
                rewrite_article(
                    self.store, article_id, stored, self.chunk_settings, self.count_tokens
                )
                if progress:
                    progress(number, len(ids))
            for name in (PASSAGE_INDEX_FILE, ARTICLE_INDEX_FILE):
                for path in (self.data_dir / name, manifest_path(self.data_dir / name)):
                    path.unlink(missing_ok=True)
            self._write_manifest(self._manifest())
            self.manifest_warning = None
            self._passages = self._articles = None
            open_args = {
                "dim": MODEL_DIM,
                "model_sha": MODEL_SHA256,
                "approx_threshold": self.approx_threshold,
            }
            self._passages = VectorIndex.open(self.data_dir / PASSAGE_INDEX_FILE, **open_args)
            self._articles = VectorIndex.open(self.data_dir / ARTICLE_INDEX_FILE, **open_args)
            changes = self.repair(progress=None)
            return {"articles": len(ids), **changes}

    def consistency_problems(self) -> list[str]:
        """What disagrees between the store and the open vector indexes; empty when they agree.

        Every stored passage must have exactly one vector and every vector a stored passage; every
        article with passages must have exactly one article vector, and no other article may;
        every stored passage must have its sentence vectors.
        """
        self.passage_index()
        with self._lock:
            return self._index_problems(self._passages, self._articles)

    def check(self) -> CheckReport:
        """Every problem of the data directory as it lies on disk, repairing nothing: SQLite's
        integrity and full-text index, the manifest, and the vector index files against the
        store (``consistency_problems`` reads the indexes after opening has repaired them)."""
        problems = self.store.integrity_problems()
        if self.manifest_warning:
            problems.append(f"manifest: {self.manifest_warning}")
        open_args = {
            "dim": MODEL_DIM,
            "model_sha": MODEL_SHA256,
            "approx_threshold": self.approx_threshold,
        }
        indexes = []
        for name in (PASSAGE_INDEX_FILE, ARTICLE_INDEX_FILE):
            index = VectorIndex.open(self.data_dir / name, **open_args)
            if index.open_problem:
                problems.append(f"{name}: {index.open_problem}")
            indexes.append(index)
        counts = {
            **self.stats(),
            "passage_vectors": len(indexes[0]),
            "article_vectors": len(indexes[1]),
        }
        return CheckReport(problems + self._index_problems(*indexes), counts)

    def repair_all(self) -> CheckReport:
        """Fix what ``check`` finds that can be fixed; the problems left afterwards."""
        if self.store.fulltext_problem():
            self.store.rebuild_fulltext()
        already_open = self._passages is not None
        self.passage_index()  # opening reconciles the indexes with the store
        if already_open:
            self.repair()
        return self.check()

    def _index_problems(self, passages: VectorIndex, articles: VectorIndex) -> list[str]:
        """What disagrees between the store and these two indexes."""
        problems = []
        for name, index in (("passage", passages), ("article", articles)):
            held = index.ids()
            if len(np.unique(held)) != len(held) or len(held) != len(index):
                problems.append(f"the {name} index holds some id more than once")
        held = set(passages.ids().tolist())
        stored = self.store.passage_ids()
        if missing := stored - held:
            problems.append(
                f"{len(missing)} stored passages have no vector, e.g. {sorted(missing)[:5]}"
            )
        if orphans := held - stored:
            problems.append(
                f"{len(orphans)} vectors belong to no stored passage, e.g. {sorted(orphans)[:5]}"
            )
        with_passages = {
            article_vector_id(a)
            for a in self.store.article_ids()
            if self.store.article_passage_ids(a)
        }
        held_articles = set(articles.ids().tolist())
        if lacking := with_passages - held_articles:
            problems.append(f"{len(lacking)} articles have no article vector")
        if extra := held_articles - with_passages:
            problems.append(f"{len(extra)} article vectors belong to no stored article")
        if unsentenced := self.store.passages_without_sentence_vectors(MODEL_SHA256):
            problems.append(
                f"{len(unsentenced)} stored passages have no sentence vectors, e.g. "
                f"{unsentenced[:5]}"
            )
        return problems

    def nearest_passages(
        self, vector: np.ndarray, k: int, allowed_ids: set[int] | None = None
    ) -> list[tuple[int, float]]:
        """(passage id, cosine) of the ``k`` passages nearest ``vector``, best first."""
        index = self.passage_index()
        with self._lock:
            return index.search(vector, k, allowed_ids=allowed_ids)

    def passage_vectors(self, passage_ids: list[int]) -> dict[int, np.ndarray]:
        """The stored unit vectors of those passages that have one."""
        index = self.passage_index()
        ids = np.array(passage_ids, dtype=np.int64)
        with self._lock:
            held = ids[index.contains(ids)] if len(ids) else ids
            vectors = index.vectors(held) if len(held) else np.zeros((0, 0), dtype=np.float32)
        return {int(pid): vectors[n] for n, pid in enumerate(held)}

    def nearest_articles(self, article_id: str, k: int) -> list[tuple[str, float]]:
        """(article id, cosine) of the ``k`` articles nearest this one (itself included)."""
        index = self.article_index()
        vid = np.array([article_vector_id(article_id)], dtype=np.int64)
        with self._lock:
            if not index.contains(vid)[0]:
                return []
            candidates = index.search(index.vectors(vid)[0], k)
        by_vid = {article_vector_id(a): a for a in self.store.article_ids()}
        return [(by_vid[v], score) for v, score in candidates if v in by_vid]

    def stats(self) -> dict[str, int]:
        """Counts of stored articles, passages and facts."""
        return self.store.counts()
