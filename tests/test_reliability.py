"""Reliability of kb.knowledge: ingests killed with SIGKILL heal on the next open, and searches
running beside an ingest (threads, or another process) all succeed.

Uses the session fixtures of conftest.py (one loaded model). The kill test runs `kb ingest` over
the whole of ../shared/corpus/articles.jsonl in subprocesses; it takes a minute or two.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import copy_model_into
from support.corpus import CORPUS, shape_problems

from ingest.sources import read_sources
from kb.embedding import MODEL_DIM, Embedder
from kb.knowledge import KnowledgeBase
from kb.search import MODES, search

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
KILLS = 4
# Each kill lands once the store holds a number of articles drawn at random, so kills are chosen
# by progress, never by time: a slow or loaded machine only makes the test take longer. The last
# target leaves this many articles unread, so no ingest finishes before its kill.
KILL_MARGIN = 40
# A generous bound on one round, reached only if an ingest stops making progress.
ROUND_TIMEOUT_S = 600.0
SEED = int(os.environ.get("KB_KILL_SEED", random.randrange(10**6)))
QUERIES = (
    "bitcoin liquidations",
    "ether ETF inflows",
    "stablecoin supply",
    "funding rates turned negative",
    "exchange hack losses",
)


class RandomEmbedder:
    """Random unit vectors: counts of articles, passages and facts need no real embeddings."""

    dim = MODEL_DIM

    def encode_passages(self, texts: list[str], **_: object) -> np.ndarray:
        """A random unit vector per text."""
        vectors = np.random.default_rng(len(texts)).standard_normal((len(texts), MODEL_DIM))
        return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)

    def encode_with_sentences(
        self, texts: list[str], spans: list[list[tuple[int, int]]], **_: object
    ) -> tuple[np.ndarray, list[list[np.ndarray]]]:
        """A random unit vector per text and per sentence span."""
        return self.encode_passages(texts), [
            list(self.encode_passages(["."] * len(s))) for s in spans
        ]


@pytest.fixture(scope="module")
def reference_counts(tmp_path_factory: pytest.TempPathFactory, model_data_dir: Path) -> dict:
    """Articles, passages and facts after one uninterrupted ingest of the corpus."""
    data_dir = tmp_path_factory.mktemp("kb-reference")
    copy_model_into(model_data_dir, data_dir)
    kb = KnowledgeBase(data_dir, embedder=RandomEmbedder())
    kb.ingest(read_sources([str(CORPUS)]))
    assert kb.consistency_problems() == []
    return kb.stats()


class WaitingEmbedder(RandomEmbedder):
    """Holds its first encode until the store has moved past the articles of that batch."""

    # Storing one article takes well under a second; a serial ingest fails after this long.
    def __init__(self, kb_box: list, timeout: float = 120.0) -> None:
        self.kb_box = kb_box
        self.timeout = timeout
        self.stored_at_first: int | None = None
        self.stored_during_first = 0

    def encode_with_sentences(self, texts, spans, **extra):  # noqa: ANN001, ANN201
        if self.stored_at_first is None:
            store = self.kb_box[0].store
            self.stored_at_first = store.counts()["articles"]
            deadline = time.monotonic() + self.timeout
            # Progress, not time, ends the wait: a serial ingest would only reach the deadline.
            while time.monotonic() < deadline:
                self.stored_during_first = store.counts()["articles"] - self.stored_at_first
                if self.stored_during_first > 0:
                    break
                time.sleep(0.01)
        return super().encode_with_sentences(texts, spans, **extra)


def test_articles_are_stored_while_a_batch_is_embedded(
    model_data_dir: Path, tmp_path: Path
) -> None:
    copy_model_into(model_data_dir, tmp_path)
    box: list = []
    embedder = WaitingEmbedder(box)
    kb = KnowledgeBase(tmp_path, embedder=embedder)
    box.append(kb)
    kb.ingest(read_sources([str(CORPUS)]))
    assert embedder.stored_during_first > 0
    assert kb.consistency_problems() == []


def ingest_process(data_dir: Path, log: Path) -> subprocess.Popen:
    """`python -m cli --data-dir DATA_DIR ingest CORPUS -q`, its output going to ``log``."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "cli", "--data-dir", str(data_dir), "ingest", str(CORPUS), "-q"],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def check_after_restart(data_dir: Path, embedder: Embedder) -> dict:
    """Open the directory as a restarted process would (repairing it); fail on any disagreement."""
    kb = KnowledgeBase(data_dir, embedder=embedder)
    assert kb.consistency_problems() == []
    assert shape_problems(kb.store) == []
    counts = kb.stats()
    kb.store.close()
    return counts


