"""The index's single writer: its locks (rag/catalog_db.py), one catalog transaction (SQLite or PostgreSQL), and a
commit that aligns new neighbouring versions, stages the engine's new generation, then makes it current. Nothing is
visible before commit()."""
from __future__ import annotations

import json
import logging
from dataclasses import asdict
from datetime import date, datetime, timezone
from typing import Sequence

import numpy as np

from rag.catalog_db import (close_writer_connection, lock_index_dir, open_catalog, open_writer_connection,
                            unlock_index_dir, upsert_meta)
from rag.config import Settings
from rag.errors import IndexIncompatible, RegciteError
from rag.lexical import lexical_text, terms
from rag.lineage_store import realign
from rag.reports import IngestCounts, SkippedFile, VersionImpact
from rag.schema import SCHEMA_VERSION, migrate
from rag.store import (CLAUSE_COLUMNS, CatalogSnapshotRows, clause_from_row, clause_keys, model_mismatch, read_meta,
                       read_versions, sql)
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
        self._catalog = open_catalog(settings)  # no connection yet
        self._fd: int | None = None  # the fcntl lock in index_dir
        self._conn = None  # the writer's own SQLAlchemy connection (on PostgreSQL it holds the advisory lock)
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
        # The folder's lock first (the vector files and BM25 folders are this machine's), then the catalog's: on
        # PostgreSQL one writer among every machine that shares it.
        self._fd = lock_index_dir(self.index_dir)
        try:
            self._conn = open_writer_connection(self._catalog)
            self.migrated_from = migrate(self._conn)
            self._conn.begin()
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
            self._store.recover(v for (v,) in self._conn.execute(sql("SELECT version_id FROM versions")))
        except BaseException:
            self._close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self._close()

    def _close(self) -> None:
        if self._conn is not None:
            close_writer_connection(self._catalog, self._conn)  # rolls back what was not committed
            self._conn = None
        if self._fd is not None:
            unlock_index_dir(self._fd)
            self._fd = None

    def _db(self):
        if self._conn is None or not self._conn.in_transaction():
            raise RuntimeError("the writer is closed or already committed; open a new one with open_writer()")
        return self._conn

    def known_sha256(self) -> dict[str, str]:
        """sha256 -> version_id of every stored version."""
        return {sha: vid for sha, vid in self._db().execute(sql("SELECT sha256, version_id FROM versions"))}

    def versions(self) -> list[DocumentVersion]:
        """Every stored version, including what this writer added and not yet committed, placed in its chain."""
        return list(place_versions(read_versions(self._db()), date.today()).values())

    def add_version(self, version: DocumentVersion, text: str, clauses: list[Clause], embeddings: np.ndarray) -> None:
        embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)
        if embeddings.shape != (len(clauses), self.dim):
            raise ValueError(f"embeddings shape {embeddings.shape}, expected ({len(clauses)}, {self.dim})")
        db = self._db()
        ingested = version.ingested_at or datetime.now(timezone.utc).isoformat(timespec="seconds")
        db.execute(sql(
            "INSERT INTO versions (version_id, doc_id, title, kind, jurisdiction, language, source_path, sha256, "
            "page_starts, effective_from, effective_to, status, ingested_at, effective_source, collection, text) "
            "VALUES (:version_id, :doc_id, :title, :kind, :jurisdiction, :language, :source_path, :sha256, "
            ":page_starts, :effective_from, :effective_to, :status, :ingested_at, :effective_source, :collection, "
            ":text)"), {
                "version_id": version.version_id, "doc_id": version.doc_id, "title": version.title,
                "kind": Kind(version.kind).value, "jurisdiction": version.jurisdiction, "language": version.language,
                "source_path": version.source_path, "sha256": version.sha256,
                "page_starts": json.dumps(list(version.page_starts)),
                "effective_from": version.effective_from.isoformat() if version.effective_from else None,
                "effective_to": version.effective_to.isoformat() if version.effective_to else None,
                "status": Status(version.status).value, "ingested_at": ingested,
                "effective_source": version.effective_source, "collection": version.collection, "text": text,
            })
        first = self._next_key
        if clauses:  # an empty parameter list would run the INSERT once, unbound
            db.execute(sql(
                f"INSERT INTO clauses (position_key, {CLAUSE_COLUMNS}, embedding) VALUES (:key, :clause_id, "
                ":version_id, :ordinal, :path, :reference, :headings, :text, :char_start, :char_end, :page_first, "
                ":page_last, :part, :embedding)"), [
                    {"key": first + i, "clause_id": c.clause_id, "version_id": version.version_id,
                     "ordinal": c.ordinal, "path": json.dumps(list(c.path), ensure_ascii=False),
                     "reference": c.reference, "headings": json.dumps(list(c.headings), ensure_ascii=False),
                     "text": c.text, "char_start": c.char_span.start, "char_end": c.char_span.end,
                     "page_first": c.page_span.first, "page_last": c.page_span.last, "part": c.part,
                     "embedding": e.tobytes()}
                    for i, (c, e) in enumerate(zip(clauses, embeddings))
                ])
        self._next_key = first + len(clauses)
        self._added_versions.add(version.version_id)
        self._changed = True
        self._added = True

    def restate(self, version_id: str, effective_from: date) -> bool:
        """Record a user-stated effective date for a stored version; False when it already had that date."""
        db = self._db()
        row = db.execute(sql("SELECT effective_from FROM versions WHERE version_id = :v"), {"v": version_id}).first()
        if row is None or row[0] == effective_from.isoformat():
            return False
        db.execute(sql("UPDATE versions SET effective_from = :day, effective_source = 'user' WHERE version_id = :v"),
                   {"day": effective_from.isoformat(), "v": version_id})
        self._changed = True
        return True

    def move(self, version_id: str, collection: str) -> bool:
        """Put a stored version in another collection (who may read it changes at commit); False if it was there."""
        db = self._db()
        row = db.execute(sql("SELECT collection FROM versions WHERE version_id = :v"), {"v": version_id}).first()
        if row is None or row[0] == collection:
            return False
        db.execute(sql("UPDATE versions SET collection = :c WHERE version_id = :v"), {"c": collection, "v": version_id})
        self._changed = True
        return True

    def _clauses_of(self, version_id: str) -> list[Clause]:
        rows = self._db().execute(sql(f"SELECT {CLAUSE_COLUMNS} FROM clauses WHERE version_id = :v "
                                      "ORDER BY ordinal, part"), {"v": version_id}).all()
        return [clause_from_row(r) for r in rows]

    def remove_version(self, version_id: str) -> None:
        db = self._db()
        db.execute(sql("DELETE FROM lineage WHERE from_version = :v OR to_version = :v"), {"v": version_id})
        db.execute(sql("DELETE FROM clauses WHERE version_id = :v"), {"v": version_id})
        db.execute(sql("DELETE FROM versions WHERE version_id = :v"), {"v": version_id})
        if version_id in self._added_versions:
            self._added_versions.discard(version_id)  # added and removed before a commit: the engine never saw it
        else:
            self._removed_versions.add(version_id)
        self._changed = True

    def record_run(self, started: str, counts: IngestCounts, skipped: Sequence[SkippedFile]) -> None:
        """An ingest run's summary, committed with the run (generation filled in on commit)."""
        finished = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self._db().execute(sql(
            "INSERT INTO ingest_runs (started, finished, generation, counts, skipped) "
            "VALUES (:started, :finished, -1, :counts, :skipped)"),
            {"started": started, "finished": finished, "counts": json.dumps(asdict(counts)),
             "skipped": json.dumps([list(s) for s in skipped], ensure_ascii=False)})

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
            upsert_meta(db, [
                ("generation", str(generation)), ("model_name", self.model_name), ("dim", str(self.dim)),
                ("schema_version", str(SCHEMA_VERSION)), ("embed_backends", ",".join(sorted(backends))),
                ("next_clause_key", str(self._next_key)), *meta_of(state),
            ])
        else:
            generation = self.generation
            state = self._state
            completed = self._store.complete(state, clause_keys(db), CatalogSnapshotRows(db, self.dim)) if state else None
            if completed is not None:
                upsert_meta(db, meta_of(completed))
                state = completed
        db.execute(sql("UPDATE ingest_runs SET generation = :g WHERE generation = -1"), {"g": generation})
        # read inside the transaction (what it commits): a read after it would begin another, on SQLite IMMEDIATE
        live = [v for (v,) in db.execute(sql("SELECT version_id FROM versions"))] if state is not None else []
        db.commit()
        self.generation = generation
        self._state = state
        self._changed = self._added = False
        self._added_versions.clear()
        self._removed_versions.clear()
        if state is not None:
            try:
                self._store.collect(state, live)
            except RegciteError as e:  # committed already: what is left behind, the next commit's collect drops
                log.warning("generation %d is committed, but clearing what older generations used failed: %s",
                            generation, e)
        return generation

    def _stored(self, version_ids) -> list[StoredClause]:
        """The clauses of these versions as the engine stores them, in key order; BM25 terms only for an engine
        that indexes them itself (FAISS rebuilds its BM25 folder from the catalog's texts)."""
        if not version_ids:
            return []
        from sqlalchemy import bindparam

        rows = self._db().execute(sql(
            f"SELECT position_key, {CLAUSE_COLUMNS}, embedding FROM clauses WHERE version_id IN :wanted "
            "ORDER BY position_key").bindparams(bindparam("wanted", expanding=True)),
            {"wanted": sorted(version_ids)}).all()
        with_terms = self._store.engine != "faiss"
        out = []
        for row in rows:
            clause = clause_from_row(row[1:-1])
            out.append(StoredClause(
                key=int(row[0]), version_id=clause.version_id,
                embedding=np.frombuffer(row[-1], dtype=np.float32).copy(),
                terms=tuple(terms(lexical_text(clause))) if with_terms else ()))
        return out


def next_clause_key(conn, meta: dict[str, str]) -> int:
    """The next stable clause key: never one a clause had before, even when the highest rows were deleted (an
    engine may still hold a removed clause under its key for a generation)."""
    highest = conn.execute(sql("SELECT COALESCE(MAX(position_key), 0) FROM clauses")).scalar()
    return max(int(meta.get("next_clause_key", 0) or 0), int(highest) + 1)


def engine_mismatch(index_dir, stored: str, configured: str) -> IndexIncompatible:
    return IndexIncompatible(
        f"the index at {index_dir} keeps its clauses in {stored} but index_backend is {configured}; set "
        f"index_backend={stored} (REGCITE_INDEX_BACKEND), or ingest into a new data dir (--data-dir) for {configured}")


def open_writer(settings: Settings, model_name: str, dim: int, backend: str | None = None) -> Writer:
    """Use as a context manager; raises IndexLocked (naming the holder's pid) or ModelMismatch on entry.

    `backend` is what embeds the clauses added (settings.embed_backend unless given); the index records it."""
    return Writer(settings, model_name, dim, backend)
