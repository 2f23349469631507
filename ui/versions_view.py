"""Pure views of an instrument's versions: its chain as rows, and the changes between two versions as redlines."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Callable, Mapping, Sequence
from urllib.parse import quote

from rag.formats import format_of
from rag.lineage import by_reference
from rag.redline import is_editorial, redline, same_text
from rag.types import ChangeKind, Clause, ClauseChange, DocumentVersion, Status
from ui.render import escape_run, file_name, md_escape

STATUS_LABEL = {
    Status.IN_FORCE: "in force",
    Status.SUPERSEDED: "superseded",
    Status.NOT_YET_IN_FORCE: "not yet in force",
    Status.DATES_UNKNOWN: "dates unknown",
    Status.UNPLACED: "undated beside dated versions: never answers",
    Status.ALTERNATE: "the same version in another format: never answers",
}
DATED_BY = {"user": "stated at ingest", "document": "the document", "": "unknown"}
# The order of the counts and of the diff itself (rag.lineage.by_reference lists changes in this order).
KINDS = (ChangeKind.ADDED, ChangeKind.REMOVED, ChangeKind.MODIFIED, ChangeKind.MOVED)
_BADGE = {
    # colour, icon and word all differ, so the kind survives colour blindness
    ChangeKind.ADDED: ("green", "add_circle", "Added"),
    ChangeKind.REMOVED: ("red", "do_not_disturb_on", "Removed"),
    ChangeKind.MODIFIED: ("orange", "edit", "Modified"),
    ChangeKind.MOVED: ("blue", "move_down", "Moved"),
}


def version_label(v: DocumentVersion) -> str:
    """How a version reads in a picker: its dates, status and file."""
    dates = f"effective {v.effective_from.isoformat()}" if v.effective_from else "undated"
    return f"{dates} · {STATUS_LABEL[v.status]} · {file_name(v.source_path)}"


def chain_rows(versions: Sequence[DocumentVersion], clause_counts: Mapping[str, int]) -> list[dict]:
    """Rows of the chain table, oldest first; every cell plain text or a number (a grid shows it literally)."""
    return [
        {
            "Effective from": v.effective_from.isoformat() if v.effective_from else "unknown",
            "Effective to": v.effective_to.isoformat() if v.effective_to else "–",
            "Status": STATUS_LABEL[v.status], "Date from": DATED_BY.get(v.effective_source, v.effective_source),
            "Clauses": clause_counts.get(v.version_id, 0), "Pages": v.pages, "File": file_name(v.source_path),
            "Version": v.version_id, "Ingested": v.ingested_at.replace("T", " ")[:16],
        }
        for v in versions
    ]


def comparable(versions: Sequence[DocumentVersion]) -> list[DocumentVersion]:
    """The versions the store aligns with their neighbours: dated ones that answer for some date, oldest first."""
    return [v for v in versions if v.effective_from is not None and v.status not in (Status.ALTERNATE, Status.UNPLACED)]


def compose(steps: Sequence[Sequence[ClauseChange]], clauses: Mapping[str, Clause]) -> tuple[ClauseChange, ...]:
    """The changes from the first to the last of a run of consecutive versions, each clause followed through the
    stored alignment of every step between them; a single step is returned as stored.

    A clause whose lineage reaches the last version under another reference has moved; under its own, it is
    modified unless its text is (again) the same. A lineage that ends on the way is removed; a clause of the last
    version that no lineage reaches is added.
    """
    if len(steps) == 1:
        return tuple(steps[0])
    paths = {(c.from_clause_id, c.from_clause_id): None for c in steps[0] if c.from_clause_id}
    for step in steps:
        onward: dict[str, list[str]] = defaultdict(list)
        for c in step:
            if c.from_clause_id and c.to_clause_id:
                onward[c.from_clause_id].append(c.to_clause_id)
        paths = {(origin, nxt): None for origin, current in paths for nxt in onward.get(current, ())}
    out = []
    for origin, last in paths:
        a, b = clauses[origin], clauses[last]
        if a.reference != b.reference:
            kind = ChangeKind.MOVED
        else:
            kind = ChangeKind.UNCHANGED if same_text(a.text, b.text) else ChangeKind.MODIFIED
        similarity = SequenceMatcher(None, a.text.split(), b.text.split(), autojunk=False).ratio()
        out.append(ClauseChange(kind, origin, last, kind is not ChangeKind.UNCHANGED and is_editorial(a.text, b.text),
                                1.0 if kind is ChangeKind.UNCHANGED else round(similarity, 4)))
    reached = {o for o, _ in paths}, {n for _, n in paths}
    out += [ClauseChange(ChangeKind.REMOVED, c.from_clause_id, None, False, 0.0) for c in steps[0]
            if c.from_clause_id and c.from_clause_id not in reached[0]]
    last_ids = dict.fromkeys(c.to_clause_id for c in steps[-1] if c.to_clause_id)
    out += [ClauseChange(ChangeKind.ADDED, None, cid, False, 0.0) for cid in last_ids if cid not in reached[1]]
    return tuple(dict.fromkeys(out))


@dataclass(frozen=True)
class Side:
    """Where a changed reference stands in one of the two versions."""

    reference: str
    clause_id: str  # the reference's first clause: the link into the clause browser opens it
    page: str  # "p. 14" where the version is a PDF (Markdown and HTML have no printed pages), else ""


@dataclass(frozen=True)
class ChangeView:
    kind: ChangeKind  # ADDED, REMOVED, MODIFIED or MOVED
    editorial: bool  # the texts differ only in whitespace, punctuation or typography
    old: Side | None  # None for ADDED
    new: Side | None  # None for REMOVED
    body_md: str  # escaped: the redline of a modified or moved reference, the text of an added or removed one


@dataclass(frozen=True)
class Diff:
    older: str  # version ids
    newer: str
    steps: int  # consecutive alignments composed: 1 for neighbours
    changes: tuple[ChangeView, ...]
    unchanged: int  # references in both versions whose text did not change


def _sides(version: DocumentVersion, clauses: Sequence[Clause]) -> dict[str, Side]:
    groups: dict[str, list[Clause]] = defaultdict(list)
    for c in sorted(clauses, key=lambda c: (c.ordinal, c.part)):
        groups[c.reference].append(c)
    is_pdf = format_of(version.source_path) == "pdf"
    out = {}
    for ref, group in groups.items():
        first, last = min(c.page_span.first for c in group), max(c.page_span.last for c in group)
        page = (f"p. {first}" if first == last else f"pp. {first}-{last}") if is_pdf else ""
        out[ref] = Side(ref, group[0].clause_id, page)
    return out


def redline_md(old: str, new: str) -> str:
    """Escaped Markdown of a word-level redline: deletions struck through on red, insertions bold on green."""
    out = []
    for e in redline(old, new):
        if e.op == "equal":
            out.append(escape_run(e.text))
            continue
        lead = " " if e.text[:1].isspace() else ""
        body = md_escape(e.text)
        out.append(f"{lead}:red-background[~~{body}~~]" if e.op == "delete" else f"{lead}:green-background[**{body}**]")
    return "".join(out).strip()


def diff(older: DocumentVersion, newer: DocumentVersion, run: Sequence[str], clauses_of: Callable[[str], list[Clause]],
         changes_of: Callable[[str, str], Sequence[ClauseChange]]) -> Diff:
    """What changed from older to newer; run is the version ids of the chain from one to the other, both included.
    changes_of(a, b) is the stored alignment of two neighbours (the index's `changes`)."""
    by_version = {v: clauses_of(v) for v in run}
    steps = [changes_of(a, b) for a, b in zip(run, run[1:])]
    changes = compose(steps, {c.clause_id: c for cs in by_version.values() for c in cs})
    old, new = by_version[run[0]], by_version[run[-1]]
    sides_old, sides_new = _sides(older, old), _sides(newer, new)
    views = []
    for r in by_reference(old, new, changes):
        if r.kind in (ChangeKind.MODIFIED, ChangeKind.MOVED):
            body = redline_md(r.old_text, r.new_text)
        else:
            body = md_escape(r.new_text or r.old_text)
        views.append(ChangeView(r.kind, r.editorial, sides_old.get(r.from_ref) if r.from_ref else None,
                                sides_new.get(r.to_ref) if r.to_ref else None, body))
    views.sort(key=_reading_order(old, new, changes))
    by_id = {c.clause_id: c for c in old}
    kept = {by_id[c.from_clause_id].reference for c in changes if c.kind is ChangeKind.UNCHANGED}
    unchanged = len(kept - {v.old.reference for v in views if v.old and v.kind is not ChangeKind.MOVED})
    return Diff(run[0], run[-1], len(steps), tuple(views), unchanged)


def _reading_order(old: Sequence[Clause], new: Sequence[Clause], changes: Sequence[ClauseChange]):
    """A sort key putting changes in the newer version's document order, a removed reference where it stood: after
    the last clause before it that the newer version kept."""
    at_new = {c.reference: c.ordinal for c in sorted(new, key=lambda c: c.ordinal, reverse=True)}  # first clause
    ordinal = {c.clause_id: c.ordinal for c in new}
    kept = {c.from_clause_id: ordinal[c.to_clause_id] for c in changes if c.from_clause_id and c.to_clause_id
            and c.kind is not ChangeKind.MOVED}
    after: dict[str, int] = {}
    last = -1
    for c in sorted(old, key=lambda c: c.ordinal):
        last = kept.get(c.clause_id, last)
        after.setdefault(c.reference, last)

    def key(change: ChangeView) -> tuple[int, int]:
        if change.new is not None:
            return at_new[change.new.reference], 0
        return after[change.old.reference], 1

    return key


def counts(changes: Sequence[ChangeView]) -> dict[str, int]:
    """Substantive changes by kind, then the editorial ones (of any kind) apart."""
    out = {_BADGE[k][2]: sum(c.kind is k and not c.editorial for c in changes) for k in KINDS}
    out["Editorial"] = sum(c.editorial for c in changes)
    return out


def kind_badge(change: ChangeView) -> str:
    colour, icon, label = _BADGE[change.kind]
    badge = f":{colour}-badge[:material/{icon}: {label}]"
    return badge + (" :gray-badge[editorial]" if change.editorial else "")


def clause_link(clause_id: str) -> str:
    """A link to the clause in the Library's clause browser (the page reads the query parameter)."""
    return f"?clause={quote(clause_id, safe='')}"


def _side_md(side: Side | None, missing: str) -> str:
    if side is None:
        return f":gray[{missing}]"
    page = f" :gray[{side.page}]" if side.page else ""
    return f"[{md_escape(side.reference)}]({clause_link(side.clause_id)}){page}"


def header_md(change: ChangeView) -> str:
    """The change's kind and the clause it concerns in both versions, each a link into the clause browser."""
    return (f"{kind_badge(change)} {_side_md(change.old, 'not in the older version')} → "
            f"{_side_md(change.new, 'not in the newer version')}")
