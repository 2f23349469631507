"""Property-based fuzzing (hypothesis) of the loaders' text handling, the clause parser and the reference finder:
whatever the input, nothing but a clean DocumentError escapes, and what comes back keeps its invariants.

Bounded for CI: each property runs a fixed number of examples, each example small and under a deadline."""
from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.clauses import split_clauses
from ingest.identify import DocumentInfo, identify
from ingest.load import LoadedText, load_file
from ingest.schemes import SCHEMES
from rag.errors import DocumentError
from rag.normalize import normalize_text
from rag.references import ReferenceMap, mentions, path_key
from rag.types import Kind
from tests.ingest.hostile import text_pdf

# Fragments the loaders and parsers react to, so random documents reach their branches instead of plain prose.
TOKENS = [
    "<p>", "</p>", "<div>", "</div>", "<h1>", "</h1>", "<h3>", "<br>", "<li>", "<ul>", "</ul>", "<table><tr><td>",
    "</td><td>", "</tr></table>", "<pre>", "</pre>", "<script>x</script>", "<!--", "-->", "<title>T</title>",
    '<p style="margin-left: 2em">', "&amp;", "&#0;", "&#xD800;", "&nbsp;", "<![CDATA[", "<?php ?>", "<!DOCTYPE html>",
    "# ", "## ", "**", "`", "\n", "\n\n", " ", "\t", "\r\n", "\f", "\u2028", "\ufeff", "\u00ad", "\x00", "\x1b",
    "§ 1002.9", "§ 1002.9(a)(2)", "(a)", "(1)", "(i)", "(A)", "(iv)", "Section 5.", "PART 1002", "Subpart B",
    "Article 5", "Article 17(1)(b)", "CHAPTER II", "第十条", "第一百零二条", "（一）", "第二章", "第1条", "一、",
    "Item 7.", "12 CFR 1002", "Effective date: 2024-01-01", "Regulation (EU) 2016/679", "1.", "a)", "ii.",
    "自2025年1月1日起施行", "A creditor shall notify an applicant.", "。", "；", "“", "”",
]
TEXT = st.lists(st.sampled_from(TOKENS) | st.text(max_size=12), max_size=60).map("".join)
SUFFIXES = [".txt", ".md", ".html", ".xhtml", ".pdf", ""]
BOUNDED = settings(max_examples=150, deadline=timedelta(seconds=10), suppress_health_check=[HealthCheck.too_slow])


def _load(data: bytes, suffix: str) -> LoadedText | None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"fuzzed{suffix}"
        path.write_bytes(data)
        try:
            return load_file(path)
        except DocumentError as e:
            assert e.reason and e.path == str(path)
            return None


def _check_loaded(loaded: LoadedText) -> None:
    lines = loaded.text.split("\n")
    assert loaded.page_starts and loaded.page_starts[0] == 0 and list(loaded.page_starts) == sorted(loaded.page_starts)
    assert all(start <= len(loaded.text) for start in loaded.page_starts)
    assert len(loaded.heading_levels) in (0, len(lines)) and len(loaded.indents) in (0, len(lines))
    assert loaded.text == normalize_text(loaded.text) or loaded.format == "pdf"


def _check_clauses(loaded: LoadedText, info: DocumentInfo, max_chars: int) -> None:
    clauses = split_clauses(loaded, info, "v" * 16, max_chars)
    for ordinal, clause in enumerate(clauses):
        a, b = clause.char_span.start, clause.char_span.end
        assert clause.ordinal == ordinal and clause.clause_id == f"{'v' * 16}:{ordinal}"
        assert 0 <= a < b <= len(loaded.text) and loaded.text[a:b].strip()
        assert len(clause.text) <= max(max_chars, b - a)
        assert 1 <= clause.page_span.first <= clause.page_span.last <= len(loaded.page_starts)


@BOUNDED
@given(text=TEXT, suffix=st.sampled_from(SUFFIXES), encoding=st.sampled_from(["utf-8", "utf-16", "gb18030"]))
def test_text_loaders_return_a_loaded_text_or_a_document_error(text, suffix, encoding):
    data = text.encode(encoding, errors="replace")
    loaded = _load(data, suffix)
    if loaded is not None:
        _check_loaded(loaded)


@BOUNDED
@given(data=st.binary(max_size=2000), suffix=st.sampled_from(SUFFIXES))
def test_arbitrary_bytes_load_or_fail_cleanly(data, suffix):
    loaded = _load(data, suffix)
    if loaded is not None:
        _check_loaded(loaded)


_PDF = text_pdf(["12 CFR Part 951 - Sample", "Section 951.1 Scope.", "(a) This part applies to every lender."])


@settings(max_examples=100, deadline=timedelta(seconds=10), suppress_health_check=[HealthCheck.too_slow])
@given(edits=st.lists(st.tuples(st.integers(0, len(_PDF) - 1), st.integers(0, 255)), min_size=1, max_size=8),
       cut=st.integers(len(_PDF) // 2, len(_PDF)))
def test_a_damaged_pdf_loads_or_fails_cleanly(edits, cut):
    data = bytearray(_PDF)
    for at, value in edits:
        data[at] = value
    loaded = _load(bytes(data[:cut]), ".pdf")
    if loaded is not None:
        _check_loaded(loaded)


@BOUNDED
@given(text=TEXT, suffix=st.sampled_from([".txt", ".md", ".html"]), max_chars=st.integers(20, 400))
def test_loaded_documents_split_into_clauses_within_their_text(text, suffix, max_chars):
    loaded = _load(text.encode("utf-8"), suffix)
    if loaded is None:
        return
    info = identify(Path(f"fuzzed{suffix}"), loaded)
    _check_clauses(loaded, info, max_chars)


@BOUNDED
@given(lines=st.lists(TEXT.map(lambda s: s.replace("\n", " ")), min_size=1, max_size=30),
       levels=st.lists(st.integers(0, 6), max_size=30), scheme=st.sampled_from(sorted(SCHEMES)),
       fmt=st.sampled_from(["pdf", "html", "markdown", "text"]), max_chars=st.integers(20, 400))
def test_every_scheme_parses_any_lines(lines, levels, scheme, fmt, max_chars):
    text = normalize_text("\n".join(lines))
    n = len(text.split("\n"))
    heading_levels = tuple((levels + [0] * n)[:n]) if fmt in ("html", "markdown") else ()
    loaded = LoadedText(text, (0, len(text) // 2) if fmt == "pdf" else (0,), fmt, "T", heading_levels, ())
    info = DocumentInfo("12 CFR 1002", "T", Kind.REGULATION, "US", "en", None, scheme)
    _check_clauses(loaded, info, max_chars)


@BOUNDED
@given(question=TEXT)
def test_mentions_of_any_question_are_keys_inside_it(question):
    found = mentions(question)
    assert len({m.key for m in found}) == len(found)
    for m in found:
        assert m.key and 0 <= m.start <= len(question) * 18  # NFKC may lengthen the text it indexes


@BOUNDED
@given(path=st.lists(st.sampled_from(["§ 1002.9", "(a)", "(1)", "Art. 17", "第十条", "（一）", "Item 7", "(", ")"])
                     | st.text(max_size=8), max_size=5))
def test_any_clause_path_keys_and_looks_up(path):
    key = path_key(tuple(path))
    assert key is None or isinstance(key, str)
    if key:
        from rag.types import CharSpan, Clause, PageSpan

        clause = Clause("v:0", "v", 0, tuple(path), "", (), "x", CharSpan(0, 1), PageSpan(1, 1))
        assert ReferenceMap([clause]).lookup(key) == ([0], [])
