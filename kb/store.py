"""The SQLite store: articles, their URLs, passages (with FTS5), shingle sketches and facts, and
the vectors of each passage's sentences (derived, like the FAISS files, and repaired on open).

SQLite is the source of truth; the FAISS index is derived from it and repaired against it on open.
Each article is written with its passages and facts in one transaction, so a crash leaves either
the old or the new version. WAL mode lets searches read while an ingest writes.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from ingest.records import Article, Fact, Passage, QAPair, RelatedTeaser, canonical_url
from kb.errors import KbError, NotFound

log = logging.getLogger(__name__)

# 2: passages record their sentence spans (column added to version 1 stores on open).
SCHEMA_VERSION = 2
# Ids bound per "IN (...)" query, well under SQLite's limit on host parameters.
IDS_PER_QUERY = 500

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY,
    url TEXT,
    title TEXT NOT NULL,
    source TEXT,
    author TEXT,
    published TEXT,
    updated TEXT,
    language TEXT,
    body TEXT NOT NULL,
    headings TEXT NOT NULL DEFAULT '[]',
    qa TEXT NOT NULL DEFAULT '[]',
    related TEXT NOT NULL DEFAULT '[]',
    origin TEXT,
    content_hash TEXT NOT NULL,
    ingested_at TEXT NOT NULL,
    changed_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS articles_published ON articles(published);
CREATE INDEX IF NOT EXISTS articles_source ON articles(source COLLATE NOCASE);
CREATE INDEX IF NOT EXISTS articles_origin ON articles(origin);
CREATE TABLE IF NOT EXISTS article_urls (
    url TEXT PRIMARY KEY,
    article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS article_urls_article ON article_urls(article_id);
CREATE TABLE IF NOT EXISTS passages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    heading TEXT,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    text TEXT NOT NULL,
    sentences TEXT
);
CREATE INDEX IF NOT EXISTS passages_article ON passages(article_id, ordinal);
CREATE VIRTUAL TABLE IF NOT EXISTS passages_fts USING fts5(
    text, content='passages', content_rowid='id', tokenize='porter unicode61'
);
CREATE TRIGGER IF NOT EXISTS passages_fts_insert AFTER INSERT ON passages BEGIN
    INSERT INTO passages_fts(rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER IF NOT EXISTS passages_fts_delete AFTER DELETE ON passages BEGIN
    INSERT INTO passages_fts(passages_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
CREATE TABLE IF NOT EXISTS sketches (
    hash INTEGER NOT NULL,
    article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    PRIMARY KEY (hash, article_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sketches_article ON sketches(article_id);
CREATE TABLE IF NOT EXISTS facts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    passage_id INTEGER REFERENCES passages(id) ON DELETE SET NULL,
    value REAL NOT NULL,
    unit TEXT NOT NULL,
    metric TEXT NOT NULL,
    entity TEXT,
    entity_type TEXT,
    side TEXT,
    direction TEXT,
    window TEXT,
    qualifier TEXT NOT NULL,
    text TEXT NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    sentence TEXT NOT NULL,
    as_of TEXT
);
CREATE INDEX IF NOT EXISTS facts_article ON facts(article_id);
CREATE INDEX IF NOT EXISTS facts_entity ON facts(entity COLLATE NOCASE, metric);
CREATE INDEX IF NOT EXISTS facts_metric ON facts(metric, as_of);
CREATE TABLE IF NOT EXISTS feeds (
    url TEXT PRIMARY KEY,
    etag TEXT,
    last_modified TEXT,
    last_poll TEXT,
    last_success TEXT,
    errors INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    last_new INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS feed_items (
    feed TEXT NOT NULL,
    url TEXT NOT NULL,
    seen_at TEXT NOT NULL,
    PRIMARY KEY (feed, url)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sentence_vectors (
    passage_id INTEGER PRIMARY KEY REFERENCES passages(id) ON DELETE CASCADE,
    model TEXT NOT NULL,
    spans TEXT NOT NULL,
    vectors BLOB NOT NULL
);
"""

