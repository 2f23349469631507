"""The index's single writer: an fcntl lock, one SQLite transaction, and a commit that aligns new neighbouring
versions, writes the new FAISS file, then makes the generation current. Nothing is visible before commit()."""
from __future__ import annotations

import fcntl
import json
import logging
import os
import sqlite3
from dataclasses import asdict
from datetime import date, datetime, timezone
from typing import Sequence

import numpy as np

from rag.config import Settings
from rag.errors import IndexIncompatible, IndexLocked
from rag.lexical import lexical_text, terms
from rag.lineage_store import realign
from rag.reports import IngestCounts, SkippedFile, VersionImpact
from rag.schema import SCHEMA_VERSION, migrate, version_columns
from rag.store import (CATALOG, CLAUSE_COLUMNS, LOCK, CatalogSnapshotRows, clause_from_row, clause_keys, connect,
                       model_mismatch, read_meta, read_versions)
from rag.stores import meta_of, open_store, state_from_meta
from rag.stores.contract import StoredClause
from rag.types import Clause, DocumentVersion, Kind, Status
from rag.versions import place_versions

log = logging.getLogger(__name__)


class Writer:
    """The single writer: everything it does stays invisible until commit(); leaving without commit rolls back."""

    def __init__(self, settings: Settings, model_name: str, dim: int, backend: str | None = None):
        self.index_dir = settings.index_dir
        self.model_name = model_name
        self.dim = dim
        self.backend = backend or settings.embed_backend  # what embeds this run's clauses, recorded with the index
        self._fd: int | None = None
        self._conn: sqlite3.Connection | None = None
        self._changed = False
        self._added = False  # this writer stored new embeddings (so its backend joins the index's record)
        self._backends: set[str] = set()
        self._store = open_store(settings, dim)
        self._state = None  # the committed engine state (rag.stores.StoreState), read on entry
        self._added_versions: set[str] = set()  # since the last commit: what the engine must add ...
        self._removed_versions: set[str] = set()  # ... and remove
        self._next_key = 0
        self.generation = 0
        self.migrated_from = 0  # the schema the store had when this writer opened it
        self.impacts: tuple[VersionImpact, ...] = ()  # what the last commit's new neighbouring versions changed

    def __enter__(self) -> "Writer":
        self.index_dir.mkdir(parents=True, exist_ok=True)
        self._lock()
        try:
            self._conn = connect(self.index_dir / CATALOG)
            self.migrated_from = migrate(self._conn)
            self._conn.execute("BEGIN IMMEDIATE")
            meta = read_meta(self._conn)
            if "model_name" in meta:
                if meta["model_name"] != self.model_name:
                    raise model_mismatch(self.index_dir, meta["model_name"], self.model_name)
                if int(meta["dim"]) != self.dim:
                    raise model_mismatch(self.index_dir, f"{meta['model_name']} ({meta['dim']} d)", f"{self.model_name} ({self.dim} d)")
            self.generation = int(meta.get("generation", 0))
            self._backends = set(filter(None, meta.get("embed_backends", "torch" if "model_name" in meta else "").split(",")))
            self._state = state_from_meta(meta)
            if self._state is not None and self._state.engine != self._store.engine:
                raise engine_mismatch(self.index_dir, self._state.engine, self._store.engine)
            self._next_key = next_clause_key(self._conn, meta)
            self._store.recover(v for (v,) in self._conn.execute("SELECT version_id FROM versions"))
        except BaseException:
            self._close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self._close()

    def _lock(self) -> None:
        fd = os.open(self.index_dir / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise IndexLocked(
                f"another regcite process (pid {holder}) is writing to the index at {self.index_dir}; "
                f"wait for it to finish, or stop it (kill {holder}) and run again"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def _close(self) -> None:
        if self._conn is not None:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            self._conn.close()
            self._conn = None
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def _db(self) -> sqlite3.Connection:
        if self._conn is None or not self._conn.in_transaction:
            raise RuntimeError("the writer is closed or already committed; open a new one with open_writer()")
        return self._conn

    def known_sha256(self) -> dict[str, str]:
        """sha256 -> version_id of every stored version."""
        return dict(self._db().execute("SELECT sha256, version_id FROM versions").fetchall())

    def versions(self) -> list[DocumentVersion]:
        """Every stored version, including what this writer added and not yet committed, placed in its chain."""
        return list(place_versions(read_versions(self._db()), date.today()).values())

    def add_version(self, version: DocumentVersion, text: str, clauses: list[Clause], embeddings: np.ndarray) -> None:
        embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)
        if embeddings.shape != (len(clauses), self.dim):
            raise ValueError(f"embeddings shape {embeddings.shape}, expected ({len(clauses)}, {self.dim})")
        db = self._db()
        ingested = version.ingested_at or datetime.now(timezone.utc).isoformat(timespec="seconds")
        db.execute(
            f"INSERT INTO versions ({version_columns(db)}, text) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                version.version_id, version.doc_id, version.title, Kind(version.kind).value, version.jurisdiction,
                version.language, version.source_path, version.sha256, json.dumps(list(version.page_starts)),
                version.effective_from.isoformat() if version.effective_from else None,
                version.effective_to.isoformat() if version.effective_to else None,
                Status(version.status).value, ingested, version.effective_source, version.collection, text,
            ),
        )
        first = self._next_key
        db.executemany(
            f"INSERT INTO clauses (position_key, {CLAUSE_COLUMNS}, embedding) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    first + i, c.clause_id, version.version_id, c.ordinal, json.dumps(list(c.path), ensure_ascii=False),
                    c.reference, json.dumps(list(c.headings), ensure_ascii=False), c.text, c.char_span.start,
                    c.char_span.end, c.page_span.first, c.page_span.last, c.part, e.tobytes(),
                )
                for i, (c, e) in enumerate(zip(clauses, embeddings))
            ],
        )
        self._next_key = first + len(clauses)
        self._added_versions.add(version.version_id)
        self._changed = True
        self._added = True

    def restate(self, version_id: str, effective_from: date) -> bool:
        """Record a user-stated effective date for a stored version; False when it already had that date."""
        db = self._db()
        row = db.execute("SELECT effective_from FROM versions WHERE version_id = ?", (version_id,)).fetchone()
        if row is None or row[0] == effective_from.isoformat():
            return False
        db.execute("UPDATE versions SET effective_from = ?, effective_source = 'user' WHERE version_id = ?",
                   (effective_from.isoformat(), version_id))
        self._changed = True
        return True

    def move(self, version_id: str, collection: str) -> bool:
        """Put a stored version in another collection (who may read it changes at commit); False if it was there."""
        db = self._db()
        row = db.execute("SELECT collection FROM versions WHERE version_id = ?", (version_id,)).fetchone()
        if row is None or row[0] == collection:
            return False
        db.execute("UPDATE versions SET collection = ? WHERE version_id = ?", (collection, version_id))
        self._changed = True
        return True

    def _clauses_of(self, version_id: str) -> list[Clause]:
        rows = self._db().execute(f"SELECT {CLAUSE_COLUMNS} FROM clauses WHERE version_id = ? ORDER BY ordinal, part",
                                  (version_id,)).fetchall()
        return [clause_from_row(r) for r in rows]

    def remove_version(self, version_id: str) -> None:
        db = self._db()
        db.execute("DELETE FROM lineage WHERE from_version = ? OR to_version = ?", (version_id, version_id))
        db.execute("DELETE FROM clauses WHERE version_id = ?", (version_id,))
        db.execute("DELETE FROM versions WHERE version_id = ?", (version_id,))
        if version_id in self._added_versions:
            self._added_versions.discard(version_id)  # added and removed before a commit: the engine never saw it
        else:
            self._removed_versions.add(version_id)
        self._changed = True

    def record_run(self, started: str, counts: IngestCounts, skipped: Sequence[SkippedFile]) -> None:
        """An ingest run's summary, committed with the run (generation filled in on commit)."""
        finished = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self._db().execute(
            "INSERT INTO ingest_runs (started, finished, generation, counts, skipped) VALUES (?,?,-1,?,?)",
            (started, finished, json.dumps(asdict(counts)), json.dumps([list(s) for s in skipped], ensure_ascii=False)),
        )

    def commit(self) -> int:
        """Make everything visible at once; returns the generation now current (unchanged if nothing changed)."""
        db = self._db()
        if self._changed:
            from rag.lineage import align_versions

            documents = {v.version_id: v for v in self.versions()}
            self.impacts = realign(db, documents, self._clauses_of, align_versions)
            generation = self.generation + 1
            keys = clause_keys(db)
            # The engine stages first: a crash before the catalog commit leaves the old generation served.
            state = self._store.stage(generation, self._state, self._stored(self._added_versions),
                                      sorted(self._removed_versions), keys, CatalogSnapshotRows(db, self.dim))
            backends = self._backends | {self.backend} if self._added else self._backends or {self.backend}
            db.executemany(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                [
                    ("generation", str(generation)), ("model_name", self.model_name), ("dim", str(self.dim)),
                    ("schema_version", str(SCHEMA_VERSION)), ("embed_backends", ",".join(sorted(backends))),
                    ("next_clause_key", str(self._next_key)), *meta_of(state),
                ],
            )
        else:
            generation = self.generation
            state = self._state
            completed = self._store.complete(state, clause_keys(db), CatalogSnapshotRows(db, self.dim)) if state else None
            if completed is not None:
                db.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", meta_of(completed))
                state = completed
        db.execute("UPDATE ingest_runs SET generation = ? WHERE generation = -1", (generation,))
        db.execute("COMMIT")
        self.generation = generation
        self._state = state
        self._changed = self._added = False
        self._added_versions.clear()
        self._removed_versions.clear()
        if state is not None:
            live = [v for (v,) in self._conn.execute("SELECT version_id FROM versions")]
            self._store.collect(state, live)
        return generation

    def _stored(self, version_ids) -> list[StoredClause]:
        """The clauses of these versions as the engine stores them, in key order; BM25 terms only for an engine
        that indexes them itself (FAISS rebuilds its BM25 folder from the catalog's texts)."""
        if not version_ids:
            return []
        wanted = sorted(version_ids)
        marks = ",".join("?" * len(wanted))
        rows = self._db().execute(
            f"SELECT position_key, {CLAUSE_COLUMNS}, embedding FROM clauses WHERE version_id IN ({marks}) "
            "ORDER BY position_key", wanted).fetchall()
        with_terms = self._store.engine != "faiss"
        out = []
        for row in rows:
            clause = clause_from_row(row[1:-1])
            out.append(StoredClause(
                key=int(row[0]), version_id=clause.version_id,
                embedding=np.frombuffer(row[-1], dtype=np.float32).copy(),
                terms=tuple(terms(lexical_text(clause))) if with_terms else ()))
        return out


def next_clause_key(conn: sqlite3.Connection, meta: dict[str, str]) -> int:
    """The next stable clause key: never one a clause had before, even when the highest rows were deleted (an
    engine may still hold a removed clause under its key for a generation)."""
    highest = conn.execute("SELECT COALESCE(MAX(position_key), 0) FROM clauses").fetchone()[0]
    return max(int(meta.get("next_clause_key", 0) or 0), int(highest) + 1)


def engine_mismatch(index_dir, stored: str, configured: str) -> IndexIncompatible:
    return IndexIncompatible(
        f"the index at {index_dir} keeps its clauses in {stored} but index_backend is {configured}; set "
        f"index_backend={stored} (REGCITE_INDEX_BACKEND), or ingest into a new data dir (--data-dir) for {configured}")


def open_writer(settings: Settings, model_name: str, dim: int, backend: str | None = None) -> Writer:
    """Use as a context manager; raises IndexLocked (naming the holder's pid) or ModelMismatch on entry.

    `backend` is what embeds the clauses added (settings.embed_backend unless given); the index records it."""
    return Writer(settings, model_name, dim, backend)
