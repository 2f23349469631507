"""`regcite docs` (what is indexed) and `regcite search "query"` (top clauses by retrieval)."""
from __future__ import annotations

import json

SNIPPET = 160


def add_arguments(name: str, parser) -> None:
    if name == "search":
        parser.add_argument("query", help="what to look for")
        parser.add_argument("-k", type=int, default=None, help="how many clauses (default: settings.top_k)")
        parser.add_argument("--doc", action="append", default=[], metavar="DOC_ID", help="only this document (repeatable)")
    parser.add_argument("--json", action="store_true", help="print JSON")


def run(name: str, args, settings) -> int:
    if name == "docs":
        from rag.store import open_index

        return _docs(open_index(settings), args)
    return _search(args, settings)


def _docs(index, args) -> int:
    counts: dict[str, int] = {}
    for c in index.clauses:
        counts[c.version_id] = counts.get(c.version_id, 0) + 1
    rows = [
        {
            "doc_id": d.doc_id, "title": d.title, "kind": d.kind.value, "jurisdiction": d.jurisdiction,
            "language": d.language, "effective": d.effective_from.isoformat() if d.effective_from else "",
            "pages": d.pages, "clauses": counts.get(d.version_id, 0), "ingested": d.ingested_at,
            "version_id": d.version_id, "source_path": d.source_path,
        }
        for d in sorted(index.documents.values(), key=lambda d: (d.doc_id, d.source_path))
    ]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    columns = ("doc_id", "title", "kind", "jurisdiction", "language", "effective", "pages", "clauses", "ingested")
    table = [[_cut(str(r[c]), 48) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in table]) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    for row in table:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)))
    print(f"{len(rows)} documents, {len(index.clauses)} clauses, index generation {index.generation}")
    return 0


def _search(args, settings) -> int:
    from rag.errors import ConfigError
    from rag.pipeline import open_pipeline
    from rag.types import Filters

    pipeline = open_pipeline(settings)
    indexed = {v.doc_id for v in pipeline.index.documents.values()}
    unknown = [d for d in args.doc if d not in indexed]
    if unknown:
        raise ConfigError(f"no indexed document {', '.join(unknown)}; indexed: {', '.join(sorted(indexed))}")
    hits = pipeline.search(args.query, Filters(doc_ids=tuple(args.doc)), args.k)
    results = [
        {
            "reference": h.clause.reference, "document": h.document.title, "doc_id": h.document.doc_id,
            "pages": str(h.clause.page_span), "score": round(float(h.score), 4), "text": h.clause.text[:SNIPPET],
            "clause_id": h.clause.clause_id,
        }
        for h in hits
    ]
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=2))
        return 0
    if not results:
        print("no matching clauses")
    for i, r in enumerate(results, 1):
        print(f"{i}. {r['reference']}  ({r['document']}, {r['pages']})  score {r['score']:.3f}")
        print(f"   {' '.join(r['text'].split())}")
    return 0


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