_FTS_WORD = re.compile(r"\w+", re.UNICODE)
# Words too common in questions to help keyword search; the dense side still sees them.
_FTS_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "did",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "how",
        "i",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "over",
        "the",
        "their",
        "this",
        "to",
        "was",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "with",
    ]
)


@dataclass
class StoredArticle:
    """An article as stored, with its id and bookkeeping times."""

    id: str
    article: Article
    content_hash: str
    ingested_at: str
    changed_at: str


@dataclass
class StoredPassage:
    """A stored passage with its database id and its article's display fields."""

    id: int
    passage: Passage
    title: str
    url: str | None
    source: str | None
    published: str | None


@dataclass
class SentenceVectorRow:
    """The unit vectors of one passage's sentences, one row per span (offsets in the passage)."""

    passage_id: int
    spans: list[tuple[int, int]]
    vectors: np.ndarray


@dataclass
class FeedStatus:
    """What the watcher remembers of one feed between polls (and across restarts)."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    last_poll: str | None = None
    last_success: str | None = None
    errors: int = 0  # consecutive failed polls
    last_error: str | None = None
    last_new: int = 0  # articles the last successful poll stored


@dataclass
class Filters:
    """Restrictions shared by search, listing and fact queries; None means no restriction."""

    since: str | None = None
    until: str | None = None
    source: str | None = None
    article_id: str | None = None
    entity: str | None = None
    metric: str | None = None


class Store:
    """The SQLite database of one data directory; safe to share between threads."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._create_schema()

    # -- connections -------------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(
                self.path, timeout=60, isolation_level=None, check_same_thread=False
            )
            connection.row_factory = sqlite3.Row
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA foreign_keys=ON")
            connection.execute("PRAGMA busy_timeout=60000")
            self._local.connection = connection
        return connection

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken up front so readers never see half an article."""
        connection = self._connection()
        with self._write_lock:
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    def close(self) -> None:
        """Close this thread's connection."""
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None

    def _create_schema(self) -> None:
        try:
            with self._write_lock:
                self._connection().executescript("BEGIN IMMEDIATE;" + _SCHEMA + "COMMIT;")
            with self.transaction() as db:
                row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
                if row is not None and int(row["value"]) > SCHEMA_VERSION:
                    raise KbError(
                        f"{self.path} has schema version {row['value']}, newer than this marketkb "
                        f"({SCHEMA_VERSION}); upgrade marketkb",
                        status=500,
                    )
                columns = {c["name"] for c in db.execute("PRAGMA table_info(passages)")}
                if "sentences" not in columns:
                    # Older passages keep NULL and are split again when read.
                    db.execute("ALTER TABLE passages ADD COLUMN sentences TEXT")
                if row is None or int(row["value"]) < SCHEMA_VERSION:
                    db.execute(
                        "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)",
                        (str(SCHEMA_VERSION),),
                    )
        except sqlite3.DatabaseError as error:
            raise KbError(f"cannot open the store at {self.path}: {error}", status=500) from error

    def get_meta(self, key: str) -> str | None:
        """A value from the meta table."""
        row = self._connection().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row["value"] if row else None

    def set_meta(self, key: str, value: str) -> None:
        """Record a value in the meta table."""
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # -- articles ----------------------------------------------------------------------------

    def article_id_for_urls(self, urls: Iterable[str]) -> str | None:
        """The id of the stored article known by any of ``urls``."""
        db = self._connection()
        for url in urls:
            row = db.execute(
                "SELECT article_id FROM article_urls WHERE url = ?", (canonical_url(url),)
            ).fetchone()
            if row:
                return row["article_id"]
        return None

    def article_id_for_origin(self, origin: str) -> str | None:
        """The id of a URL-less article read from ``origin`` (a file path), if stored."""
        row = (
            self._connection()
            .execute("SELECT id FROM articles WHERE origin = ? AND url IS NULL", (origin,))
            .fetchone()
        )
        return row["id"] if row else None

    def get_article(self, article_id: str) -> StoredArticle:
        """The stored article with ``article_id``; NotFound if there is none."""
        row = (
            self._connection()
            .execute("SELECT * FROM articles WHERE id = ?", (article_id,))
            .fetchone()
        )
        if row is None:
            raise NotFound(f"no article with id {article_id!r}")
        return self._stored_article(row)

    def has_article(self, article_id: str) -> bool:
        """Whether an article with ``article_id`` is stored."""
        db = self._connection()
        return (
            db.execute("SELECT 1 FROM articles WHERE id = ?", (article_id,)).fetchone() is not None
        )

    def article_urls(self, article_id: str) -> list[str]:
        """Every URL the article is known by."""
        rows = self._connection().execute(
            "SELECT url FROM article_urls WHERE article_id = ? ORDER BY rowid", (article_id,)
        )
        return [row["url"] for row in rows]

    def _stored_article(self, row: sqlite3.Row) -> StoredArticle:
        urls = [u for u in self.article_urls(row["id"]) if u != row["url"]]
        article = Article(
            title=row["title"],
            body=row["body"],
            url=row["url"],
            alternate_urls=urls,
            source=row["source"],
            author=row["author"],
            published=row["published"],
            updated=row["updated"],
            language=row["language"],
            headings=json.loads(row["headings"]),
            qa=[QAPair(**pair) for pair in json.loads(row["qa"])],
            related=[RelatedTeaser(**teaser) for teaser in json.loads(row["related"])],
            origin=row["origin"] or "",
        )
        return StoredArticle(
            row["id"], article, row["content_hash"], row["ingested_at"], row["changed_at"]
        )

    def save_article(
        self,
        article_id: str,
        article: Article,
        content_hash: str,
        passages: list[Passage],
        facts: list[Fact],
        sketch: set[int],
    ) -> tuple[list[int], list[int]]:
        """Insert or replace an article with its passages, facts and sketch in one transaction.

        Returns the ids of the passages removed (of an older version) and of those added.
        """
        now = _now()
        with self.transaction() as db:
            removed = [
                row[0]
                for row in db.execute("SELECT id FROM passages WHERE article_id = ?", (article_id,))
            ]
            existing = db.execute(
                "SELECT ingested_at FROM articles WHERE id = ?", (article_id,)
            ).fetchone()
            db.execute("DELETE FROM passages WHERE article_id = ?", (article_id,))
            db.execute("DELETE FROM facts WHERE article_id = ?", (article_id,))
            db.execute("DELETE FROM sketches WHERE article_id = ?", (article_id,))
            db.execute(
                # An upsert, not INSERT OR REPLACE: replacing the row would cascade-delete every
                # URL the article is known by.
                "INSERT INTO articles VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT(id) DO UPDATE SET url=excluded.url, title=excluded.title, "
                "source=excluded.source, author=excluded.author, published=excluded.published, "
                "updated=excluded.updated, language=excluded.language, body=excluded.body, "
                "headings=excluded.headings, qa=excluded.qa, related=excluded.related, "
                "origin=excluded.origin, content_hash=excluded.content_hash, "
                "changed_at=excluded.changed_at",
                (
                    article_id,
                    article.url and canonical_url(article.url),
                    article.title,
                    article.source,
                    article.author,
                    article.published,
                    article.updated,
                    article.language,
                    article.body,
                    json.dumps(article.headings),
                    json.dumps([vars(pair) for pair in article.qa], ensure_ascii=False),
                    json.dumps([vars(teaser) for teaser in article.related], ensure_ascii=False),
                    article.origin,
                    content_hash,
                    existing["ingested_at"] if existing else now,
                    now,
                ),
            )
            self._add_urls(db, article_id, [u for u in (article.url, *article.alternate_urls) if u])
            added = []
            for passage in passages:
                cursor = db.execute(
                    "INSERT INTO passages "
                    '(article_id, ordinal, heading, start, "end", text, sentences) '
                    "VALUES (?,?,?,?,?,?,?)",
                    (
                        article_id,
                        passage.ordinal,
                        passage.heading,
                        passage.start,
                        passage.end,
                        passage.text,
                        json.dumps(passage.sentences) if passage.sentences else None,
                    ),
                )
                added.append(cursor.lastrowid)
            for fact in facts:
                passage_id = _passage_for_span(passages, added, fact.start, fact.end)
                db.execute(
                    "INSERT INTO facts (article_id, passage_id, value, unit, metric, entity, "
                    'entity_type, side, direction, window, qualifier, text, start, "end", '
                    "sentence, as_of) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        article_id,
                        passage_id,
                        fact.value,
                        fact.unit,
                        fact.metric,
                        fact.entity,
                        fact.entity_type,
                        fact.side,
                        fact.direction,
                        fact.window,
                        fact.qualifier,
                        fact.text,
                        fact.start,
                        fact.end,
                        fact.sentence,
                        (article.published or "")[:10] or None,
                    ),
                )
            db.executemany(
                "INSERT OR IGNORE INTO sketches VALUES (?, ?)", [(h, article_id) for h in sketch]
            )
        return removed, added

    def add_urls(self, article_id: str, urls: Iterable[str]) -> int:
        """Record more URLs for a stored article; returns how many were new."""
        with self.transaction() as db:
            return self._add_urls(db, article_id, urls)

    @staticmethod
    def _add_urls(db: sqlite3.Connection, article_id: str, urls: Iterable[str]) -> int:
        added = 0
        for url in urls:
            cursor = db.execute(
                "INSERT OR IGNORE INTO article_urls VALUES (?, ?)", (canonical_url(url), article_id)
            )
            added += cursor.rowcount
        return added

    def delete_article(self, article_id: str) -> list[int]:
        """Delete an article with everything that hangs off it; returns its removed passage ids."""
        with self.transaction() as db:
            if db.execute("SELECT 1 FROM articles WHERE id = ?", (article_id,)).fetchone() is None:
                raise NotFound(f"no article with id {article_id!r}")
            removed = [
                row[0]
                for row in db.execute("SELECT id FROM passages WHERE article_id = ?", (article_id,))
            ]
            db.execute("DELETE FROM articles WHERE id = ?", (article_id,))
        return removed

    def sketch_candidates(
        self, sketch: set[int], exclude: str | None = None, limit: int = 5
    ) -> list[str]:
        """Ids of stored articles sharing the most sketch hashes with ``sketch``."""
        if not sketch:
            return []
        db = self._connection()
        db.execute("CREATE TEMP TABLE IF NOT EXISTS probe (hash INTEGER PRIMARY KEY)")
        db.execute("DELETE FROM probe")
        db.executemany("INSERT OR IGNORE INTO probe VALUES (?)", [(h,) for h in sketch])
        rows = db.execute(
            "SELECT s.article_id, COUNT(*) AS shared FROM sketches s "
            "JOIN probe p ON p.hash = s.hash WHERE s.article_id != ? "
            "GROUP BY s.article_id ORDER BY shared DESC LIMIT ?",
            (exclude or "", limit),
        ).fetchall()
        minimum = max(1, len(sketch) // 2)
        return [row["article_id"] for row in rows if row["shared"] >= minimum]

    def list_articles(
        self, filters: Filters, offset: int = 0, limit: int = 20, query_ids: list[str] | None = None
    ) -> tuple[list[StoredArticle], int]:
        """Articles newest first, with the total count matching ``filters``."""
        where, params = _article_where(filters)
        if query_ids is not None:
            where.append(f"a.id IN ({','.join('?' * len(query_ids))})")
            params.extend(query_ids)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        db = self._connection()
        total = db.execute(f"SELECT COUNT(*) FROM articles a {clause}", params).fetchone()[0]
        rows = db.execute(
            f"SELECT a.* FROM articles a {clause} "
            "ORDER BY a.published IS NULL, a.published DESC, a.changed_at DESC, a.id "
            "LIMIT ? OFFSET ?",
            [*params, limit, offset],
        ).fetchall()
        return [self._stored_article(row) for row in rows], total

    def article_ids(self) -> list[str]:
        """Every stored article id."""
        return [row[0] for row in self._connection().execute("SELECT id FROM articles ORDER BY id")]

    def counts(self) -> dict[str, int]:
        """How many articles, passages and facts are stored."""
        db = self._connection()
        return {
            table: db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            for table in ("articles", "passages", "facts")
        }

    def integrity_problems(self) -> list[str]:
        """What SQLite's own checks find wrong: the database file, and the full-text index
        against the passages it indexes. Empty when both are sound."""
        problems = [
            f"SQLite integrity check: {row[0]}"
            for row in self._connection().execute("PRAGMA integrity_check")
            if row[0] != "ok"
        ]
        fulltext = self.fulltext_problem()
        return problems + ([fulltext] if fulltext else [])

    def fulltext_problem(self) -> str | None:
        """How the full-text index disagrees with the passages it indexes, or None."""
        try:
            # rank 1: compare the index with the passages table too, not only with itself.
            self._connection().execute(
                "INSERT INTO passages_fts(passages_fts, rank) VALUES ('integrity-check', 1)"
            )
        except sqlite3.DatabaseError as error:
            return f"the full-text index is out of step with the passages ({error})"
        return None

    def rebuild_fulltext(self) -> None:
        """Rebuild the full-text index from the passages."""
        with self.transaction() as db:
            db.execute("INSERT INTO passages_fts(passages_fts) VALUES ('rebuild')")

    def passage_total(self) -> int:
        """How many passages are stored."""
        return self._connection().execute("SELECT COUNT(*) FROM passages").fetchone()[0]

    # -- passages ----------------------------------------------------------------------------

    def passage_ids(self) -> set[int]:
        """Every stored passage id."""
        return {row[0] for row in self._connection().execute("SELECT id FROM passages")}

    def article_passage_ids(self, article_id: str) -> list[int]:
        """Passage ids of one article, in order."""
        rows = self._connection().execute(
            "SELECT id FROM passages WHERE article_id = ? ORDER BY ordinal", (article_id,)
        )
        return [row[0] for row in rows]

    def get_passages(self, ids: Iterable[int]) -> dict[int, StoredPassage]:
        """Stored passages by id (ids that do not exist are left out)."""
        found: dict[int, StoredPassage] = {}
        db = self._connection()
        for chunk in _chunks(ids):
            rows = db.execute(
                'SELECT p.id, p.article_id, p.ordinal, p.heading, p.start, p."end", p.text, '
                "p.sentences, a.title, a.url, a.source, a.published FROM passages p "
                "JOIN articles a ON a.id = p.article_id "
                f"WHERE p.id IN ({','.join('?' * len(chunk))})",
                chunk,
            )
            for row in rows:
                passage = Passage(
                    row["article_id"],
                    row["ordinal"],
                    row["text"],
                    row["start"],
                    row["end"],
                    row["heading"],
                    _spans(row["sentences"]),
                )
                found[row["id"]] = StoredPassage(
                    row["id"], passage, row["title"], row["url"], row["source"], row["published"]
                )
        return found

    def put_sentence_vectors(self, model: str, rows: list[SentenceVectorRow]) -> None:
        """Store (or replace) passages' sentence vectors; passages since deleted are skipped."""
        with self.transaction() as db:
            for row in rows:
                db.execute(
                    "INSERT OR REPLACE INTO sentence_vectors "
                    "SELECT id, ?, ?, ? FROM passages WHERE id = ?",
                    (
                        model,
                        json.dumps([list(span) for span in row.spans]),
                        row.vectors.astype(np.float16).tobytes(),
                        row.passage_id,
                    ),
                )

    def sentence_vectors(self, model: str, ids: Iterable[int]) -> dict[int, SentenceVectorRow]:
        """The stored sentence vectors of those passages that have them for ``model``."""
        found: dict[int, SentenceVectorRow] = {}
        db = self._connection()
        for chunk in _chunks(ids):
            rows = db.execute(
                "SELECT passage_id, spans, vectors FROM sentence_vectors "
                f"WHERE model = ? AND passage_id IN ({','.join('?' * len(chunk))})",
                [model, *chunk],
            )
            for row in rows:
                spans = [(int(a), int(b)) for a, b in json.loads(row["spans"])]
                flat = np.frombuffer(row["vectors"], dtype=np.float16).astype(np.float32)
                vectors = flat.reshape(len(spans), -1) if spans else flat.reshape(0, 0)
                found[row["passage_id"]] = SentenceVectorRow(row["passage_id"], spans, vectors)
        return found

    def passages_without_sentence_vectors(self, model: str) -> list[int]:
        """Ids of passages with no sentence vectors from ``model``."""
        rows = self._connection().execute(
            "SELECT p.id FROM passages p LEFT JOIN sentence_vectors s "
            "ON s.passage_id = p.id AND s.model = ? WHERE s.passage_id IS NULL ORDER BY p.id",
            (model,),
        )
        return [row[0] for row in rows]

    def passage_ids_matching(self, filters: Filters) -> set[int] | None:
        """Ids of passages whose article passes ``filters``; None when nothing is filtered."""
        where, params = _article_where(filters)
        if not where:
            return None
        rows = self._connection().execute(
            f"SELECT p.id FROM passages p JOIN articles a ON a.id = p.article_id "
            f"WHERE {' AND '.join(where)}",
            params,
        )
        return {row[0] for row in rows}

    def keyword_search(
        self, query: str, k: int, filters: Filters | None = None
    ) -> list[tuple[int, float]]:
        """BM25 over passages: (passage id, score with higher better), best first."""
        terms = [
            w for w in (m.lower() for m in _FTS_WORD.findall(query)) if w not in _FTS_STOPWORDS
        ]
        if not terms:
            return []
        match = " OR ".join(f'"{term}"' for term in dict.fromkeys(terms))
        where, params = _article_where(filters or Filters())
        extra = f"AND {' AND '.join(where)}" if where else ""
        rows = (
            self._connection()
            .execute(
                "SELECT p.id, bm25(passages_fts) AS rank FROM passages_fts "
                "JOIN passages p ON p.id = passages_fts.rowid "
                "JOIN articles a ON a.id = p.article_id "
                f"WHERE passages_fts MATCH ? {extra} ORDER BY rank LIMIT ?",
                [match, *params, k],
            )
            .fetchall()
        )
        return [(row["id"], -row["rank"]) for row in rows]

    def passage_counts(self, words: Iterable[str]) -> dict[str, int]:
        """How many passages use each word (after the full-text index's own stemming)."""
        db = self._connection()
        counts = {}
        for word in dict.fromkeys(w.lower() for w in words):
            if not _FTS_WORD.fullmatch(word):
                continue
            row = db.execute(
                "SELECT count(*) FROM passages_fts WHERE passages_fts MATCH ?", [f'"{word}"']
            ).fetchone()
            counts[word] = row[0]
        return counts

    # -- feeds -------------------------------------------------------------------------------

    def feed_status(self, url: str) -> FeedStatus | None:
        """What was remembered of a watched feed, or None for one never polled."""
        row = self._connection().execute("SELECT * FROM feeds WHERE url = ?", (url,)).fetchone()
        return FeedStatus(**dict(row)) if row else None

    def feed_statuses(self) -> list[FeedStatus]:
        """Every watched feed's status, by URL."""
        rows = self._connection().execute("SELECT * FROM feeds ORDER BY url")
        return [FeedStatus(**dict(row)) for row in rows]

    def save_feed_status(self, status: FeedStatus) -> None:
        """Insert or replace a feed's status."""
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO feeds VALUES (?,?,?,?,?,?,?,?)",
                (
                    status.url,
                    status.etag,
                    status.last_modified,
                    status.last_poll,
                    status.last_success,
                    status.errors,
                    status.last_error,
                    status.last_new,
                ),
            )

    def seen_feed_items(self, feed: str, urls: Iterable[str]) -> set[str]:
        """Which of ``urls`` a feed has already been read for."""
        urls = list(dict.fromkeys(urls))
        seen: set[str] = set()
        db = self._connection()
        for start in range(0, len(urls), IDS_PER_QUERY):
            chunk = urls[start : start + IDS_PER_QUERY]
            marks = ",".join("?" * len(chunk))
            rows = db.execute(
                f"SELECT url FROM feed_items WHERE feed = ? AND url IN ({marks})", [feed, *chunk]
            )
            seen.update(row[0] for row in rows)
        return seen

    def mark_feed_items(self, feed: str, urls: Iterable[str]) -> None:
        """Remember that a feed's items at ``urls`` were read."""
        now = _now()
        with self.transaction() as db:
            db.executemany(
                "INSERT OR IGNORE INTO feed_items VALUES (?, ?, ?)",
                [(feed, url, now) for url in urls],
            )

    # -- facts -------------------------------------------------------------------------------

    def query_facts(
        self,
        filters: Filters,
        side: str | None = None,
        direction: str | None = None,
        window: str | None = None,
        limit: int = 1000,
    ) -> list[Fact]:
        """Stored facts matching the filters, newest article first."""
        where, params = _article_where(filters)
        for column, value in (("f.side", side), ("f.direction", direction), ("f.window", window)):
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        # The article-level entity/metric conditions keep articles; these keep the facts themselves.
        if filters.entity:
            where.append("f.entity = ? COLLATE NOCASE")
            params.append(filters.entity)
        if filters.metric:
            where.append("f.metric = ?")
            params.append(filters.metric)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = (
            self._connection()
            .execute(
                f"SELECT f.* FROM facts f JOIN articles a ON a.id = f.article_id {clause} "
                "ORDER BY a.published IS NULL, a.published DESC, f.article_id, f.start LIMIT ?",
                [*params, limit],
            )
            .fetchall()
        )
        return [_fact_from_row(row) for row in rows]

    def fact_kinds(self, limit: int = 500) -> list[tuple[str, str, int]]:
        """(entity, metric, number of facts) for named entities, most facts first."""
        rows = self._connection().execute(
            "SELECT entity, metric, COUNT(*) AS n FROM facts WHERE entity IS NOT NULL "
            "GROUP BY entity COLLATE NOCASE, metric ORDER BY n DESC, entity LIMIT ?",
            (limit,),
        )
        return [(row[0], row[1], row[2]) for row in rows]

    def article_facts(self, article_id: str) -> list[Fact]:
        """Facts of one article in text order."""
        rows = self._connection().execute(
            "SELECT * FROM facts WHERE article_id = ? ORDER BY start", (article_id,)
        )
        return [_fact_from_row(row) for row in rows]

    def passage_facts(self, passage_ids: Iterable[int]) -> list[Fact]:
        """Facts stated in the given passages."""
        ids = list(passage_ids)
        if not ids:
            return []
        rows = self._connection().execute(
            f"SELECT * FROM facts WHERE passage_id IN ({','.join('?' * len(ids))}) ORDER BY start",
            ids,
        )
        return [_fact_from_row(row) for row in rows]

    def fact_values(self, article_ids: Iterable[str]) -> dict[str, list[float]]:
        """The values of the stored facts of each of the given articles."""
        ids = list(dict.fromkeys(article_ids))
        found: dict[str, list[float]] = {}
        if not ids:
            return found
        rows = self._connection().execute(
            f"SELECT article_id, value FROM facts WHERE article_id IN ({','.join('?' * len(ids))})",
            ids,
        )
        for article, value in rows:
            found.setdefault(article, []).append(value)
        return found

    def articles_using(
        self, words: Iterable[str], article_ids: Iterable[str]
    ) -> dict[str, set[str]]:
        """For each word, which of the given articles use it in some passage (stemmed as BM25).

        Words keyword search ignores are left out, as are words none of the articles use.
        """
        ids = list(dict.fromkeys(article_ids))
        if not ids:
            return {}
        db = self._connection()
        marks = ",".join("?" * len(ids))
        query = f"SELECT id, article_id FROM passages WHERE article_id IN ({marks})"
        article_of = dict(db.execute(query, ids).fetchall())
        found: dict[str, set[str]] = {}
        for word in dict.fromkeys(w.lower() for w in words):
            if word in _FTS_STOPWORDS or not _FTS_WORD.fullmatch(word):
                continue
            rows = db.execute(
                "SELECT rowid FROM passages_fts WHERE passages_fts MATCH ?", [f'"{word}"']
            )
            using = {article_of[row[0]] for row in rows if row[0] in article_of}
            if using:
                found[word] = using
        return found


