"""The index, read side: the catalog (source of truth: SQLite in WAL, or PostgreSQL; rag/catalog_db.py) plus an
engine's search structures for the generation it names (rag/stores: FAISS files per generation, or a Milvus
collection).

Snapshots of the last committed generation (`open_index`), and the cheap reads a long-lived process makes beside
them. Writing, one writer at a time, is rag/writer.py.
"""
from __future__ import annotations

import hashlib
import json
import logging
from datetime import date
from pathlib import Path

import numpy as np

# CATALOG and LOCK stay importable from here: the SQLite catalog's file and the writer's fcntl lock in index_dir
# (rag.stores.faiss_store.LOCK names it too: a reader rebuilding a vector file takes it).
from rag.catalog_db import CATALOG, LOCK, Catalog, open_catalog, sqlite_catalog, table_exists  # noqa: F401
from rag.config import Settings
from rag.errors import IndexIncompatible, IndexMissing, IndexUnavailable, ModelMismatch
from rag.lineage_store import load_changes
from rag.reports import IngestCounts, IngestRun, SkippedFile
from rag.schema import SCHEMA_VERSION, has_lineage, stored_version, too_new, version_columns
from rag.stores import open_store, state_from_meta
from rag.stores.contract import Scope, StoreState
from rag.stores.faiss_store import FaissReader, build_keyed, lexical_dir  # noqa: F401 (lexical_dir: importable here)
from rag.types import CharSpan, Clause, ClauseChange, DocumentVersion, Kind, PageSpan
from rag.versions import place_versions

log = logging.getLogger(__name__)


CLAUSE_COLUMNS = "clause_id, version_id, ordinal, path, reference, headings, text, char_start, char_end, page_first, page_last, part"


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes: a document version's identity, and how re-ingest knows a file is unchanged."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def version_from_row(row) -> DocumentVersion:
    """A stored version as written; its effective_to and status are derived from its chain (rag.versions)."""
    (vid, doc_id, title, kind, jur, lang, src, sha, starts, eff_from, _eff_to, _status, ingested, source,
     collection) = row
    return DocumentVersion(
        version_id=vid, doc_id=doc_id, title=title, kind=Kind(kind), jurisdiction=jur, language=lang,
        source_path=src, sha256=sha, page_starts=tuple(json.loads(starts)),
        effective_from=date.fromisoformat(eff_from) if eff_from else None,
        ingested_at=ingested, effective_source=source, collection=collection,
    )


def sql(statement: str):
    """A SQLAlchemy text() statement: named parameters (:name), one text for SQLite and PostgreSQL."""
    from sqlalchemy import text

    return text(statement)


def read_versions(conn) -> list[DocumentVersion]:
    """`conn`, here and below: a SQLAlchemy connection to the catalog (rag/catalog_db.py), either dialect."""
    return [version_from_row(r) for r in conn.execute(sql(f"SELECT {version_columns(conn)} FROM versions"))]


def clause_from_row(row) -> Clause:
    (cid, vid, ordinal, path, ref, headings, text, c0, c1, p0, p1, part) = row
    return Clause(
        clause_id=cid, version_id=vid, ordinal=ordinal, path=tuple(json.loads(path)), reference=ref,
        headings=tuple(json.loads(headings)), text=text, char_span=CharSpan(c0, c1), page_span=PageSpan(p0, p1),
        part=part,
    )


def clauses_from_rows(rows) -> list[Clause]:
    """clause_from_row for many rows, parsing every path and heading trail in one JSON call (a snapshot's clauses
    load in a third of the time: 10,687 json.loads pairs were most of opening the shared corpus)."""
    paths = json.loads("[" + ",".join(r[3] for r in rows) + "]")
    headings = json.loads("[" + ",".join(r[5] for r in rows) + "]")
    return [
        Clause(clause_id=cid, version_id=vid, ordinal=ordinal, path=tuple(path), reference=ref,
               headings=tuple(heads), text=text, char_span=CharSpan(c0, c1), page_span=PageSpan(p0, p1), part=part)
        for (cid, vid, ordinal, _, ref, _, text, c0, c1, p0, p1, part), path, heads in zip(rows, paths, headings)
    ]


def read_meta(conn) -> dict[str, str]:
    return {key: value for key, value in conn.execute(sql("SELECT key, value FROM meta"))}


