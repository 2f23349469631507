"""Hybrid retrieval over one index snapshot: clauses named in the question first, then dense + BM25 fused.

Fusion is reciprocal rank (rank only) or weighted (z-scored scores, `dense_weight` on the dense side); a
weight of 1.0 or 0.0 gives pure dense or pure BM25 without computing the other side. An optional cross-encoder
reorders the fused candidates. Filters become a position mask applied inside both searches, so a selective
filter still returns k clauses.
"""
from __future__ import annotations

import threading
import unicodedata
import weakref
from datetime import date
from typing import Callable, Mapping, Sequence

import numpy as np

from rag.config import Settings
from rag.lexical import LexicalIndex, lexical_text
from rag.references import ReferenceMap, mentions
from rag.types import Clause, DocumentVersion, Filters, Hit
from rag.versions import Unavailable, place_within, unavailable_on

def _version_codes(index) -> tuple[list[str], np.ndarray]:
    versions = sorted(index.documents)
    code = {v: i for i, v in enumerate(versions)}
    return versions, np.array([code[c.version_id] for c in index.clauses], dtype=np.int32)


def _parents(index) -> dict[str, int]:
    """clause_id -> position of the clause whose path is its path minus the last step (part 0 when split)."""
    by_path: dict[tuple[str, tuple[str, ...]], int] = {}
    for i, c in enumerate(index.clauses):
        by_path.setdefault((c.version_id, c.path), i)
    out = {}
    for c in index.clauses:
        if len(c.path) > 1 and (parent := by_path.get((c.version_id, c.path[:-1]))) is not None:
            out[c.clause_id] = parent
    return out


class SnapshotStructures:
    """What retrieval derives from one index snapshot, built on first use and shared by every retriever over it."""

    def __init__(self, index):
        self._index = weakref.ref(index)  # a strong one would keep the snapshot alive through _STRUCTURES
        self._built: dict[Callable, object] = {}
        self._visible: dict[tuple[frozenset[str], date], dict[str, DocumentVersion]] = {}
        self._lexical_within: dict[frozenset[str], tuple[LexicalIndex | None, np.ndarray]] = {}
        self._lock = threading.Lock()

    def _get(self, build: Callable):
        with self._lock:  # threads of the app race for the first build; only one builds
            if build not in self._built:
                self._built[build] = build(self._index())
            return self._built[build]

    @property
    def references(self) -> ReferenceMap:
        return self._get(_reference_map)

    @property
    def version_codes(self) -> tuple[list[str], np.ndarray]:
        return self._get(_version_codes)

    @property
    def parents(self) -> dict[str, int]:
        return self._get(_parents)

    def lexical_within(self, collections: frozenset[str]) -> tuple[LexicalIndex | None, np.ndarray]:
        """A BM25 index over only these collections' clauses, and the snapshot position of each of its rows: a
        reader's scores (their IDF, their length norms) owe nothing to clauses they may not read. None when the
        collections hold no clause."""
        with self._lock:
            if collections not in self._lexical_within:
                index = self._index()
                positions = np.array([i for i, c in enumerate(index.clauses)
                                      if index.documents[c.version_id].collection in collections], dtype=np.int64)
                built = LexicalIndex([lexical_text(index.clauses[i]) for i in positions]) if len(positions) else None
                self._lexical_within[collections] = (built, positions)
            return self._lexical_within[collections]

    def visible(self, collections: frozenset[str]) -> dict[str, DocumentVersion]:
        """The versions of these collections placed in chains of their own (rag.versions.place_within), per set of
        collections; a new day places them afresh, as a new snapshot would."""
        key = (collections, date.today())
        with self._lock:
            if key not in self._visible:
                self._visible[key] = place_within(self._index().documents, collections, key[1])
            return self._visible[key]


def _reference_map(index) -> ReferenceMap:
    return ReferenceMap(index.clauses)


# Keyed by the snapshot object itself: a snapshot dropped by every caller takes its structures with it.
_STRUCTURES: "weakref.WeakKeyDictionary[object, SnapshotStructures]" = weakref.WeakKeyDictionary()
_STRUCTURES_LOCK = threading.Lock()


def structures_of(index) -> SnapshotStructures:
    with _STRUCTURES_LOCK:
        found = _STRUCTURES.get(index)
        if found is None:
            found = _STRUCTURES[index] = SnapshotStructures(index)
        return found


def _zscores(values: np.ndarray) -> np.ndarray:
    spread = values.std()
    return (values - values.mean()) / spread if spread > 1e-9 else np.zeros_like(values)