def _spans(stored: str | None) -> tuple[tuple[int, int], ...]:
    """Sentence spans from their JSON column (empty for passages stored without them)."""
    return tuple((int(a), int(b)) for a, b in json.loads(stored)) if stored else ()


def _chunks(ids: Iterable[int], size: int = IDS_PER_QUERY) -> Iterator[list[int]]:
    """``ids`` in lists of at most ``size``, each small enough for one ``IN (...)`` query."""
    ids = list(ids)
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _article_where(filters: Filters) -> tuple[list[str], list[object]]:
    where: list[str] = []
    params: list[object] = []
    if filters.since:
        where.append("a.published >= ?")
        params.append(filters.since)
    if filters.until:
        # A bare day includes everything published on it.
        where.append(
            "substr(a.published, 1, 10) <= ?" if len(filters.until) == 10 else "a.published <= ?"
        )
        params.append(filters.until)
    if filters.source:
        where.append("a.source = ? COLLATE NOCASE")
        params.append(filters.source)
    if filters.article_id:
        where.append("a.id = ?")
        params.append(filters.article_id)
    for column, value in (("entity", filters.entity), ("metric", filters.metric)):
        if value:
            collate = " COLLATE NOCASE" if column == "entity" else ""
            where.append(f"a.id IN (SELECT article_id FROM facts WHERE {column} = ?{collate})")
            params.append(value)
    return where, params


def _fact_from_row(row: sqlite3.Row) -> Fact:
    return Fact(
        value=row["value"],
        unit=row["unit"],
        metric=row["metric"],
        text=row["text"],
        start=row["start"],
        end=row["end"],
        sentence=row["sentence"],
        entity=row["entity"],
        entity_type=row["entity_type"],
        side=row["side"],
        direction=row["direction"],
        window=row["window"],
        qualifier=row["qualifier"],
        article_id=row["article_id"],
        passage_id=row["passage_id"],
        as_of=row["as_of"],
    )


def _passage_for_span(passages: list[Passage], ids: list[int], start: int, end: int) -> int | None:
    """The id of the first passage that holds the whole span."""
    for passage, passage_id in zip(passages, ids, strict=True):
        if passage.start <= start and end <= passage.end:
            return passage_id
    return None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