def model_mismatch(index_dir: Path, stored: str, configured: str) -> ModelMismatch:
    from rag.embed import space_mismatch, split_space

    (stored_model, stored_backend), (model, backend) = split_space(stored), split_space(configured)
    if stored_model == model and stored_backend != backend:  # one model, vectors of another precision
        return ModelMismatch(space_mismatch(index_dir, model, stored_backend, backend))
    return ModelMismatch(
        f"the index at {index_dir} was built with embedding model {stored!r} but embed_model is {configured!r}; "
        f"re-ingest into a new data dir (--data-dir / REGCITE_DATA_DIR) or set embed_model back to {stored!r}"
    )


def vectors_from_catalog(conn, dim: int) -> np.ndarray:
    """Every clause's stored embedding, (n, dim) float32 in key order."""
    rows = conn.execute(sql("SELECT embedding FROM clauses ORDER BY position_key")).all()
    return np.frombuffer(b"".join(r[0] for r in rows), dtype=np.float32).reshape(len(rows), dim)


def clause_keys(conn) -> np.ndarray:
    """Every clause's stable key, ascending: the order of a snapshot's positions."""
    rows = conn.execute(sql("SELECT position_key FROM clauses ORDER BY position_key")).all()
    return np.array([r[0] for r in rows], dtype=np.int64)


class CatalogSnapshotRows:
    """rag.stores.contract.CatalogRows over one catalog transaction; texts come from `clauses` when the caller
    already holds them (a reader's snapshot), so they stay readable after the transaction."""

    def __init__(self, conn, dim: int, clauses: list[Clause] | None = None):
        self._conn = conn
        self._dim = dim
        self._clauses = clauses

    def lexical_texts(self) -> list[str]:
        from rag.lexical import lexical_text

        clauses = self._clauses
        if clauses is None:
            clauses = clauses_from_rows(
                self._conn.execute(sql(f"SELECT {CLAUSE_COLUMNS} FROM clauses ORDER BY position_key")).all())
        return [lexical_text(c) for c in clauses]

    def embeddings(self) -> np.ndarray:
        return vectors_from_catalog(self._conn, self._dim)


class _MemoryRows:
    def __init__(self, clauses: list[Clause], matrix: np.ndarray):
        self._clauses, self._matrix = clauses, matrix

    def lexical_texts(self) -> list[str]:
        from rag.lexical import lexical_text

        return [lexical_text(c) for c in self._clauses]

    def embeddings(self) -> np.ndarray:
        return self._matrix


