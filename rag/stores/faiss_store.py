"""The FAISS engine: per generation, a flat inner-product file keyed by clause key and a saved BM25 folder.

A commit reads the previous generation's vectors, removes the rows of removed versions and appends the new ones
(keys only grow, so rows stay in key order and row i is snapshot position i); only BM25, whose statistics are
corpus-wide, is rebuilt. Files are written beside the catalog and made durable before the catalog commit that
names them; a reader whose file is missing or does not match rebuilds it from the catalog's embeddings.
"""
from __future__ import annotations

import fcntl
import logging
import os
import shutil
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from rag import vectors
from rag.stores.contract import CatalogRows, Hits, Scope, StoreState, StoredClause

log = logging.getLogger(__name__)

ENGINE = "faiss"
LOCK = "writer.lock"  # the SQLite catalog's writer lock; a rebuilt file is put back only while nobody writes


def lexical_dir(index_dir: Path, generation: int) -> Path:
    """The generation's saved BM25 index (rag.lexical), beside vectors-<gen>.faiss."""
    return index_dir / f"lexical-{generation}"


def build_keyed(embeddings: np.ndarray, keys: np.ndarray, dim: int):
    """An IndexIDMap2 over a flat inner-product index: row i holds keys[i]."""
    faiss = vectors._faiss()
    index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    if len(keys):
        index.add_with_ids(np.ascontiguousarray(embeddings, dtype=np.float32), np.asarray(keys, dtype=np.int64))
    return index


def _row_keys(index) -> np.ndarray | None:
    """The keys of an index's rows in order; None for a plain flat file an earlier release wrote (rows = positions)."""
    if hasattr(index, "id_map"):
        return vectors._faiss().vector_to_array(index.id_map).astype(np.int64)
    return None


