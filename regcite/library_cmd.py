"""`regcite docs [DOC_ID]` (what is indexed: each instrument's chain of versions) and `regcite search "query"`."""
from __future__ import annotations

import json

SNIPPET = 160


def add_arguments(name: str, parser) -> None:
    if name == "search":
        parser.add_argument("query", help="what to look for")
        parser.add_argument("-k", type=int, default=None, help="how many clauses (default: settings.top_k)")
        parser.add_argument("--doc", action="append", default=[], metavar="DOC_ID", help="only this document (repeatable)")
        parser.add_argument("--as-of", metavar="DATE", help="search the versions in force that day (default: today)")
    else:
        parser.add_argument("doc_id", nargs="?", metavar="DOC_ID", help="one instrument's chain of versions")
    parser.add_argument("--json", action="store_true", help="print JSON")


def run(name: str, args, settings) -> int:
    from regcite.ask_cmd import reader_access

    if name == "docs":
        from rag.store import open_index

        index = open_index(settings)
        return _docs(reader_access(args, settings).view(index), args)
    return _search(args, settings)


def _docs(index, args) -> int:
    from rag.errors import ConfigError
    from rag.versions import chain

    counts: dict[str, int] = {}
    for c in index.clauses:
        counts[c.version_id] = counts.get(c.version_id, 0) + 1
    doc_ids = sorted({d.doc_id for d in index.documents.values()})
    if args.doc_id:
        if args.doc_id not in doc_ids:
            raise ConfigError(f"no indexed document {args.doc_id!r}; indexed: {', '.join(doc_ids)}")
        doc_ids = [args.doc_id]
    instruments = []
    for doc_id in doc_ids:
        versions = chain(index.documents, doc_id)
        latest = versions[-1]
        instruments.append({
            "doc_id": doc_id, "title": latest.title, "kind": latest.kind.value, "jurisdiction": latest.jurisdiction,
            "language": latest.language,
            "versions": [
                {"version_id": v.version_id, "effective_from": _day(v.effective_from),
                 "effective_to": _day(v.effective_to), "effective_source": v.effective_source or None,
                 "status": v.status.value, "pages": v.pages, "clauses": counts.get(v.version_id, 0),
                 "ingested": v.ingested_at, "source_path": v.source_path, "collection": v.collection}
                for v in versions
            ],
        })
    if args.json:
        print(json.dumps(instruments, ensure_ascii=False, indent=2))
        return 0
    columns = ("effective_from", "effective_to", "status", "pages", "clauses", "version_id", "collection", "source")
    for inst in instruments:
        print(f"{inst['doc_id']} — {_cut(inst['title'], 60)} ({inst['kind']}, {inst['jurisdiction'] or '-'}, "
              f"{inst['language']})")
        table = [[_day_text(v["effective_from"]), _day_text(v["effective_to"], "open"), v["status"].replace("_", " "),
                  str(v["pages"]), str(v["clauses"]), v["version_id"], _cut(v["collection"], 24),
                  _cut(v["source_path"].rsplit("/", 1)[-1], 48)]
                 for v in inst["versions"]]
        widths = [max([len(c)] + [len(row[i]) for row in table]) for i, c in enumerate(columns)]
        print("  " + "  ".join(c.ljust(w) for c, w in zip(columns, widths)))
        for row in table:
            print("  " + "  ".join(v.ljust(w) for v, w in zip(row, widths)))
    versions = sum(len(i["versions"]) for i in instruments)
    print(f"{len(instruments)} documents, {versions} versions, {sum(counts.get(v['version_id'], 0) for i in instruments for v in i['versions'])} "
          f"clauses, index generation {index.generation}")
    return 0


def _day(value) -> str | None:
    return value.isoformat() if value else None


def _day_text(value: str | None, missing: str = "unknown") -> str:
    return value or missing


def _search(args, settings) -> int:
    from rag.errors import ConfigError
    from rag.pipeline import open_pipeline
    from rag.types import Filters

    from regcite.ask_cmd import as_of_date, reader_access

    pipeline = open_pipeline(settings)
    access = reader_access(args, settings)
    indexed = {v.doc_id for v in access.view(pipeline.index).documents.values()}  # only what the reader may see
    unknown = [d for d in args.doc if d not in indexed]
    if unknown:
        raise ConfigError(f"no indexed document {', '.join(unknown)}; indexed: {', '.join(sorted(indexed))}")
    filters = access.filters(Filters(doc_ids=tuple(args.doc), as_of=as_of_date(args.as_of)))
    hits = pipeline.search(args.query, filters, args.k)
    results = [
        {
            "reference": h.clause.reference, "document": h.document.title, "doc_id": h.document.doc_id,
            "pages": str(h.clause.page_span), "score": round(float(h.score), 4), "text": h.clause.text[:SNIPPET],
            "clause_id": h.clause.clause_id, "version_id": h.document.version_id,
            "effective_from": _day(h.document.effective_from), "effective_to": _day(h.document.effective_to),
        }
        for h in hits
    ]
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=2))
        return 0
    if not results:
        print("no matching clauses")
    for i, r in enumerate(results, 1):
        print(f"{i}. {r['reference']}  ({r['document']}, {r['pages']}; effective {r['effective_from'] or 'unknown'}"
              f"{' to ' + r['effective_to'] if r['effective_to'] else ''})  score {r['score']:.3f}")
        print(f"   {' '.join(r['text'].split())}")
    return 0


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