class Index:
    """A read-only snapshot of one committed generation: documents, clauses in key order, and the engine's reader
    for that generation (rag/stores). Positions (0..n-1, key order) are this snapshot's; keys are stable."""

    def __init__(self, index_dir: Path, generation: int, model_name: str, dim: int,
                 documents: dict[str, DocumentVersion], clauses: list[Clause], keys: np.ndarray, reader,
                 backends: tuple[str, ...] = ("torch",), engine: str = "faiss", catalog: Catalog | None = None):
        self.index_dir = index_dir
        # where text_of and changes read, after the snapshot's own transaction: the catalog it was opened from
        self.catalog = catalog or sqlite_catalog(index_dir)
        self.generation = generation
        self.model_name = model_name  # the vector space: the model, tagged with a backend whose vectors differ
        self.dim = dim
        self.backends = backends  # what embedded its clauses (rag.embed.EMBED_BACKENDS); "torch" before issue 16
        self.engine = engine  # what holds its vectors and BM25: "faiss" or "milvus"
        self.documents = documents
        self.clauses = clauses
        self.keys = np.asarray(keys, dtype=np.int64)
        self._positions = {c.clause_id: i for i, c in enumerate(clauses)}
        self._reader = reader
        self._version_positions: dict[str, np.ndarray] | None = None

    @classmethod
    def in_memory(cls, index_dir: Path, generation: int, model_name: str, dim: int,
                  documents: dict[str, DocumentVersion], clauses: list[Clause], matrix: np.ndarray) -> "Index":
        """A snapshot held only in this process (benchmarks, what-ifs): FAISS over `matrix`, row i = clause i."""
        keys = np.arange(1, len(clauses) + 1, dtype=np.int64)
        reader = FaissReader(index_dir, StoreState("faiss", generation, len(clauses)), keys,
                             build_keyed(matrix, keys, dim), False, _MemoryRows(clauses, matrix))
        return cls(index_dir, generation, model_name, dim, documents, clauses, keys, reader)

    @property
    def lexical_sha256(self) -> str:
        """Of the generation's saved BM25 folder (FAISS), "" where none was saved or the engine keeps its own."""
        return self._reader.state.fact("lexical_sha256") if isinstance(self._reader, FaissReader) else ""

    def vector(self, position: int) -> np.ndarray:
        return self._reader.vector(int(self.keys[position]))

    def position(self, clause_id: str) -> int:
        return self._positions[clause_id]

    def clause(self, clause_id: str) -> Clause:
        return self.clauses[self._positions[clause_id]]

    def document_of(self, clause: Clause) -> DocumentVersion:
        return self.documents[clause.version_id]

    def vectors(self) -> np.ndarray:
        """Every clause's embedding in position order, (n, dim) float32, in one catalog read rather than one engine
        call per clause; clauses a later commit removed come from the engine."""
        if isinstance(self._reader, FaissReader) and isinstance(self._reader._rows, _MemoryRows):
            return self._reader._rows.embeddings()  # a snapshot only this process holds: no catalog has its rows
        with self.catalog.read() as conn:
            stored = dict(conn.execute(sql("SELECT position_key, embedding FROM clauses")).all())
        rows = [stored.get(int(k)) for k in self.keys]
        if rows and all(r is not None for r in rows):
            return np.frombuffer(b"".join(bytes(r) for r in rows), dtype=np.float32).reshape(len(rows), self.dim)
        if not rows:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self.vector(i) if r is None else np.frombuffer(bytes(r), dtype=np.float32)
                         for i, r in enumerate(rows)])

    def text_of(self, version_id: str) -> str:
        with self.catalog.read() as conn:
            row = conn.execute(sql("SELECT text FROM versions WHERE version_id = :v"), {"v": version_id}).first()
        if row is None:
            raise KeyError(f"document version {version_id} is no longer in the index; reopen it")
        return row[0]

    def changes(self, from_version_id: str, to_version_id: str) -> tuple[ClauseChange, ...]:
        """How the clauses of one version map onto the next version of its instrument, as aligned at ingest;
        empty for versions that are not neighbours in a chain (and for a schema-1 store not yet written to)."""
        with self.catalog.read() as conn:
            return load_changes(conn, from_version_id, to_version_id) if has_lineage(conn) else ()

    def scope(self, allowed: np.ndarray | None, versions: frozenset[str] | None = None) -> Scope:
        """A position mask as the engines' Scope. `versions` are the versions the mask admits whole when the caller
        knows them (the retriever does); otherwise they are read off the mask, and an engine that filters by
        version gets the keys themselves where the mask admits part of a version."""
        if allowed is None:
            return Scope()
        allowed = np.asarray(allowed, dtype=bool)
        if allowed.shape != (len(self.clauses),):
            raise ValueError(f"allowed mask has shape {allowed.shape}, index has {len(self.clauses)} clauses")
        if versions is None:
            by_version = self._positions_by_version()
            versions = frozenset(v for v, ps in by_version.items() if allowed[ps].any())
            if any(not allowed[by_version[v]].all() for v in versions):
                return Scope(versions, allowed, keys=self.keys[allowed])
        return Scope(frozenset(versions), allowed)

    def _positions_by_version(self) -> dict[str, np.ndarray]:
        if self._version_positions is None:
            grouped: dict[str, list[int]] = {}
            for i, c in enumerate(self.clauses):
                grouped.setdefault(c.version_id, []).append(i)
            self._version_positions = {v: np.array(ps, dtype=np.int64) for v, ps in grouped.items()}
        return self._version_positions

    def _positions_of(self, hits) -> list[tuple[int, float]]:
        if not hits:
            return []
        keys = np.fromiter((k for k, _ in hits), dtype=np.int64, count=len(hits))
        positions = np.searchsorted(self.keys, keys)
        return [(int(p), float(score)) for p, (_, score) in zip(positions, hits)]

    def search(self, query_vectors: np.ndarray, k: int, allowed: np.ndarray | None = None,
               versions: frozenset[str] | None = None) -> list[list[tuple[int, float]]]:
        """Per query, (clause position, inner product) best first, only positions the mask admits, up to k."""
        queries = np.ascontiguousarray(np.atleast_2d(query_vectors), dtype=np.float32)
        scope = self.scope(allowed, versions)
        if scope.positions is not None and not scope.positions.any():
            return [[] for _ in range(len(queries))]
        return [self._positions_of(hits) for hits in self._reader.dense(queries, k, scope)]

    def lexical(self, question: str, k: int, allowed: np.ndarray | None = None,
                versions: frozenset[str] | None = None) -> list[tuple[int, float]]:
        """(clause position, BM25 score) best first over regcite's terms of the question, within the mask."""
        scope = self.scope(allowed, versions)
        if scope.positions is not None and not scope.positions.any():
            return []
        return self._positions_of(self._reader.lexical(question, k, scope))

    def check_model(self, name: str) -> None:
        """Refuse a query embedder whose vectors do not share this index's space: another model, or the same model
        through a backend whose vectors are not interchangeable (rag.embed.vector_space)."""
        if name != self.model_name:
            raise model_mismatch(self.index_dir, self.model_name, name)

    def saved_lexical(self):
        """The BM25 index the writer saved with this generation (FAISS), memory-mapped; None for a store from before
        that, a mismatched folder, or an engine that keeps BM25 itself."""
        return self._reader.saved_lexical() if isinstance(self._reader, FaissReader) else None


