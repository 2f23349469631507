"""`regcite docs` (what is indexed) and `regcite search "query"` (top clauses by retrieval)."""
from __future__ import annotations

import importlib.util
import json

SNIPPET = 160


def add_arguments(name: str, parser) -> None:
    if name == "search":
        parser.add_argument("query", help="what to look for")
        parser.add_argument("-k", type=int, default=None, help="how many clauses (default: settings.top_k)")
        parser.add_argument("--doc", action="append", default=[], metavar="DOC_ID", help="only this document (repeatable)")
    parser.add_argument("--json", action="store_true", help="print JSON")


def run(name: str, args, settings) -> int:
    from rag.store import open_index

    index = open_index(settings)
    return _docs(index, args) if name == "docs" else _search(index, args, settings)


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


def _search(index, args, settings) -> int:
    from rag.embed import load_embedder
    from rag.types import Filters

    k = args.k or settings.top_k
    embedder = load_embedder(settings)
    index.check_model(embedder.name)
    unknown = [d for d in args.doc if d not in {v.doc_id for v in index.documents.values()}]
    if unknown:
        from rag.errors import ConfigError

        known = ", ".join(sorted({v.doc_id for v in index.documents.values()}))
        raise ConfigError(f"no indexed document {', '.join(unknown)}; indexed: {known}")
    filters = Filters(doc_ids=tuple(args.doc))
    if importlib.util.find_spec("rag.retrieve") is not None:
        from rag.retrieve import Retriever

        hits = Retriever(index, embedder, settings).retrieve(args.query, filters=filters, k=k)
        rows = [(h.clause, h.document, h.score) for h in hits]
    else:
        rows = _dense(index, embedder, args.query, filters, k)
    results = [
        {
            "reference": c.reference, "document": d.title, "doc_id": d.doc_id, "pages": str(c.page_span),
            "score": round(float(s), 4), "text": c.text[:SNIPPET], "clause_id": c.clause_id,
        }
        for c, d, s in rows
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


def _dense(index, embedder, query, filters, k):
    import numpy as np

    allowed = None
    if filters.doc_ids:
        allowed = np.array([filters.admits(index.document_of(c)) for c in index.clauses], dtype=bool)
    hits = index.search(embedder.embed_query(query)[None, :], k, allowed)[0]
    return [(index.clauses[p], index.document_of(index.clauses[p]), s) for p, s in hits]


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
