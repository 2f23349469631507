"""The stored clause alignment of consecutive versions: written once when a chain changes, read by diffs and impact."""
from __future__ import annotations

import sqlite3
from typing import Callable, Mapping, Sequence

from rag.reports import VersionImpact
from rag.types import ChangeKind, Clause, ClauseChange, DocumentVersion
from rag.versions import consecutive_pairs

Align = Callable[[Sequence[Clause], Sequence[Clause]], Sequence[ClauseChange]]


def load_changes(conn: sqlite3.Connection, from_version: str, to_version: str) -> tuple[ClauseChange, ...]:
    rows = conn.execute(
        "SELECT kind, from_clause_id, to_clause_id, editorial, similarity FROM lineage "
        "WHERE from_version = ? AND to_version = ? ORDER BY rowid", (from_version, to_version)).fetchall()
    return tuple(ClauseChange(ChangeKind(k), f, t, bool(e), float(s)) for k, f, t, e, s in rows)


def stored_pairs(conn: sqlite3.Connection) -> set[tuple[str, str]]:
    return set(conn.execute("SELECT DISTINCT from_version, to_version FROM lineage").fetchall())


def realign(conn: sqlite3.Connection, documents: Mapping[str, DocumentVersion],
            clauses_of: Callable[[str], list[Clause]], align: Align) -> tuple[VersionImpact, ...]:
    """Make the stored alignments those of the chains' consecutive pairs now: pairs no longer neighbours go, new
    neighbours are aligned. Returns what each newly aligned pair changed (the ingest's impact report)."""
    wanted = consecutive_pairs(documents)
    have = stored_pairs(conn)
    for old_pair in have - wanted:
        conn.execute("DELETE FROM lineage WHERE from_version = ? AND to_version = ?", old_pair)
    impacts = []
    for a, b in sorted(wanted - have, key=lambda p: (documents[p[1]].doc_id, documents[p[1]].effective_from)):
        changes = tuple(align(clauses_of(a), clauses_of(b)))
        conn.executemany(
            "INSERT INTO lineage (from_version, to_version, kind, from_clause_id, to_clause_id, editorial, similarity) "
            "VALUES (?,?,?,?,?,?,?)",
            [(a, b, c.kind.value, c.from_clause_id, c.to_clause_id, int(c.editorial), c.similarity) for c in changes])
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