def open_index(settings: Settings) -> Index:
    """The last committed generation; rebuilds its vector file from the catalog when it is missing or stale.

    IndexMissing before a first commit; IndexUnavailable when a catalog server cannot be reached."""
    index_dir = settings.index_dir
    catalog = open_catalog(settings)
    if not catalog.exists():
        raise IndexMissing(f"no index at {index_dir}; run `regcite ingest PATH...` first")
    # One read transaction: meta, documents, clauses and (if needed) embeddings all from the same snapshot.
    with catalog.snapshot() as conn:
        meta = read_meta(conn) if table_exists(conn, "meta") else {}  # none: a writer died before the schema
        generation = int(meta.get("generation", 0))
        if generation == 0:
            raise IndexMissing(f"{catalog.where} has no committed documents; run `regcite ingest PATH...`")
        dim = int(meta["dim"])
        stored = stored_version(conn)
        if stored > SCHEMA_VERSION:
            raise too_new(stored)
        state = state_from_meta(meta)
        store = open_store(settings, dim)
        if state.engine != store.engine:
            raise IndexIncompatible(
                f"the index at {index_dir} keeps its clauses in {state.engine} but index_backend is {store.engine}; "
                f"set index_backend={state.engine} (REGCITE_INDEX_BACKEND), or ingest into a new data dir")
        documents = place_versions(read_versions(conn), date.today())
        clauses = clauses_from_rows(
            conn.execute(sql(f"SELECT {CLAUSE_COLUMNS} FROM clauses ORDER BY position_key")).all())
        keys = clause_keys(conn)
        reader = store.open(state, keys, frozenset(documents), CatalogSnapshotRows(conn, dim, clauses))
    backends = tuple(filter(None, meta.get("embed_backends", "torch").split(",")))
    return Index(index_dir, generation, meta["model_name"], dim, documents, clauses, keys, reader,
                 backends=backends, engine=state.engine, catalog=catalog)


def ingest_runs(settings: Settings, limit: int = 20) -> list[IngestRun]:
    """The latest committed ingest runs, newest first, for the library page (none while the catalog is
    unreachable: the page's index status says why)."""
    catalog = open_catalog(settings)
    if not catalog.exists():
        return []
    try:
        with catalog.read() as conn:
            if not table_exists(conn, "ingest_runs"):
                return []
            rows = conn.execute(sql(
                "SELECT started, finished, generation, counts, skipped FROM ingest_runs ORDER BY id DESC LIMIT :n"),
                {"n": limit}).all()
    except IndexUnavailable as e:
        log.warning("%s", e)
        return []
    return [IngestRun(s, f, g, IngestCounts.from_dict(json.loads(c)),
                      tuple(SkippedFile(str(p), str(r)) for p, r in json.loads(k)))
            for s, f, g, c, k in rows]


def committed_generation(settings: Settings) -> int:
    """The generation last committed on disk: 0 when there is none, -1 when the catalog cannot be read.

    A cheap look (one SELECT on a pooled connection; no snapshot is opened), for a long-lived reader deciding
    whether to reopen."""
    from sqlalchemy.exc import SQLAlchemyError

    catalog = open_catalog(settings)
    if not catalog.exists():
        return 0
    try:
        with catalog.read() as conn:
            row = conn.execute(sql("SELECT value FROM meta WHERE key = 'generation'")).first()
    except (IndexUnavailable, SQLAlchemyError) as e:
        if not isinstance(e, IndexUnavailable) and not _has_meta(catalog):
            return 0  # a database no writer has created the schema in yet (a fresh PostgreSQL catalog)
        log.warning("cannot read the index generation of %s: %s", catalog.where, getattr(e, "orig", None) or e)
        return -1
    return int(row[0]) if row else 0


def _has_meta(catalog: Catalog) -> bool:
    try:
        with catalog.read() as conn:
            return table_exists(conn, "meta")
    except Exception:  # noqa: BLE001 - only asked to tell "no schema" from "unreadable"; either way not served
        return True