class Retriever:
    """retrieve(question, filters, k) -> hits, best first. Built per snapshot; cheap after the first one."""

    def __init__(self, index, embedder, settings: Settings, reranker=None):
        self.index = index
        self.embedder = embedder
        self.settings = settings
        if reranker is None and settings.reranker:
            from rag.rerank import Reranker

            reranker = Reranker(settings.reranker, device=settings.device,
                                allow_downloads=settings.allow_model_downloads)
        self.reranker = reranker
        self.structures = structures_of(index)

    def documents_for(self, filters: Filters) -> Mapping[str, DocumentVersion]:
        """The versions as the filters' reader sees them: all of them, or only their collections' in chains of their
        own, so dates, statuses and hits never carry a version the reader may not read."""
        if filters.collections is None:
            return self.index.documents
        return self.structures.visible(filters.collections)

    def allowed(self, filters: Filters, admitted_versions: frozenset[str] | None = None) -> np.ndarray | None:
        """Position mask for the filters (or for the versions already admitted from them), None when they admit
        everything."""
        if filters == Filters():
            return None
        versions, codes = self.structures.version_codes
        if admitted_versions is None:
            admitted_versions = self.admitted_versions(filters)
        admitted = np.array([v in admitted_versions for v in versions], dtype=bool)
        return admitted[codes] if len(codes) else np.zeros(0, dtype=bool)

    def admitted_versions(self, filters: Filters) -> frozenset[str] | None:
        """The versions the filters admit (None: every one): what the engine's own filter names, the same choice as
        allowed(filters) makes by position."""
        if filters == Filters():
            return None
        documents = self.documents_for(filters)
        return frozenset(v for v, d in documents.items() if filters.admits(d))

    def admitted_doc_ids(self, filters: Filters) -> list[str]:
        """The documents (doc_id, each once) the filters let retrieval search."""
        return sorted({d.doc_id for d in self.documents_for(filters).values() if filters.admits(d)})

    def unavailable_on(self, question: str, filters: Filters) -> list[Unavailable]:
        """Instruments the question is about that have no version in force on filters.as_of: those whose clauses it
        names or the filters name; when it names none and nothing at all is in force that day, every instrument
        the other filters admit."""
        if filters.as_of is None:
            return []
        undated = filters.without_date()
        documents = self.documents_for(filters)
        named = {self.index.clauses[p].version_id for p, _ in self.named_clauses(question, self.allowed(undated), 50)}
        doc_ids = set(undated.doc_ids) | {documents[v].doc_id for v in named}
        if not doc_ids and not self.admitted_doc_ids(filters):
            doc_ids = {d.doc_id for d in documents.values() if undated.admits(d)}
        return unavailable_on(documents, doc_ids, filters.as_of)

    def retrieve(self, question: str, filters: Filters = Filters(), k: int | None = None) -> list[Hit]:
        k = k or self.settings.top_k
        if not self.index.clauses or not question.strip():
            return []
        versions = self.admitted_versions(filters)  # once per question: the mask and the engine's filter share it
        allowed = self.allowed(filters, versions)
        if allowed is not None and not allowed.any():
            return []
        named = self.named_clauses(question, allowed, limit=max(1, k - 2))

        weight = self.settings.dense_weight if self.settings.fusion == "weighted" else 0.5
        query_vector = self.embedder.embed_query(question) if weight > 0 or named else None
        n = self.settings.candidates
        dense = self.index.search(query_vector, n, allowed, versions)[0] if weight > 0 else []
        lexical = self._lexical_top(question, n, allowed, versions, filters) if weight < 1 else []
        fused = self._fuse(dense, lexical)
        if self.reranker is not None and fused:
            fused = self._rerank(question, fused)

        dense_of = dict(dense)
        lexical_of = dict(lexical)
        documents = self.documents_for(filters)
        hits = [self._hit(p, 1.0 + s, query_vector, dense_of, lexical_of, "reference", documents) for p, s in named]
        seen = {p for p, _ in named}
        for position, score, via in fused:
            if len(hits) >= k:
                break
            if position not in seen:
                seen.add(position)
                hits.append(self._hit(position, score, query_vector, dense_of, lexical_of, via, documents))
        return hits

    def _lexical_top(self, question: str, n: int, allowed: np.ndarray | None, versions: frozenset[str] | None,
                     filters: Filters) -> list[tuple[int, float]]:
        """BM25 candidates as snapshot positions: the engine's over the whole snapshot, or, on FAISS, for a reader
        of some collections over an index of those alone (SnapshotStructures.lexical_within). Milvus keeps one
        BM25 over its collection: a restricted reader gets only their clauses, scored with corpus-wide statistics
        (docs/SCALING.md)."""
        if filters.collections is None or self.index.engine != "faiss":
            return self.index.lexical(question, n, allowed, versions)
        within, positions = self.structures.lexical_within(filters.collections)
        if within is None:
            return []
        found = within.top(question, n, allowed[positions] if allowed is not None else None)
        return [(int(positions[i]), score) for i, score in found]

    def named_clauses(self, question: str, allowed: np.ndarray | None, limit: int) -> list[tuple[int, float]]:
        """Clauses the question names, with the clauses beneath them, in document order, up to limit."""
        found: list[int] = []
        for mention in mentions(question):
            exact, children = self.structures.references.lookup(mention.key)
            positions = [p for p in exact + children if allowed is None or allowed[p]]
            for p in self._narrow_to_named_document(question, positions):
                if p not in found:
                    found.append(p)
        return [(p, 1.0) for p in found[:limit]]

    def _narrow_to_named_document(self, question: str, positions: list[int]) -> list[int]:
        """Where several documents share a clause number ("Article 17"), keep those whose name the question uses."""
        docs = {self.index.clauses[p].version_id for p in positions}
        if len(docs) <= 1:
            return positions
        text = unicodedata.normalize("NFKC", question).lower()
        named = set()
        for vid in docs:
            d = self.index.documents[vid]
            sample = next(self.index.clauses[p] for p in positions if self.index.clauses[p].version_id == vid)
            short = sample.reference.split(" ")[0] if " " in sample.reference else ""
            if short.isdigit():  # "12" of "12 CFR 1002.9" would match any number; the doc_id names CFR parts
                short = ""
            names = {d.doc_id.lower(), d.title.lower(), unicodedata.normalize("NFKC", short).lower()}
            if any(len(name) >= 2 and name in text for name in names):
                named.add(vid)
        return [p for p in positions if self.index.clauses[p].version_id in named] if named else positions

    def _fuse(self, dense: Sequence[tuple[int, float]], lexical: Sequence[tuple[int, float]]) -> list[tuple[int, float, str]]:
        if not lexical:
            return [(p, s, "dense") for p, s in dense]
        if not dense:
            return [(p, s, "lexical") for p, s in lexical]
        scores: dict[int, float] = {}
        if self.settings.fusion == "rrf":
            for ranking in (dense, lexical):
                for rank, (p, _) in enumerate(ranking, start=1):
                    scores[p] = scores.get(p, 0.0) + 1.0 / (self.settings.rrf_k + rank)
        else:
            w = self.settings.dense_weight
            scores = dict.fromkeys({p for p, _ in dense} | {p for p, _ in lexical}, 0.0)
            for weight, ranking in ((w, dense), (1.0 - w, lexical)):
                z = _zscores(np.array([s for _, s in ranking], dtype=np.float64))
                got = {p: float(v) for (p, _), v in zip(ranking, z)}
                floor = float(z.min())  # a candidate this list did not return counts as its weakest member
                for p in scores:
                    scores[p] += weight * got.get(p, floor)
        in_dense, in_lexical = {p for p, _ in dense}, {p for p, _ in lexical}
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
        return [(p, s, "hybrid" if p in in_dense and p in in_lexical else "dense" if p in in_dense else "lexical")
                for p, s in ranked]

    def _rerank(self, question: str, fused: list[tuple[int, float, str]]) -> list[tuple[int, float, str]]:
        pool = fused[: self.settings.candidates]
        scores = self.reranker.scores(question, [self.index.clauses[p].text for p, _, _ in pool])
        order = sorted(range(len(pool)), key=lambda i: -scores[i])
        return [(pool[i][0], scores[i], "rerank") for i in order] + fused[len(pool):]

    def _hit(self, position: int, score: float, query_vector, dense_of: dict, lexical_of: dict, via: str,
             documents: Mapping[str, DocumentVersion]) -> Hit:
        clause = self.index.clauses[position]
        dense_score = dense_of.get(position)
        if dense_score is None and query_vector is not None:
            dense_score = float(np.dot(self.index.vector(position), query_vector))
        return Hit(clause, documents[clause.version_id], float(score), dense_score,
                   lexical_of.get(position), via)

    def parent_lead_in(self, child: Clause) -> Clause | None:
        """The clause a list item hangs from ("A creditor shall notify … within:" above "(iii) 30 days …")."""
        position = self.structures.parents.get(child.clause_id)
        return None if position is None else self.index.clauses[position]
