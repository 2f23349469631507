"""The index: SQLite catalog (source of truth, WAL) plus a FAISS vector file per generation, one writer at a time."""
from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import sqlite3
from dataclasses import asdict
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Sequence

import numpy as np

from rag import vectors
from rag.config import Settings
from rag.errors import IndexLocked, IndexMissing, ModelMismatch
from rag.lineage_store import load_changes, realign
from rag.reports import IngestCounts, IngestRun, SkippedFile, VersionImpact
from rag.schema import SCHEMA_VERSION, has_lineage, migrate, stored_version, too_new, version_columns
from rag.versions import place_versions
from rag.types import CharSpan, Clause, ClauseChange, DocumentVersion, Kind, PageSpan, Status

log = logging.getLogger(__name__)

CATALOG = "catalog.sqlite"
LOCK = "writer.lock"

_CLAUSE_COLS = "clause_id, version_id, ordinal, path, reference, headings, text, char_start, char_end, page_first, page_last, part"


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes: a document version's identity, and how re-ingest knows a file is unchanged."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _connect(path: Path) -> sqlite3.Connection:
    # Autocommit mode: transactions are explicit BEGINs, so a snapshot read is one transaction.
    conn = sqlite3.connect(path, isolation_level=None, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")  # a commit that returned survives power loss, not only SIGKILL
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def _version_from_row(row) -> DocumentVersion:
    """A stored version as written; its effective_to and status are derived from its chain (rag.versions)."""
    (vid, doc_id, title, kind, jur, lang, src, sha, starts, eff_from, _eff_to, _status, ingested, source) = row
    return DocumentVersion(
        version_id=vid, doc_id=doc_id, title=title, kind=Kind(kind), jurisdiction=jur, language=lang,
        source_path=src, sha256=sha, page_starts=tuple(json.loads(starts)),
        effective_from=date.fromisoformat(eff_from) if eff_from else None,
        ingested_at=ingested, effective_source=source,
    )


def _versions(conn: sqlite3.Connection) -> list[DocumentVersion]:
    return [_version_from_row(r) for r in conn.execute(f"SELECT {version_columns(conn)} FROM versions").fetchall()]


def _clause_from_row(row) -> Clause:
    (cid, vid, ordinal, path, ref, headings, text, c0, c1, p0, p1, part) = row
    return Clause(
        clause_id=cid, version_id=vid, ordinal=ordinal, path=tuple(json.loads(path)), reference=ref,
        headings=tuple(json.loads(headings)), text=text, char_span=CharSpan(c0, c1), page_span=PageSpan(p0, p1),
        part=part,
    )


def _meta(conn: sqlite3.Connection) -> dict[str, str]:
    return dict(conn.execute("SELECT key, value FROM meta").fetchall())


def _mismatch(index_dir: Path, stored: str, configured: str) -> ModelMismatch:
    return ModelMismatch(
        f"the index at {index_dir} was built with embedding model {stored!r} but embed_model is {configured!r}; "
        f"re-ingest into a new data dir (--data-dir / REGCITE_DATA_DIR) or set embed_model back to {stored!r}"
    )


def _rebuild_from(conn: sqlite3.Connection, dim: int):
    rows = conn.execute("SELECT embedding FROM clauses ORDER BY position_key").fetchall()
    matrix = np.frombuffer(b"".join(r[0] for r in rows), dtype=np.float32).reshape(len(rows), dim)
    return vectors.build(matrix, dim)


class Index:
    """A read-only snapshot of one committed generation: documents, clauses in position order, and their vectors."""

    def __init__(self, index_dir: Path, generation: int, model_name: str, dim: int,
                 documents: dict[str, DocumentVersion], clauses: list[Clause], cpu_index, gpu_index):
        self.index_dir = index_dir
        self.generation = generation
        self.model_name = model_name
        self.dim = dim
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
        conn = _connect(self.index_dir / CATALOG)
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
        conn = _connect(self.index_dir / CATALOG)
        try:
            return load_changes(conn, from_version_id, to_version_id) if has_lineage(conn) else ()
        finally:
            conn.close()

    def search(self, query_vectors: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[list[tuple[int, float]]]:
        return vectors.search(self._cpu, self._gpu, query_vectors, k, allowed)

    def check_model(self, name: str) -> None:
        if name != self.model_name:
            raise _mismatch(self.index_dir, self.model_name, name)


def open_index(settings: Settings) -> Index:
    """The last committed generation; rebuilds its vector file from the catalog when it is missing or stale."""
    index_dir = settings.index_dir
    path = index_dir / CATALOG
    if not path.exists():
        raise IndexMissing(f"no index at {index_dir}; run `regcite ingest PATH...` first")
    conn = _connect(path)
    try:
        # One read transaction: meta, documents, clauses and (if needed) embeddings all from the same snapshot.
        conn.execute("BEGIN")
        try:
            meta = _meta(conn)
        except sqlite3.OperationalError:  # a writer died before creating the schema
            meta = {}
        generation = int(meta.get("generation", 0))
        if generation == 0:
            raise IndexMissing(f"the index at {index_dir} has no committed documents; run `regcite ingest PATH...`")
        dim = int(meta["dim"])
        stored = stored_version(conn)
        if stored > SCHEMA_VERSION:
            raise too_new(stored)
        documents = place_versions(_versions(conn), date.today())
        clauses = [
            _clause_from_row(r)
            for r in conn.execute(f"SELECT {_CLAUSE_COLS} FROM clauses ORDER BY position_key").fetchall()
        ]
        cpu = vectors.read_checked(
            vectors.vector_file(index_dir, generation), len(clauses), meta.get("vectors_sha256", ""), dim
        )
        if cpu is None:
            cpu = _rebuild_from(conn, dim)
            _try_rewrite(index_dir, generation, cpu, meta.get("vectors_sha256", ""))
        conn.execute("COMMIT")
    finally:
        conn.close()
    gpu = vectors.to_gpu(cpu, settings.faiss_gpu)
    return Index(index_dir, generation, meta["model_name"], dim, documents, clauses, cpu, gpu)


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
        conn = _connect(index_dir / CATALOG)
        try:
            current = int(_meta(conn).get("generation", 0))
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


class Writer:
    """The single writer: everything it does stays invisible until commit(); leaving without commit rolls back."""

    def __init__(self, settings: Settings, model_name: str, dim: int):
        self.index_dir = settings.index_dir
        self.model_name = model_name
        self.dim = dim
        self._fd: int | None = None
        self._conn: sqlite3.Connection | None = None
        self._changed = False
        self.generation = 0
        self.migrated_from = 0  # the schema the store had when this writer opened it
        self.impacts: tuple[VersionImpact, ...] = ()  # what the last commit's new neighbouring versions changed

    def __enter__(self) -> "Writer":
        self.index_dir.mkdir(parents=True, exist_ok=True)
        self._lock()
        try:
            self._conn = _connect(self.index_dir / CATALOG)
            self.migrated_from = migrate(self._conn)
            self._conn.execute("BEGIN IMMEDIATE")
            meta = _meta(self._conn)
            if "model_name" in meta:
                if meta["model_name"] != self.model_name:
                    raise _mismatch(self.index_dir, meta["model_name"], self.model_name)
                if int(meta["dim"]) != self.dim:
                    raise _mismatch(self.index_dir, f"{meta['model_name']} ({meta['dim']} d)", f"{self.model_name} ({self.dim} d)")
            self.generation = int(meta.get("generation", 0))
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
        return list(place_versions(_versions(self._db()), date.today()).values())

    def add_version(self, version: DocumentVersion, text: str, clauses: list[Clause], embeddings: np.ndarray) -> None:
        embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)
        if embeddings.shape != (len(clauses), self.dim):
            raise ValueError(f"embeddings shape {embeddings.shape}, expected ({len(clauses)}, {self.dim})")
        db = self._db()
        ingested = version.ingested_at or datetime.now(timezone.utc).isoformat(timespec="seconds")
        db.execute(
            f"INSERT INTO versions ({version_columns(db)}, text) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                version.version_id, version.doc_id, version.title, Kind(version.kind).value, version.jurisdiction,
                version.language, version.source_path, version.sha256, json.dumps(list(version.page_starts)),
                version.effective_from.isoformat() if version.effective_from else None,
                version.effective_to.isoformat() if version.effective_to else None,
                Status(version.status).value, ingested, version.effective_source, text,
            ),
        )
        db.executemany(
            f"INSERT INTO clauses ({_CLAUSE_COLS}, embedding) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    c.clause_id, version.version_id, c.ordinal, json.dumps(list(c.path), ensure_ascii=False),
                    c.reference, json.dumps(list(c.headings), ensure_ascii=False), c.text, c.char_span.start,
                    c.char_span.end, c.page_span.first, c.page_span.last, c.part, e.tobytes(),
                )
                for c, e in zip(clauses, embeddings)
            ],
        )
        self._changed = True

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

    def _clauses_of(self, version_id: str) -> list[Clause]:
        rows = self._db().execute(f"SELECT {_CLAUSE_COLS} FROM clauses WHERE version_id = ? ORDER BY ordinal, part",
                                  (version_id,)).fetchall()
        return [_clause_from_row(r) for r in rows]

    def remove_version(self, version_id: str) -> None:
        db = self._db()
        db.execute("DELETE FROM lineage WHERE from_version = ? OR to_version = ?", (version_id, version_id))
        db.execute("DELETE FROM clauses WHERE version_id = ?", (version_id,))
        db.execute("DELETE FROM versions WHERE version_id = ?", (version_id,))
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
            cpu = _rebuild_from(db, self.dim)
            # Vector file first: a crash before the SQLite commit leaves an orphan file and the old generation.
            sha = vectors.write_atomic(cpu, vectors.vector_file(self.index_dir, generation))
            db.executemany(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                [
                    ("generation", str(generation)), ("model_name", self.model_name), ("dim", str(self.dim)),
                    ("schema_version", str(SCHEMA_VERSION)), ("vectors_count", str(cpu.ntotal)),
                    ("vectors_sha256", sha),
                ],
            )
        else:
            generation = self.generation
        db.execute("UPDATE ingest_runs SET generation = ? WHERE generation = -1", (generation,))
        db.execute("COMMIT")
        self.generation = generation
        self._changed = False
        if generation:
            self._delete_old_vector_files(generation)
        return generation

    def _delete_old_vector_files(self, generation: int) -> None:
        keep = vectors.vector_file(self.index_dir, generation).name
        for path in self.index_dir.glob("vectors-*.faiss*"):
            if path.name != keep:
                try:
                    path.unlink()
                except OSError as e:
                    log.warning("could not delete old vector file %s: %s", path, e)


def open_writer(settings: Settings, model_name: str, dim: int) -> Writer:
    """Use as a context manager; raises IndexLocked (naming the holder's pid) or ModelMismatch on entry."""
    return Writer(settings, model_name, dim)


def ingest_runs(settings: Settings, limit: int = 20) -> list[IngestRun]:
    """The latest committed ingest runs, newest first, for the library page."""
    path = settings.index_dir / CATALOG
    if not path.exists():
        return []
    conn = _connect(path)
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
