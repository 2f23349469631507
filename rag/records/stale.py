"""Staleness: a cited clause that a later version of its document changed substantively or removed."""
from __future__ import annotations

import weakref
from dataclasses import dataclass
from datetime import date

from rag.records.answers import AnswerRecord
from rag.types import ChangeKind

_CACHE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # index snapshot -> {version_id: {clause: Stale}}


@dataclass(frozen=True)
class Stale:
    clause_id: str
    reference: str
    kind: ChangeKind  # MODIFIED, MOVED or REMOVED
    by_version_id: str
    effective_from: date | None  # the amending version's

    def __str__(self) -> str:
        verb = "removed" if self.kind is ChangeKind.REMOVED else "amended"
        when = self.effective_from.isoformat() if self.effective_from else "date unknown"
        return f"stale: cited clause {verb}, effective {when}"


def stale_citations(index, answer: AnswerRecord) -> dict[str, Stale]:
    """clause_id -> Stale for the answer's cited clauses that the index's later versions changed."""
    out: dict[str, Stale] = {}
    for cited in answer.cited:
        changed = _changed_in(index, cited.version_id)
        if cited.clause_id in changed:
            out[cited.clause_id] = changed[cited.clause_id]
    return out


def first_stale(index, answer: AnswerRecord) -> Stale | None:
    """The earliest-effective change among the answer's stale citations: the flag a list shows."""
    found = sorted(stale_citations(index, answer).values(), key=lambda s: s.effective_from or date.max)
    return found[0] if found else None


def _changed_in(index, version_id: str) -> dict[str, Stale]:
    from rag.versions import changed_since

    per_index = _CACHE.setdefault(index, {})
    if version_id in per_index:
        return per_index[version_id]
    version = index.documents.get(version_id)
    if version is None or version.effective_from is None:  # pruned, or undated: nothing follows it in a chain
        per_index[version_id] = {}
        return per_index[version_id]
    clauses = {c.clause_id: c for c in index.clauses if c.version_id == version_id}
    found = changed_since(index.documents, index.changes, clauses, version.effective_from, (version.doc_id,))
    per_index[version_id] = {c.clause_id: Stale(c.clause_id, c.reference, c.kind, c.by_version_id, c.effective_from)
                             for c in found}
    return per_index[version_id]
