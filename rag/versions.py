"""Versions of an instrument: the chain ordered by effective date, each version's end date and status, and what
the versions after a date changed.

Everything here is derived from what the catalog stores (each version's doc_id, effective_from, format and ingest
time), so the chain comes out the same whatever order the files were ingested in.
"""
from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Iterable, Mapping, Sequence

from rag.formats import format_of
from rag.types import ChangeKind, DocumentVersion, Status

# The same version in two formats: one answers, the other is kept as an alternate. PDFs carry printed pages, which
# citations name, so they are preferred; then structure (HTML) over plain text.
FORMAT_PREFERENCE = ("pdf", "html", "markdown", "text")


def _preference(version: DocumentVersion) -> tuple[int, str]:
    fmt = format_of(version.source_path) or "text"
    rank = FORMAT_PREFERENCE.index(fmt) if fmt in FORMAT_PREFERENCE else len(FORMAT_PREFERENCE)
    return rank, version.version_id  # the version id breaks ties the same way on every machine


def place_versions(versions: Iterable[DocumentVersion], today: date) -> dict[str, DocumentVersion]:
    """Every version with effective_to and status filled in from its instrument's chain, by version_id."""
    by_doc: dict[str, list[DocumentVersion]] = defaultdict(list)
    for v in versions:
        by_doc[v.doc_id].append(v)
    placed: dict[str, DocumentVersion] = {}
    for doc_versions in by_doc.values():
        for v in _place_chain(doc_versions, today):
            placed[v.version_id] = v
    return placed


def _place_chain(versions: list[DocumentVersion], today: date) -> list[DocumentVersion]:
    dated: dict[date, list[DocumentVersion]] = defaultdict(list)
    undated: list[DocumentVersion] = []
    for v in versions:
        (dated[v.effective_from] if v.effective_from else undated).append(v)
    out: list[DocumentVersion] = []
    starts = sorted(dated)
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else None
        primary, *alternates = sorted(dated[start], key=_preference)
        if start > today:
            status = Status.NOT_YET_IN_FORCE
        elif end is not None and end <= today:
            status = Status.SUPERSEDED
        else:
            status = Status.IN_FORCE
        out.append(dataclasses.replace(primary, effective_to=end, status=status))
        out += [dataclasses.replace(a, effective_to=end, status=Status.ALTERNATE) for a in alternates]
    if undated:
        if starts:  # cannot be placed among dated versions: kept and shown, never answers
            out += [dataclasses.replace(v, effective_to=None, status=Status.UNPLACED) for v in undated]
        else:  # the latest ingested is the instrument's text; earlier ones were superseded by it
            latest = max(undated, key=lambda v: (v.ingested_at, v.version_id))
            out += [dataclasses.replace(v, effective_to=None, status=Status.DATES_UNKNOWN if v is latest
                                        else Status.SUPERSEDED) for v in undated]
    return out


def place_within(documents: Mapping[str, DocumentVersion], collections: frozenset[str],
                 today: date) -> dict[str, DocumentVersion]:
    """The versions in `collections`, placed in chains of their own: what a reader of only those collections sees.
    A version in a collection they may not read neither supersedes nor dates one they may (nor is hinted at)."""
    return place_versions((v for v in documents.values() if v.collection in collections), today)


def chain(documents: Mapping[str, DocumentVersion], doc_id: str) -> tuple[DocumentVersion, ...]:
    """The versions of one instrument, oldest first: dated by effective_from (an alternate after its primary),
    then undated ones by ingest time."""
    versions = [v for v in documents.values() if v.doc_id == doc_id]
    return tuple(sorted(versions, key=lambda v: (v.effective_from is None, v.effective_from or date.min,
                                                 v.status is Status.ALTERNATE, v.ingested_at, v.version_id)))


def answering_chain(documents: Mapping[str, DocumentVersion], doc_id: str) -> tuple[DocumentVersion, ...]:
    """The versions that answer for some date, oldest first: what consecutive diffs and lineage run over."""
    return tuple(v for v in chain(documents, doc_id) if v.status not in (Status.ALTERNATE, Status.UNPLACED))


def consecutive_pairs(documents: Mapping[str, DocumentVersion]) -> set[tuple[str, str]]:
    """(older version_id, newer version_id) for every two neighbours in every instrument's answering chain."""
    pairs: set[tuple[str, str]] = set()
    for doc_id in {v.doc_id for v in documents.values()}:
        ordered = [v for v in answering_chain(documents, doc_id) if v.effective_from is not None]
        pairs |= {(a.version_id, b.version_id) for a, b in zip(ordered, ordered[1:])}
    return pairs


