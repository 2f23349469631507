"""The stored clause alignment of consecutive versions: written once when a chain changes, read by diffs and impact."""
from __future__ import annotations

from typing import Callable, Mapping, Sequence

from rag.reports import VersionImpact
from rag.types import ChangeKind, Clause, ClauseChange, DocumentVersion
from rag.versions import consecutive_pairs

Align = Callable[[Sequence[Clause], Sequence[Clause]], Sequence[ClauseChange]]


def load_changes(conn, from_version: str, to_version: str) -> tuple[ClauseChange, ...]:
    """`conn`: a SQLAlchemy connection to the catalog (rag/catalog_db.py), either dialect."""
    from sqlalchemy import text

    # rowid: the order the alignment was written in (PostgreSQL's lineage names its identity column so, too)
    rows = conn.execute(text(
        "SELECT kind, from_clause_id, to_clause_id, editorial, similarity FROM lineage "
        "WHERE from_version = :a AND to_version = :b ORDER BY rowid"), {"a": from_version, "b": to_version}).all()
    return tuple(ClauseChange(ChangeKind(k), f, t, bool(e), float(s)) for k, f, t, e, s in rows)


def stored_pairs(conn) -> set[tuple[str, str]]:
    from sqlalchemy import text

    return {(a, b) for a, b in conn.execute(text("SELECT DISTINCT from_version, to_version FROM lineage"))}


def realign(conn, documents: Mapping[str, DocumentVersion],
            clauses_of: Callable[[str], list[Clause]], align: Align) -> tuple[VersionImpact, ...]:
    """Make the stored alignments those of the chains' consecutive pairs now: pairs no longer neighbours go, new
    neighbours are aligned. Returns what each newly aligned pair changed (the ingest's impact report)."""
    from sqlalchemy import text

    wanted = consecutive_pairs(documents)
    have = stored_pairs(conn)
    for a, b in have - wanted:
        conn.execute(text("DELETE FROM lineage WHERE from_version = :a AND to_version = :b"), {"a": a, "b": b})
    impacts = []
    for a, b in sorted(wanted - have, key=lambda p: (documents[p[1]].doc_id, documents[p[1]].effective_from)):
        changes = tuple(align(clauses_of(a), clauses_of(b)))
        if changes:  # an empty parameter list would run the INSERT once, unbound
            conn.execute(text(
                "INSERT INTO lineage (from_version, to_version, kind, from_clause_id, to_clause_id, editorial, "
                "similarity) VALUES (:a, :b, :kind, :f, :t, :editorial, :similarity)"),
                [{"a": a, "b": b, "kind": c.kind.value, "f": c.from_clause_id, "t": c.to_clause_id,
                  "editorial": int(c.editorial), "similarity": float(c.similarity)} for c in changes])
        impacts.append(impact_of(documents[a], documents[b], changes))
    return tuple(impacts)


def impact_of(older: DocumentVersion, newer: DocumentVersion, changes: Sequence[ClauseChange]) -> VersionImpact:
    def count(kind: ChangeKind, editorial: bool | None = None) -> int:
        return sum(c.kind is kind and (editorial is None or c.editorial is editorial) for c in changes)

    return VersionImpact(
        doc_id=newer.doc_id, from_version_id=older.version_id, to_version_id=newer.version_id,
        from_effective=older.effective_from, to_effective=newer.effective_from,
        added=count(ChangeKind.ADDED), removed=count(ChangeKind.REMOVED),
        substantive=count(ChangeKind.MODIFIED, False) + count(ChangeKind.MOVED, False),
        editorial=count(ChangeKind.MODIFIED, True) + count(ChangeKind.MOVED, True),
        unchanged=count(ChangeKind.UNCHANGED),
    )
