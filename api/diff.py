"""What changed between two versions of an instrument, by reference, from the lineage stored at ingest."""
from __future__ import annotations

from datetime import date

from api.errors import bad_input, not_found
from api.schemas import DiffOut


def diff(index, doc_id: str, start: str | None, end: str | None) -> DiffOut:
    """`start`/`end`: a date (the version in force that day) or a version id (or a unique start of one); by default
    the latest version and the one before it."""
    from rag.lineage import by_reference, compose
    from rag.versions import answering_chain

    if doc_id not in {v.doc_id for v in index.documents.values()}:
        raise not_found(f"indexed document {doc_id!r}", "GET /v1/documents lists them")
    # consecutive versions are aligned at ingest only where both have an effective date to order them by
    ordered = [v for v in answering_chain(index.documents, doc_id) if v.effective_from is not None]
    if len(ordered) < 2:
        raise bad_input(f"{doc_id} has {len(ordered)} dated version{'s' * (len(ordered) != 1)}; a diff needs two")
    last = _position(ordered, end, "to") if end else len(ordered) - 1
    first = _position(ordered, start, "from") if start else max(last - 1, 0)
    if first >= last:
        raise bad_input(f"`from` ({ordered[first].version_id}) must be older than `to` ({ordered[last].version_id})")
    run = ordered[first: last + 1]
    steps = []
    for a, b in zip(run, run[1:]):
        step = index.changes(a.version_id, b.version_id)
        if not step:
            raise bad_input(f"no stored alignment of versions {a.version_id} and {b.version_id}; run "
                            "`regcite ingest` again to write it")
        steps.append(step)
    old = [c for c in index.clauses if c.version_id == run[0].version_id]
    new = [c for c in index.clauses if c.version_id == run[-1].version_id]
    rows = by_reference(old, new, steps[0] if len(steps) == 1 else compose(old, new, steps))
    summary = {kind: sum(r.kind.value == kind for r in rows) for kind in ("added", "removed", "modified", "moved")}
    summary["editorial"] = sum(r.editorial for r in rows if r.kind.value == "modified")
    return DiffOut(
        doc_id=doc_id, summary=summary,
        from_version={"version_id": run[0].version_id, "effective_from": run[0].effective_from},
        to_version={"version_id": run[-1].version_id, "effective_from": run[-1].effective_from},
        changes=[{"kind": r.kind.value, "editorial": r.editorial, "from_ref": r.from_ref, "to_ref": r.to_ref,
                  "old_text": r.old_text or None, "new_text": r.new_text or None} for r in rows])


def _position(ordered, given: str, name: str) -> int:
    try:
        day = date.fromisoformat(given) if len(given) == 10 and given[4] == "-" else None
    except ValueError:
        raise bad_input(f"`{name}` {given!r} is not a date (YYYY-MM-DD)") from None
    if day is not None:
        for i, v in enumerate(ordered):
            if v.answers_on(day):
                return i
        raise bad_input(f"`{name}` {given}: no dated version of {ordered[0].doc_id} is in force that day")
    found = [i for i, v in enumerate(ordered) if v.version_id.startswith(given.strip())] if given.strip() else []
    if len(found) != 1:
        raise bad_input(f"`{name}` {given!r} names {len(found)} dated versions of {ordered[0].doc_id}; give a date "
                        "or a version id from GET /v1/documents/{doc_id}/versions")
    return found[0]
