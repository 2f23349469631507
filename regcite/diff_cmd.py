"""`regcite diff DOC_ID [--from DATE|VERSION] [--to DATE|VERSION]`: what changed between two versions, clause by clause."""
from __future__ import annotations

import json
import re

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
CONTEXT = 12  # unchanged words shown beside each edit of a redline
HEADINGS = {"added": "Added", "removed": "Removed", "modified": "Modified", "moved": "Moved"}


def add_arguments(name: str, parser) -> None:
    parser.add_argument("doc_id", metavar="DOC_ID", help="the instrument, as `regcite docs` lists it")
    parser.add_argument("--from", dest="from_", metavar="DATE|VERSION",
                        help="the older version: the one in force that day, or its version id (default: the one before --to)")
    parser.add_argument("--to", metavar="DATE|VERSION", help="the newer version (default: the latest)")
    parser.add_argument("--json", action="store_true", help="print JSON")


def run(name: str, args, settings) -> int:
    from rag.store import open_index
    from regcite.ask_cmd import reader_access

    index = reader_access(args, settings).view(open_index(settings))  # a hidden version is as if never ingested
    older, newer = _endpoints(index.documents, args.doc_id, args.from_, args.to)
    shown = changes_between(index, older, newer)
    if args.json:
        print(json.dumps(as_json(args.doc_id, older, newer, shown), ensure_ascii=False, indent=2))
    else:
        print(as_text(args.doc_id, older, newer, shown))
    return 0


def _endpoints(documents, doc_id: str, start: str | None, end: str | None):
    from rag.errors import ConfigError
    from rag.versions import answering_chain

    known = sorted({v.doc_id for v in documents.values()})
    if doc_id not in known:
        raise ConfigError(f"no indexed document {doc_id!r}; indexed: {', '.join(known)}")
    # Consecutive versions are aligned at ingest only where both have an effective date to order them by.
    ordered = [v for v in answering_chain(documents, doc_id) if v.effective_from is not None]
    if len(ordered) < 2:
        raise ConfigError(f"{doc_id} has {len(ordered)} dated version{'s' * (len(ordered) != 1)}; a diff needs two "
                          "(ingest another version, with --effective-from where the file names no date)")
    last = _resolve(documents, doc_id, ordered, end, "--to") if end else len(ordered) - 1
    first = _resolve(documents, doc_id, ordered, start, "--from") if start else max(last - 1, 0)
    if first >= last:
        raise ConfigError(f"--from ({_label(ordered[first])}) must be older than --to ({_label(ordered[last])})")
    return ordered[first], ordered[last]


def _resolve(documents, doc_id: str, ordered, given: str, flag: str) -> int:
    """Index into ordered of the version named by a date (the one in force that day) or a version id (or prefix)."""
    from datetime import date

    from rag.errors import ConfigError
    from rag.versions import unavailable_on

    if _DATE.match(given):
        try:
            day = date.fromisoformat(given)
        except ValueError:
            raise ConfigError(f"{flag} {given!r} is not a date (YYYY-MM-DD)") from None
        for i, v in enumerate(ordered):
            if v.answers_on(day):
                return i
        gone = unavailable_on(documents, [doc_id], day)
        raise ConfigError(f"{flag} {given}: {gone[0] if gone else f'{doc_id} has no version in force that day'}")
    ids = {v.version_id: v for v in documents.values() if v.doc_id == doc_id and v.version_id.startswith(given)}
    if len(ids) > 1:
        raise ConfigError(f"{flag} {given} names {len(ids)} versions of {doc_id}; give more of the id")
    if not ids:
        raise ConfigError(f"{flag} {given}: not a date (YYYY-MM-DD) nor a version id of {doc_id}; "
                          f"`regcite docs {doc_id!r}` lists them")
    (version,) = ids.values()
    # The same version in another format (an alternate) reads as the version that answers for its date.
    for i, v in enumerate(ordered):
        if v.version_id == version.version_id or (v.effective_from and v.effective_from == version.effective_from):
            return i
    raise ConfigError(f"{flag} {given}: version {version.version_id} has no effective date to place it in the chain")


def changes_between(index, older, newer):
    """The diff by reference, from the alignments stored at ingest for each consecutive pair in between."""
    from rag.errors import ConfigError
    from rag.lineage import by_reference, compose
    from rag.versions import answering_chain

    ordered = [v for v in answering_chain(index.documents, older.doc_id) if v.effective_from is not None]
    ids = [v.version_id for v in ordered]
    run = ids[ids.index(older.version_id): ids.index(newer.version_id) + 1]
    steps = []
    for a, b in zip(run, run[1:]):
        step = index.changes(a, b)
        if not step:
            raise ConfigError(f"no stored alignment of versions {a} and {b}; run `regcite ingest` again to write it")
        steps.append(step)
    old = [c for c in index.clauses if c.version_id == older.version_id]
    new = [c for c in index.clauses if c.version_id == newer.version_id]
    changes = steps[0] if len(steps) == 1 else compose(old, new, steps)
    return by_reference(old, new, changes)


def _side(version) -> dict:
    return {"version_id": version.version_id,
            "effective_from": version.effective_from.isoformat() if version.effective_from else None}


def summary(shown) -> dict[str, int]:
    counts = {kind: sum(r.kind.value == kind for r in shown) for kind in HEADINGS}
    counts["editorial"] = sum(r.editorial for r in shown if r.kind.value == "modified")
    return counts


def as_json(doc_id: str, older, newer, shown) -> dict:
    return {
        "doc_id": doc_id, "from": _side(older), "to": _side(newer), "summary": summary(shown),
        "changes": [{"kind": r.kind.value, "editorial": r.editorial, "from_ref": r.from_ref, "to_ref": r.to_ref,
                     "old_text": r.old_text or None, "new_text": r.new_text or None} for r in shown],
    }


def _label(version) -> str:
    day = version.effective_from.isoformat() if version.effective_from else "undated"
    return f"{day} ({version.version_id})"


def as_text(doc_id: str, older, newer, shown) -> str:
    """Plain text: a count line, then each kind's changes, modified and moved ones as a word redline."""
    from rag.redline import redline, render

    counts = summary(shown)
    lines = [f"{doc_id}: {_label(older)} -> {_label(newer)}",
             f"{counts['added']} added, {counts['removed']} removed, {counts['modified']} modified "
             f"({counts['editorial']} editorial), {counts['moved']} moved"]
    if not shown:
        lines.append("no clause changed")
    for kind, heading in HEADINGS.items():
        rows = [r for r in shown if r.kind.value == kind]
        if rows:
            lines += ["", f"{heading} ({len(rows)})"]
        for r in rows:
            if kind == "added":
                lines += [f"+ {r.to_ref}", f"    {r.new_text}"]
            elif kind == "removed":
                lines += [f"- {r.from_ref}", f"    {r.old_text}"]
            else:
                name = r.to_ref if kind == "modified" else f"{r.from_ref} -> {r.to_ref}"
                tag = " (editorial)" if r.editorial else ""
                lines += [f"~ {name}{tag}", f"    {render(redline(r.old_text, r.new_text), context=CONTEXT)}"]
    return "\n".join(lines)
