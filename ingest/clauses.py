"""Clause parser: turn a loaded document into numbered clauses with paths, references, spans and pages."""
from __future__ import annotations

import bisect
import re

from ingest.identify import DocumentInfo
from ingest.lines import Event, Line, lines_of
from ingest.load import LoadedText
from ingest.schemes import parser_for
from rag.text import CJK_PUNCTUATION, HAN
from rag.types import CharSpan, Clause, page_span_of

_CJK = HAN + CJK_PUNCTUATION
_WRAP_CJK = re.compile(rf"(?<=[{_CJK}])\n(?=[{_CJK}])")
_SENTENCE_END = re.compile(r"(?<=[.!?;])[\"”’)\]]*\s+(?=[\"“‘(\[A-Z0-9§])|(?<=[。！？；])")


def split_clauses(loaded: LoadedText, info: DocumentInfo, version_id: str, max_chars: int) -> list[Clause]:
    """Clauses in document order; clause_id is f"{version_id}:{ordinal}"."""
    lines = lines_of(loaded)
    wrapped = loaded.format in ("pdf", "text")
    events = parser_for(info.scheme)(lines, info.doc_id, wrapped)
    return _build(loaded, lines, events, info, version_id, max_chars)


def _build(loaded: LoadedText, lines: list[Line], events: list[Event], info: DocumentInfo, version_id: str,
           max_chars: int) -> list[Clause]:
    clauses: list[Clause] = []
    by_line = {e.line: e for e in events}
    current = Event(-1, (), info.doc_id, ())
    block_start = None  # line index where the open block's text starts
    skip = 0

    def close(upto: int) -> None:
        nonlocal block_start
        if block_start is None:
            return
        first, last = block_start, upto - 1
        while last >= first and not lines[last].text.strip():
            last -= 1
        if last >= first:
            start = lines[first].start
            if first == current.line:  # skip counts from the first non-space character of the line
                text = lines[first].text
                start = min(start + len(text) - len(text.lstrip()) + skip, lines[last].end)
            _emit(clauses, loaded, current, start, lines[last].end, version_id, max_chars)
        block_start = None

    for i, line in enumerate(lines):
        event = by_line.get(i)
        if event is not None:
            close(i)
            current = event
            block_start = None if event.heading else i
            skip = event.skip
        elif block_start is None and line.text.strip():
            block_start = i
    close(len(lines))
    return clauses


def _emit(out: list[Clause], loaded: LoadedText, event: Event, start: int, end: int, version_id: str,
          max_chars: int) -> None:
    raw = loaded.text[start:end]
    while raw and raw[0].isspace():
        start, raw = start + 1, raw[1:]
    raw = raw.rstrip()
    end = start + len(raw)
    if not raw:
        return
    pieces = [(start, end)] if len(raw) <= max_chars else _split_long(raw, start, max_chars)
    for part, (a, b) in enumerate(pieces, 1 if len(pieces) > 1 else 0):
        span = CharSpan(a, b)
        ordinal = len(out)
        out.append(Clause(
            clause_id=f"{version_id}:{ordinal}", version_id=version_id, ordinal=ordinal, path=event.path,
            reference=event.reference, headings=event.headings, text=unwrap(loaded.text[a:b]), char_span=span,
            page_span=page_span_of(span, loaded.page_starts), part=part,
        ))


def unwrap(text: str) -> str:
    """Clause text reads as one paragraph: line breaks vanish between CJK characters and become spaces elsewhere."""
    return _WRAP_CJK.sub("", text).replace("\n", " ")


def _split_long(raw: str, base: int, max_chars: int) -> list[tuple[int, int]]:
    """Cut at sentence ends into pieces of at most max_chars (a single longer sentence is cut at spaces)."""
    cuts = [m.end() for m in _SENTENCE_END.finditer(raw)]
    pieces: list[tuple[int, int]] = []
    start = 0
    while len(raw) - start > max_chars:
        limit = start + max_chars
        at = bisect.bisect_right(cuts, limit) - 1  # the last sentence end within the limit (cuts ascend)
        best = cuts[at] if at >= 0 and cuts[at] > start else None
        if best is None or best - start < max_chars // 4:
            space = raw.rfind(" ", start + max_chars // 2, limit)
            best = space + 1 if space > start else limit
        pieces.append((start, best))
        start = best
    pieces.append((start, len(raw)))
    out = []
    for a, b in pieces:
        segment = raw[a:b]
        lead = len(segment) - len(segment.lstrip())
        segment = segment.strip()
        if segment:
            out.append((base + a + lead, base + a + lead + len(segment)))
    return out
