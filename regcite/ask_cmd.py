"""`regcite ask "question"`: an answer whose sentences cite verified clauses, streamed; --json for the whole Answer."""
from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

KINDS = ("regulation", "guidance", "report", "filing")


def add_arguments(name: str, parser) -> None:
    parser.add_argument("question", help="the question, in English or Chinese")
    parser.add_argument("--json", action="store_true", help="print the full answer as JSON (no streaming)")
    parser.add_argument("--doc", action="append", default=[], metavar="DOC_ID", help="only this document (repeatable)")
    parser.add_argument("--jurisdiction", action="append", default=[], metavar="X", help="US, EU, CN … (repeatable)")
    parser.add_argument("--kind", action="append", default=[], choices=KINDS, help="document kind (repeatable)")
    parser.add_argument("--lang", action="append", default=[], metavar="L", help="document language: en, zh (repeatable)")
    parser.add_argument("-k", type=int, default=None, help="clauses to retrieve (default: settings.top_k)")
    parser.add_argument("--as-of", metavar="DATE", help="answer from the versions in force that day (default: today)")
    parser.add_argument("--backend", choices=("extractive", "openai", "transformers"), help="generation backend")
    parser.add_argument("--model", help="served model name (openai) or local model folder / GGUF file (transformers)")
    parser.add_argument("--base-url", help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1")


def run(name: str, args, settings) -> int:
    from rag.types import Filters, Kind

    changes = {k: v for k, v in (("llm_backend", args.backend), ("llm_model", args.model),
                                 ("llm_base_url", args.base_url), ("top_k", args.k)) if v is not None}
    if changes:
        settings = settings.replace(**changes)
    filters = Filters(doc_ids=tuple(args.doc), jurisdictions=tuple(args.jurisdiction),
                      kinds=tuple(Kind(k) for k in args.kind), languages=tuple(args.lang), as_of=as_of_date(args.as_of))
    from rag.access import reader_filters
    from rag.pipeline import open_pipeline
    from rag.records.answers import record_shown
    from regcite.acting import acting_user, record_book

    pipeline = open_pipeline(settings)  # loads no model: IndexMissing comes before any record book
    with record_book(settings) as book:
        user = acting_user(args, settings, book)  # before answering: a refused login costs no answer
        filters = reader_filters(book, user, filters)
        on_token = None if args.json else _stream_to(sys.stdout)
        answer = pipeline.answer(args.question, filters, on_token)
        record = record_shown(pipeline, book, user, answer, filters, entry="cli")
    if args.json:
        from rag.serialize import answer_to_dict

        print(json.dumps(answer_to_dict(answer) | {"answer_id": record.answer_id, "user": record.user},
                         ensure_ascii=False, indent=2))
    else:
        from rag.terminal import terminal_safe

        on_token.close()
        print("\n")
        print(terminal_safe(report(answer)))  # document and model text: escapes shown, URLs inert
        print(f"recorded as answer {record.answer_id} by {record.user}")
    return 0


def reader_access(args, settings):
    """The rag.access.Access of whoever runs the command: the local user's (everything) while no users exist."""
    from rag.access import access_for
    from regcite.acting import acting_user, record_book

    with record_book(settings) as book:
        return access_for(book, acting_user(args, settings, book))


def as_of_date(text: str | None) -> date:
    """--as-of as a date; today when not given, so superseded versions never answer unless asked for."""
    from rag.dates import iso_date
    from rag.errors import ConfigError

    try:
        return iso_date(text, "--as-of") or date.today()
    except ValueError as e:
        raise ConfigError(str(e)) from None


def _stream_to(out):
    from rag.terminal import TerminalStream

    return TerminalStream(out)


def report(answer) -> str:
    """What follows the streamed text: citations with pages and verdicts, backend, model and timings."""
    lines: list[str] = []
    if answer.as_of:
        lines.append(f"as of {answer.as_of.isoformat()}")
    if answer.fallback_reason:
        lines.append(f"fallback: {answer.fallback_reason}")
    if answer.abstained:
        lines.append("abstained: no indexed clause answers this")
    for i, s in enumerate(answer.sentences, 1):
        lines.append(f"{i}. [{s.verdict.value}] {s.text}")
        for c in s.citations:
            lines.append(f"   {c.marker} {c.reference}, {c.page_span} — {c.document_title} "
                         f"({c.verdict.value}, {c.score:.2f})")
            lines.append(f"       version {c.version_id}: {version_span(c.effective_from, c.effective_to)}, "
                         f"{Path(c.source_path).name}")
            lines.append(f"       \"{_cut(c.quote, 160)}\"")
        for p in s.problems:
            lines.append(f"   ! {p}")
    lines += [f"note: {n}" for n in answer.notes]
    if answer.dropped_markers:
        lines.append(f"removed {answer.dropped_markers} marker(s) pointing at nothing retrieved")
    if answer.reasoning:
        lines.append(f"(reasoning trace kept apart: {len(answer.reasoning)} characters; see --json)")
    t = answer.timings_ms
    timing = ", ".join(f"{k} {t[k]:.0f} ms" for k in ("retrieve", "first_token", "generate", "verify", "total")
                       if k in t)
    lines.append(f"backend {answer.backend}, model {answer.model or '-'}; {timing}")
    return "\n".join(lines)


def version_span(start: date | None, end: date | None) -> str:
    """"effective 2016-07-11 to 2022-01-01", "effective 2022-01-01, in force", "effective dates unknown"."""
    if start is None:
        return "effective dates unknown"
    return f"effective {start.isoformat()} to {end.isoformat()}" if end else f"effective {start.isoformat()}, open"


def _cut(text: str, n: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"
