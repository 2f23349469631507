"""The catalog's SQLite schema and its migrations: a store written by an earlier release opens after an upgrade."""
from __future__ import annotations

import sqlite3

from rag.errors import IndexIncompatible

SCHEMA_VERSION = 3

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS versions (
    version_id TEXT PRIMARY KEY, doc_id TEXT NOT NULL, title TEXT NOT NULL, kind TEXT NOT NULL,
    jurisdiction TEXT NOT NULL, language TEXT NOT NULL, source_path TEXT NOT NULL, sha256 TEXT NOT NULL UNIQUE,
    page_starts TEXT NOT NULL, effective_from TEXT, effective_to TEXT, status TEXT NOT NULL,
    ingested_at TEXT NOT NULL, text TEXT NOT NULL,
    effective_source TEXT NOT NULL DEFAULT '',  -- schema 2: "user", "document" or "" (unknown)
    collection TEXT NOT NULL DEFAULT 'default'  -- schema 3: who may read the version (rag.access)
);
CREATE TABLE IF NOT EXISTS clauses (
    position_key INTEGER PRIMARY KEY,  -- insertion order; positions of a snapshot follow it
    clause_id TEXT NOT NULL UNIQUE,
    version_id TEXT NOT NULL REFERENCES versions(version_id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL, path TEXT NOT NULL, reference TEXT NOT NULL, headings TEXT NOT NULL,
    text TEXT NOT NULL, char_start INTEGER NOT NULL, char_end INTEGER NOT NULL,
    page_first INTEGER NOT NULL, page_last INTEGER NOT NULL, part INTEGER NOT NULL,
    embedding BLOB NOT NULL  -- float32, dim values
);
CREATE INDEX IF NOT EXISTS clauses_version ON clauses(version_id);
CREATE TABLE IF NOT EXISTS ingest_runs (
    id INTEGER PRIMARY KEY, started TEXT NOT NULL, finished TEXT NOT NULL, generation INTEGER NOT NULL,
    counts TEXT NOT NULL, skipped TEXT NOT NULL
);
-- schema 2: how each clause of a version relates to the next version of its instrument, aligned once at ingest
CREATE TABLE IF NOT EXISTS lineage (
    from_version TEXT NOT NULL REFERENCES versions(version_id) ON DELETE CASCADE,
    to_version TEXT NOT NULL REFERENCES versions(version_id) ON DELETE CASCADE,
    kind TEXT NOT NULL, from_clause_id TEXT, to_clause_id TEXT, editorial INTEGER NOT NULL, similarity REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS lineage_pair ON lineage(from_version, to_version);
"""


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


def stored_version(conn: sqlite3.Connection) -> int:
    """The schema a catalog was written with: 1 for stores from before the meta key existed."""
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.OperationalError:
        return 0  # no schema yet
    return int(row[0]) if row else 1


def migrate(conn: sqlite3.Connection) -> int:
    """Bring a catalog to SCHEMA_VERSION; returns the version it had. Run by the writer before its transaction.

    Every step only adds (a table, a column with a default), so a crash half-way leaves a store that both this
    release and the previous one read. A store from a newer release is refused rather than rewritten.
    """
    had = stored_version(conn)
    if had > SCHEMA_VERSION:
        raise too_new(had)
    conn.executescript(SCHEMA)
    if "effective_source" not in _columns(conn, "versions"):
        conn.execute("ALTER TABLE versions ADD COLUMN effective_source TEXT NOT NULL DEFAULT ''")
    if "collection" not in _columns(conn, "versions"):  # schema 3: every version stored before is in "default"
        conn.execute("ALTER TABLE versions ADD COLUMN collection TEXT NOT NULL DEFAULT 'default'")
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
    return had


def has_lineage(conn: sqlite3.Connection) -> bool:
    """False for a schema-1 store not yet migrated (opened read-only): it has no alignments to show."""
    return bool(conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'lineage'").fetchone())


def version_columns(conn: sqlite3.Connection) -> str:
    """The versions columns to read; a store from before schema 2 has no effective_source (read as ''), one from
    before schema 3 no collection (read as 'default')."""
    have = _columns(conn, "versions")
    source = "effective_source" if "effective_source" in have else "''"
    collection = "collection" if "collection" in have else "'default'"
    return ("version_id, doc_id, title, kind, jurisdiction, language, source_path, sha256, page_starts, "
            f"effective_from, effective_to, status, ingested_at, {source}, {collection}")


def too_new(had: int) -> IndexIncompatible:
    return IndexIncompatible(f"the index was written by a newer regcite (catalog schema {had}; this release reads up "
                             f"to {SCHEMA_VERSION}): upgrade regcite (pip install -U regcite), or ingest into a new "
                             "data dir (--data-dir)")