def in_force_on(documents: Mapping[str, DocumentVersion], doc_id: str, day: date) -> DocumentVersion | None:
    return next((v for v in chain(documents, doc_id) if v.answers_on(day)), None)


@dataclass(frozen=True)
class Unavailable:
    """An instrument with no version answering on a date, and the nearest dates that would."""

    doc_id: str
    day: date
    earliest: date | None  # the first version's effective_from
    latest: date | None  # the last version's effective_from

    def __str__(self) -> str:
        text = f"{self.doc_id} has no version in force on {self.day.isoformat()}"
        if self.earliest and self.day < self.earliest:
            return f"{text}; the earliest indexed is effective {self.earliest.isoformat()}"
        if self.latest and self.day >= self.latest:
            return f"{text}; the latest indexed is effective {self.latest.isoformat()}"
        return text


def unavailable_on(documents: Mapping[str, DocumentVersion], doc_ids: Iterable[str], day: date) -> list[Unavailable]:
    """The instruments among doc_ids that have no version answering on day."""
    out = []
    for doc_id in sorted(set(doc_ids)):
        versions = chain(documents, doc_id)
        if versions and not any(v.answers_on(day) for v in versions):
            dates = [v.effective_from for v in versions if v.effective_from]
            out.append(Unavailable(doc_id, day, min(dates, default=None), max(dates, default=None)))
    return out


@dataclass(frozen=True)
class ChangedClause:
    """A clause in force on a date that a later version changed substantively or removed."""

    doc_id: str
    clause_id: str  # in the version in force on the date
    reference: str
    kind: ChangeKind  # MODIFIED, MOVED or REMOVED
    by_version_id: str  # the first later version that changed it
    effective_from: date | None  # that version's


def changed_since(documents: Mapping[str, DocumentVersion], changes_of, clauses_by_id: Mapping[str, object],
                  day: date, doc_ids: Sequence[str] = ()) -> list[ChangedClause]:
    """Clause lineages that versions effective after `day` changed substantively or removed.

    `changes_of(from_version_id, to_version_id)` gives the stored alignment of two consecutive versions (the
    index's `changes`). A lineage is followed through unchanged and editorial steps; its first substantive change
    or removal is reported once, against the clause as it read on `day`.
    """
    out: list[ChangedClause] = []
    for doc_id in sorted(set(doc_ids) or {v.doc_id for v in documents.values()}):
        ordered = [v for v in answering_chain(documents, doc_id) if v.effective_from is not None]
        start = next((i for i, v in enumerate(ordered) if v.answers_on(day)), None)
        if start is None:
            continue
        following = {c.clause_id: c.clause_id for c in clauses_by_id.values()
                     if getattr(c, "version_id", None) == ordered[start].version_id}
        for older, newer in zip(ordered[start:], ordered[start + 1:]):
            changes = changes_of(older.version_id, newer.version_id)  # once per pair: each read opens the catalog
            steps: dict[str, list[str]] = defaultdict(list)
            for change in changes:
                if change.from_clause_id is None:
                    continue
                if change.kind is ChangeKind.REMOVED or (
                        change.kind in (ChangeKind.MODIFIED, ChangeKind.MOVED) and not change.editorial):
                    steps[change.from_clause_id].append("")  # the lineage ends here as changed
                elif change.to_clause_id:
                    steps[change.from_clause_id].append(change.to_clause_id)
            moved_on: dict[str, str] = {}
            for origin, current in following.items():
                nexts = steps.get(current, [])
                if "" in nexts or not nexts:
                    kind = _kind_of(changes, current)
                    if kind is not None:
                        first = clauses_by_id[origin]
                        out.append(ChangedClause(doc_id, origin, first.reference, kind, newer.version_id,
                                                 newer.effective_from))
                    continue
                moved_on[origin] = nexts[0]
            following = moved_on
    return out


def _kind_of(changes, clause_id: str) -> ChangeKind | None:
    kinds = [c.kind for c in changes if c.from_clause_id == clause_id and not c.editorial
             and c.kind in (ChangeKind.MODIFIED, ChangeKind.MOVED, ChangeKind.REMOVED)]
    if ChangeKind.REMOVED in kinds:
        return ChangeKind.REMOVED
    return kinds[0] if kinds else None