def kill_targets(total: int, rng: random.Random) -> list[int]:
    """KILLS article counts, increasing, after each of which an ingest is killed."""
    top = total - KILL_MARGIN
    step = top // KILLS
    return [rng.randint(n * step + 1, (n + 1) * step) for n in range(KILLS)]


def search_until_stored(
    process: subprocess.Popen, target: int, store_dir: Path, embedder: Embedder
) -> int:
    """Keyword searches from this process while ``process`` writes, until the store holds
    ``target`` articles or the process ends; returns how many searches ran."""
    kb = KnowledgeBase(store_dir, embedder=embedder)
    done = 0
    deadline = time.monotonic() + ROUND_TIMEOUT_S
    try:
        while kb.stats()["articles"] < target and process.poll() is None:
            assert time.monotonic() < deadline, f"the ingest stopped short of {target} articles"
            search(kb, QUERIES[done % len(QUERIES)], k=5, mode="keyword")
            done += 1
            time.sleep(0.02)
    finally:
        kb.store.close()
    return done


def test_killed_ingests_heal_and_finish_with_the_same_counts(
    tmp_path: Path, model_data_dir: Path, embedder: Embedder, reference_counts: dict
) -> None:
    data_dir = tmp_path / "data"
    copy_model_into(model_data_dir, data_dir)
    log = tmp_path / "ingest.log"
    rng = random.Random(SEED)
    seen: list[int] = []
    searches = 0
    for target in kill_targets(reference_counts["articles"], rng):
        process = ingest_process(data_dir, log)
        # Searching from this process meanwhile: SQLite must never answer "database is locked".
        searches += search_until_stored(process, target, data_dir, embedder)
        assert process.poll() is None, (
            f"the ingest ended before its kill (seed {SEED}):\n{log.read_text()}"
        )
        process.send_signal(signal.SIGKILL)
        process.wait()
        seen.append(check_after_restart(data_dir, embedder)["articles"])
    assert all(0 < n < reference_counts["articles"] for n in seen), (
        f"a kill landed outside the ingest (articles after each kill: {seen}, seed {SEED})"
    )
    assert seen == sorted(seen), f"a restart lost committed articles: {seen} (seed {SEED})"
    assert searches > 0

    finished = subprocess.run(
        [sys.executable, "-m", "cli", "--data-dir", str(data_dir), "ingest", str(CORPUS), "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert check_after_restart(data_dir, embedder) == reference_counts, f"seed {SEED}"


def test_searches_during_an_ingest_all_succeed(
    tmp_path: Path, model_data_dir: Path, embedder: Embedder
) -> None:
    data_dir = tmp_path / "data"
    copy_model_into(model_data_dir, data_dir)
    items = [item for item in read_sources([str(CORPUS)]) if not isinstance(item, Exception)]
    kb = KnowledgeBase(data_dir, embedder=embedder)
    kb.ingest(items[:3])
    # A second knowledge base over the same directory stands in for another process (its own
    # SQLite connections and its own copy of the indexes, reloaded when the files change).
    beside = KnowledgeBase(data_dir, embedder=embedder)
    errors: list[BaseException] = []
    counts = {"searches": 0}
    ingesting = threading.Event()
    ingesting.set()

    def ingest() -> None:
        try:
            kb.ingest(items[3:60])
        except BaseException as error:  # noqa: BLE001 - reported by the test thread
            errors.append(error)
        finally:
            ingesting.clear()

    def searcher(number: int, target: KnowledgeBase) -> None:
        turn = number
        while ingesting.is_set():
            try:
                search(target, QUERIES[turn % len(QUERIES)], k=5, mode=MODES[turn % len(MODES)])
                counts["searches"] += 1
            except BaseException as error:  # noqa: BLE001 - reported by the test thread
                errors.append(error)
                return
            turn += 1

    threads = [threading.Thread(target=ingest)] + [
        threading.Thread(target=searcher, args=(n, kb if n % 2 else beside)) for n in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert counts["searches"] >= 8
    assert kb.consistency_problems() == []
    assert beside.stats() == kb.stats()
    assert len(beside.passage_index()) == kb.stats()["passages"]
