"""The store contract: what any engine that holds clause vectors and BM25 postings does for regcite.

The catalog (rag/store.py, rag/writer.py) stays the source of truth for documents, versions, clause texts and
lineage; a store holds what search needs, keyed by each clause's stable catalog key (`clauses.position_key`,
assigned once and never reused), never by a row position. One generation is staged (durable, not yet served),
then the catalog commit that names it makes it current; `collect` drops what older generations used.

Ranking stays regcite's: both engines search with regcite's own BM25 terms (rag.lexical.terms), and fusion,
references and reranking happen above the store, in rag/retrieve.py.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Protocol, Sequence

import numpy as np


@dataclass(frozen=True)
class StoredClause:
    """One clause as a store holds it."""

    key: int  # the catalog's stable clause key
    version_id: str
    embedding: np.ndarray = field(repr=False)  # (dim,) float32, L2-normalised
    terms: tuple[str, ...] = field(repr=False)  # rag.lexical.terms(rag.lexical.lexical_text(clause))


@dataclass(frozen=True)
class StoreState:
    """What the catalog records about a store's generation, in the same transaction that makes it current."""

    engine: str  # "faiss" | "milvus"
    generation: int
    count: int  # clauses the generation holds
    facts: tuple[tuple[str, str], ...] = ()  # engine-specific (checksums, a collection name), kept in catalog meta

    def fact(self, name: str, default: str = "") -> str:
        return dict(self.facts).get(name, default)


@dataclass(frozen=True)
class Scope:
    """Which clauses one search may return, already decided against the reader's catalog snapshot.

    `version_ids` are the admitted versions (None: every version of the snapshot); `positions` is the same choice
    as a mask over the snapshot's clauses in key order (None: all), for engines that filter by row. Both are
    derived from one rag.types.Filters, so the two engines admit exactly the same clauses."""

    version_ids: frozenset[str] | None = None
    positions: np.ndarray | None = field(default=None, repr=False)
    # Only where a caller's mask admits part of a version (tests, tools; filters never do): the admitted keys.
    keys: np.ndarray | None = field(default=None, repr=False)

    @property
    def everything(self) -> bool:
        return self.version_ids is None


Hits = list[tuple[int, float]]  # (clause key, score), best first


class CatalogRows(Protocol):
    """A generation's clauses as the catalog holds them, in key order, read only when an engine asks: an engine that
    keeps corpus-wide statistics itself (FAISS's BM25 folder) or lost its files rebuilds from these."""

    def lexical_texts(self) -> list[str]:
        """rag.lexical.lexical_text of every clause."""

    def embeddings(self) -> np.ndarray:
        """(n, dim) float32, every clause's stored embedding."""


class StoreReader(Protocol):
    """Search over one committed generation."""

    def dense(self, queries: np.ndarray, k: int, scope: Scope) -> list[Hits]:
        """Per query row, up to k clauses by inner product, only from the scope."""

    def lexical(self, question: str, k: int, scope: Scope) -> Hits:
        """Up to k clauses by BM25 over regcite's terms of the question, only from the scope (scores >= 0)."""

    def vector(self, key: int) -> np.ndarray:
        """The stored embedding of one clause."""


class ClauseStore(Protocol):
    """One engine's side of the index: the writer stages generations, readers open committed ones."""

    engine: str

    def recover(self, live_version_ids: Iterable[str]) -> None:
        """Under the writer's lock, before staging: drop what a commit that died left behind."""

    def stage(self, generation: int, previous: StoreState | None, added: Sequence[StoredClause],
              removed_versions: Sequence[str], keys: np.ndarray, rows: CatalogRows) -> StoreState:
        """Make `generation` durable but not served: the previous one plus `added`, minus `removed_versions`.

        `keys` are every clause key of the new generation in ascending order (the catalog's order); `rows` gives
        their texts and embeddings in that order, for what an engine rebuilds rather than edits."""

    def complete(self, state: StoreState, keys: np.ndarray, rows: CatalogRows) -> StoreState | None:
        """The committed state with what an older release never wrote added (FAISS: a saved BM25 folder), or None
        when nothing was missing; run by a writer that changed nothing."""

    def open(self, state: StoreState, keys: np.ndarray, version_ids: frozenset[str], rows: CatalogRows) -> StoreReader:
        """A reader of a committed generation whose catalog snapshot holds `keys` (ascending) of `version_ids`;
        `rows.embeddings()` may only be called during this call (it reads the catalog's snapshot transaction),
        `rows.lexical_texts()` at any time."""

    def collect(self, current: StoreState, live_version_ids: Iterable[str]) -> None:
        """After the catalog commit: drop what only generations before the last one used."""
