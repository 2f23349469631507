"""The index, read side: SQLite catalog (source of truth, WAL) plus a FAISS vector file per generation.

Snapshots of the last committed generation (`open_index`), and the cheap reads a long-lived process makes beside
them. Writing, one writer at a time, is rag/writer.py.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import sqlite3
from datetime import date
from pathlib import Path

import numpy as np

from rag import vectors
from rag.config import Settings
from rag.errors import IndexMissing, ModelMismatch
from rag.lineage_store import load_changes
from rag.reports import IngestCounts, IngestRun, SkippedFile
from rag.schema import SCHEMA_VERSION, has_lineage, stored_version, too_new, version_columns
from rag.types import CharSpan, Clause, ClauseChange, DocumentVersion, Kind, PageSpan
from rag.versions import place_versions

log = logging.getLogger(__name__)

CATALOG = "catalog.sqlite"
LOCK = "writer.lock"

CLAUSE_COLUMNS = "clause_id, version_id, ordinal, path, reference, headings, text, char_start, char_end, page_first, page_last, part"


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes: a document version's identity, and how re-ingest knows a file is unchanged."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def connect(path: Path) -> sqlite3.Connection:
    # Autocommit mode: transactions are explicit BEGINs, so a snapshot read is one transaction.
    conn = sqlite3.connect(path, isolation_level=None, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")  # a commit that returned survives power loss, not only SIGKILL
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


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


def read_versions(conn: sqlite3.Connection) -> list[DocumentVersion]:
    return [version_from_row(r) for r in conn.execute(f"SELECT {version_columns(conn)} FROM versions").fetchall()]


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


def read_meta(conn: sqlite3.Connection) -> dict[str, str]:
    return dict(conn.execute("SELECT key, value FROM meta").fetchall())


def model_mismatch(index_dir: Path, stored: str, configured: str) -> ModelMismatch:
    from rag.embed import space_mismatch, split_space

    (stored_model, stored_backend), (model, backend) = split_space(stored), split_space(configured)
    if stored_model == model and stored_backend != backend:  # one model, vectors of another precision
        return ModelMismatch(space_mismatch(index_dir, model, stored_backend, backend))
    return ModelMismatch(
        f"the index at {index_dir} was built with embedding model {stored!r} but embed_model is {configured!r}; "
        f"re-ingest into a new data dir (--data-dir / REGCITE_DATA_DIR) or set embed_model back to {stored!r}"
    )


def lexical_dir(index_dir: Path, generation: int) -> Path:
    """The generation's saved BM25 index (rag.lexical), written by the writer beside vectors-<gen>.faiss."""
    return index_dir / f"lexical-{generation}"


def vectors_from_catalog(conn: sqlite3.Connection, dim: int):
    rows = conn.execute("SELECT embedding FROM clauses ORDER BY position_key").fetchall()
    matrix = np.frombuffer(b"".join(r[0] for r in rows), dtype=np.float32).reshape(len(rows), dim)
    return vectors.build(matrix, dim)


