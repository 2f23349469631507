"""An index snapshot as one reader may list it: only the versions of their collections, placed in chains of their
own. It has no search: retrieval masks positions of the full snapshot instead (rag.retrieve, Filters.collections)."""
from __future__ import annotations

from datetime import date

from rag.types import Clause, ClauseChange, DocumentVersion
from rag.versions import place_within


class IndexView:
    """What browsing reads of an Index (documents, clauses, texts, stored changes), limited to `collections`.
    A hidden clause or version is as absent as one never ingested: KeyError, like the Index itself."""

    def __init__(self, index, collections: frozenset[str]):
        self._index = index
        self.collections = frozenset(collections)
        self.generation = index.generation
        self.model_name = index.model_name
        self.dim = index.dim
        self.index_dir = index.index_dir
        self.documents: dict[str, DocumentVersion] = place_within(index.documents, self.collections, date.today())
        self.clauses: list[Clause] = [c for c in index.clauses if c.version_id in self.documents]
        self._by_id = {c.clause_id: c for c in self.clauses}

    def clause(self, clause_id: str) -> Clause:
        return self._by_id[clause_id]

    def document_of(self, clause: Clause) -> DocumentVersion:
        return self.documents[clause.version_id]

    def text_of(self, version_id: str) -> str:
        if version_id not in self.documents:
            raise KeyError(f"document version {version_id} is no longer in the index; reopen it")
        return self._index.text_of(version_id)

    def changes(self, from_version_id: str, to_version_id: str) -> tuple[ClauseChange, ...]:
        """The stored alignment; two versions that are neighbours only here (a hidden version lies between them in
        the full chain) are aligned now, as ingest would have."""
        if from_version_id not in self.documents or to_version_id not in self.documents:
            return ()
        stored = self._index.changes(from_version_id, to_version_id)
        if stored:
            return stored
        from rag.lineage import align_versions

        return align_versions([c for c in self.clauses if c.version_id == from_version_id],
                              [c for c in self.clauses if c.version_id == to_version_id])