class FaissStore:
    engine = ENGINE

    def __init__(self, index_dir: Path, dim: int, use_gpu: bool = True):
        self.index_dir = index_dir
        self.dim = dim
        self.use_gpu = use_gpu

    def recover(self, live_version_ids: Iterable[str]) -> None:
        """Nothing to do: a commit that died left at most files of a generation never named, overwritten or
        deleted by the next commit."""

    def stage(self, generation: int, previous: StoreState | None, added: Sequence[StoredClause],
              removed_versions: Sequence[str], keys: np.ndarray, rows: CatalogRows) -> StoreState:
        keys = np.asarray(keys, dtype=np.int64)
        index = self._edited(previous, added, keys, rows)
        # Vector file and BM25 folder first: a crash before the catalog commit leaves orphans and the old generation.
        sha = vectors.write_atomic(index, vectors.vector_file(self.index_dir, generation))
        lexical_sha = self._write_lexical(generation, rows)
        return StoreState(ENGINE, generation, int(index.ntotal),
                          (("vectors_sha256", sha), ("lexical_sha256", lexical_sha)))

    def _edited(self, previous: StoreState | None, added: Sequence[StoredClause], keys: np.ndarray, rows: CatalogRows):
        """The previous generation's vectors with removed rows dropped and added ones appended, or all of them
        rebuilt from the catalog when the previous file cannot be used as it is."""
        faiss = vectors._faiss()
        base = None
        if previous is not None and previous.generation:
            path = vectors.vector_file(self.index_dir, previous.generation)
            if vectors.file_sha256(path) == previous.fact("vectors_sha256") != "":
                base = faiss.read_index(str(path))  # a private copy to edit, not a mapping
                if _row_keys(base) is None:
                    base = None  # a file from before stable keys: rebuild once
        new_keys = np.array([c.key for c in added], dtype=np.int64)
        if base is not None:
            had = _row_keys(base)
            gone = np.setdiff1d(had, keys, assume_unique=True)
            if len(gone):
                base.remove_ids(faiss.IDSelectorBatch(gone))
            if len(new_keys) and had.size and new_keys.min() <= had.max():
                base = None  # a key below the last one would break row order: rebuild
        if base is not None and len(added):
            base.add_with_ids(np.stack([c.embedding for c in added]).astype(np.float32), new_keys)
        if base is None or not np.array_equal(_row_keys(base), keys):
            if base is not None:
                log.warning("edited vector index does not match the catalog's keys; rebuilding it")
            base = build_keyed(rows.embeddings(), keys, self.dim)
        return base

    def _write_lexical(self, generation: int, rows: CatalogRows) -> str:
        """The generation's BM25 index: into a temporary folder, files fsynced, renamed into place, parent fsynced."""
        from rag.lexical import LexicalIndex

        built = LexicalIndex(rows.lexical_texts())
        target = lexical_dir(self.index_dir, generation)
        tmp = target.with_name(f"{target.name}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        sha = built.save(tmp)
        shutil.rmtree(target, ignore_errors=True)  # an orphan of a commit that died before the catalog's
        os.rename(tmp, target)
        vectors.fsync_dir(self.index_dir)
        return sha

    def complete(self, state: StoreState, keys: np.ndarray, rows: CatalogRows) -> StoreState | None:
        """A store from before saved BM25 indexes (or one whose folder was lost) gets one on its next ingest, even
        of unchanged files, so its readers stop re-tokenising the corpus."""
        from rag.lexical import LexicalIndex

        sha = state.fact("lexical_sha256")
        if sha and LexicalIndex.load(lexical_dir(self.index_dir, state.generation), len(keys), sha) is not None:
            return None
        facts = dict(state.facts) | {"lexical_sha256": self._write_lexical(state.generation, rows)}
        return StoreState(ENGINE, state.generation, state.count, tuple(sorted(facts.items())))

    def open(self, state: StoreState, keys: np.ndarray, version_ids: frozenset[str], rows: CatalogRows) -> "FaissReader":
        keys = np.asarray(keys, dtype=np.int64)
        path = vectors.vector_file(self.index_dir, state.generation)
        index = vectors.read_checked(path, len(keys), state.fact("vectors_sha256"), self.dim)
        if index is not None and (row_keys := _row_keys(index)) is not None and not np.array_equal(row_keys, keys):
            index = None
        if index is None:
            index = build_keyed(rows.embeddings(), keys, self.dim)
            self._try_rewrite(state, index)
        return FaissReader(self.index_dir, state, keys, index, self.use_gpu, rows)

    def _try_rewrite(self, state: StoreState, index) -> None:
        """Put a rebuilt vector file back when no writer is busy, so the next open is fast again."""
        try:
            fd = os.open(self.index_dir / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return
        try:
            if not vectors.vector_file(self.index_dir, state.generation + 1).exists():
                sha = vectors.write_atomic(index, vectors.vector_file(self.index_dir, state.generation))
                if sha != state.fact("vectors_sha256"):
                    log.warning("rebuilt vector file differs from the recorded checksum; it will be rebuilt on each open")
        except OSError as e:
            log.warning("could not rewrite the vector file: %s", e)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def collect(self, current: StoreState, live_version_ids: Iterable[str]) -> None:
        """Vector files and BM25 folders of older generations; a reader holding one keeps its open or mapped copy."""
        keep = {vectors.vector_file(self.index_dir, current.generation).name,
                lexical_dir(self.index_dir, current.generation).name}
        for path in [*self.index_dir.glob("vectors-*.faiss*"), *self.index_dir.glob("lexical-*")]:
            if path.name not in keep:
                try:
                    shutil.rmtree(path) if path.is_dir() else path.unlink()
                except OSError as e:
                    log.warning("could not delete old index file %s: %s", path, e)


class FaissReader:
    """Search over one generation's files; rows are snapshot positions, results are clause keys."""

    def __init__(self, index_dir: Path, state: StoreState, keys: np.ndarray, index, use_gpu: bool, rows: CatalogRows):
        self.index_dir = index_dir
        self._rows = rows  # its lexical_texts() build BM25 where no folder was saved
        self.state = state
        self.keys = keys
        self._index = index  # owns the flat index below: the wrapper alone would free it
        self._flat = vectors._faiss().downcast_index(index.index) if hasattr(index, "id_map") else index
        self._gpu = vectors.to_gpu(self._flat, use_gpu)
        self._lexical = None

    def dense(self, queries: np.ndarray, k: int, scope: Scope) -> list[Hits]:
        found = vectors.search(self._flat, self._gpu, queries, k, scope.positions)
        return [[(int(self.keys[row]), score) for row, score in hits] for hits in found]

    def saved_lexical(self):
        """The BM25 index the writer saved with this generation, memory-mapped; None where none was saved."""
        from rag.lexical import LexicalIndex

        sha = self.state.fact("lexical_sha256")
        return LexicalIndex.load(lexical_dir(self.index_dir, self.state.generation), len(self.keys), sha) if sha else None

    def lexical_index(self):
        """The generation's BM25 index: the saved one, else built once from the snapshot's clause texts."""
        if self._lexical is None:
            saved = self.saved_lexical()
            if saved is None:
                from rag.lexical import LexicalIndex

                log.info("building the BM25 index of %d clauses (none saved with this generation)", len(self.keys))
                saved = LexicalIndex(self._rows.lexical_texts())
            self._lexical = saved
        return self._lexical

    def lexical(self, question: str, k: int, scope: Scope) -> Hits:
        index = self.lexical_index()
        return [(int(self.keys[row]), score) for row, score in index.top(question, k, scope.positions)]

    def vector(self, key: int) -> np.ndarray:
        return self._flat.reconstruct(int(np.searchsorted(self.keys, key)))