class Index:
    """A read-only snapshot of one committed generation: documents, clauses in position order, and their vectors."""

    def __init__(self, index_dir: Path, generation: int, model_name: str, dim: int,
                 documents: dict[str, DocumentVersion], clauses: list[Clause], cpu_index, gpu_index,
                 lexical_sha256: str = "", backends: tuple[str, ...] = ("torch",)):
        self.index_dir = index_dir
        self.generation = generation
        self.model_name = model_name  # the vector space: the model, tagged with a backend whose vectors differ
        self.dim = dim
        self.backends = backends  # what embedded its clauses (rag.embed.EMBED_BACKENDS); "torch" before issue 16
        self.lexical_sha256 = lexical_sha256  # of lexical_dir(index_dir, generation), "" where none was saved
        self.documents = documents
        self.clauses = clauses
        self._positions = {c.clause_id: i for i, c in enumerate(clauses)}
        self._cpu = cpu_index
        self._gpu = gpu_index

    def vector(self, position: int) -> np.ndarray:
        return self._cpu.reconstruct(position)

    def position(self, clause_id: str) -> int:
        return self._positions[clause_id]

    def clause(self, clause_id: str) -> Clause:
        return self.clauses[self._positions[clause_id]]

    def document_of(self, clause: Clause) -> DocumentVersion:
        return self.documents[clause.version_id]

    def text_of(self, version_id: str) -> str:
        conn = connect(self.index_dir / CATALOG)
        try:
            row = conn.execute("SELECT text FROM versions WHERE version_id = ?", (version_id,)).fetchone()
        finally:
            conn.close()
        if row is None:
            raise KeyError(f"document version {version_id} is no longer in the index; reopen it")
        return row[0]

    def changes(self, from_version_id: str, to_version_id: str) -> tuple[ClauseChange, ...]:
        """How the clauses of one version map onto the next version of its instrument, as aligned at ingest;
        empty for versions that are not neighbours in a chain (and for a schema-1 store not yet written to)."""
        conn = connect(self.index_dir / CATALOG)
        try:
            return load_changes(conn, from_version_id, to_version_id) if has_lineage(conn) else ()
        finally:
            conn.close()

    def search(self, query_vectors: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[list[tuple[int, float]]]:
        return vectors.search(self._cpu, self._gpu, query_vectors, k, allowed)

    def check_model(self, name: str) -> None:
        """Refuse a query embedder whose vectors do not share this index's space: another model, or the same model
        through a backend whose vectors are not interchangeable (rag.embed.vector_space)."""
        if name != self.model_name:
            raise model_mismatch(self.index_dir, self.model_name, name)

    def saved_lexical(self):
        """The BM25 index the writer saved with this generation, memory-mapped; None for a store from before that
        (or a mismatched folder): the caller builds one."""
        if not self.lexical_sha256:
            return None
        from rag.lexical import LexicalIndex

        return LexicalIndex.load(lexical_dir(self.index_dir, self.generation), len(self.clauses), self.lexical_sha256)


def open_index(settings: Settings) -> Index:
    """The last committed generation; rebuilds its vector file from the catalog when it is missing or stale."""
    index_dir = settings.index_dir
    path = index_dir / CATALOG
    if not path.exists():
        raise IndexMissing(f"no index at {index_dir}; run `regcite ingest PATH...` first")
    conn = connect(path)
    try:
        # One read transaction: meta, documents, clauses and (if needed) embeddings all from the same snapshot.
        conn.execute("BEGIN")
        try:
            meta = read_meta(conn)
        except sqlite3.OperationalError:  # a writer died before creating the schema
            meta = {}
        generation = int(meta.get("generation", 0))
        if generation == 0:
            raise IndexMissing(f"the index at {index_dir} has no committed documents; run `regcite ingest PATH...`")
        dim = int(meta["dim"])
        stored = stored_version(conn)
        if stored > SCHEMA_VERSION:
            raise too_new(stored)
        documents = place_versions(read_versions(conn), date.today())
        clauses = clauses_from_rows(
            conn.execute(f"SELECT {CLAUSE_COLUMNS} FROM clauses ORDER BY position_key").fetchall())
        cpu = vectors.read_checked(
            vectors.vector_file(index_dir, generation), len(clauses), meta.get("vectors_sha256", ""), dim
        )
        if cpu is None:
            cpu = vectors_from_catalog(conn, dim)
            _try_rewrite(index_dir, generation, cpu, meta.get("vectors_sha256", ""))
        conn.execute("COMMIT")
    finally:
        conn.close()
    gpu = vectors.to_gpu(cpu, settings.faiss_gpu)
    backends = tuple(filter(None, meta.get("embed_backends", "torch").split(",")))
    return Index(index_dir, generation, meta["model_name"], dim, documents, clauses, cpu, gpu,
                 lexical_sha256=meta.get("lexical_sha256", ""), backends=backends)


def _try_rewrite(index_dir: Path, generation: int, cpu_index, expected_sha: str) -> None:
    """Put a rebuilt vector file back when no writer is busy, so the next open is fast again."""
    try:
        fd = os.open(index_dir / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return
    try:
        # The catalog may have moved on since our snapshot; only rewrite the file of the current generation.
        conn = connect(index_dir / CATALOG)
        try:
            current = int(read_meta(conn).get("generation", 0))
        finally:
            conn.close()
        if current == generation:
            sha = vectors.write_atomic(cpu_index, vectors.vector_file(index_dir, generation))
            if sha != expected_sha:
                log.warning("rebuilt vector file differs from the recorded checksum; it will be rebuilt on each open")
    except OSError as e:
        log.warning("could not rewrite the vector file: %s", e)
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def ingest_runs(settings: Settings, limit: int = 20) -> list[IngestRun]:
    """The latest committed ingest runs, newest first, for the library page."""
    path = settings.index_dir / CATALOG
    if not path.exists():
        return []
    conn = connect(path)
    try:
        rows = conn.execute(
            "SELECT started, finished, generation, counts, skipped FROM ingest_runs ORDER BY id DESC LIMIT ?", (limit,)
        ).fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()
    return [IngestRun(s, f, g, IngestCounts.from_dict(json.loads(c)),
                      tuple(SkippedFile(str(p), str(r)) for p, r in json.loads(k)))
            for s, f, g, c, k in rows]


def committed_generation(settings: Settings) -> int:
    """The generation last committed on disk: 0 when there is none, -1 when the catalog cannot be read.

    A cheap read-only look (no snapshot is opened), for a long-lived reader deciding whether to reopen."""
    path = settings.index_dir / CATALOG
    if not path.exists():
        return 0
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2)
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        finally:
            conn.close()
    except sqlite3.Error as e:
        log.warning("cannot read the index generation at %s: %s", path, e)
        return -1
    return int(row[0]) if row else 0
