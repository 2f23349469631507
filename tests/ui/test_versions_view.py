"""Pure version views: effective ranges, the chain's rows, composed alignments, escaped redlines, diff lines."""
from __future__ import annotations

from datetime import date

import pytest

from rag.types import ChangeKind, CharSpan, Clause, ClauseChange, DocumentVersion, Kind, PageSpan, Status
from ui import render, versions_view as vv

U, M, MV, A, R = ChangeKind.UNCHANGED, ChangeKind.MODIFIED, ChangeKind.MOVED, ChangeKind.ADDED, ChangeKind.REMOVED


def _version(vid: str, day: date | None, source: str = "/corpus/part900.md", status=Status.SUPERSEDED,
             end: date | None = None, by: str = "user") -> DocumentVersion:
    return DocumentVersion(version_id=vid, doc_id="Part 900", title="Part 900", kind=Kind.REGULATION,
                           jurisdiction="US", language="en", source_path=source, sha256=vid * 4, page_starts=(0, 100),
                           effective_from=day, effective_to=end, status=status, effective_source=by)


def _clause(vid: str, n: int, reference: str, text: str, page: int = 1) -> Clause:
    return Clause(clause_id=f"{vid}:{n}", version_id=vid, ordinal=n, path=(reference,), reference=reference,
                  headings=(), text=text, char_span=CharSpan(0, len(text)), page_span=PageSpan(page, page))


@pytest.mark.parametrize("start, end, label", [
    (date(2016, 7, 11), date(2022, 1, 1), "effective 2016-07-11 to 2022-01-01"),
    (date(2022, 1, 1), None, "in force since 2022-01-01"),
    (date(2030, 1, 1), None, "in force from 2030-01-01 (not yet in force)"),
    (None, None, "effective dates unknown"),
])
def test_effective_label_names_the_range_or_says_it_is_unknown(start, end, label):
    assert render.effective_label(start, end, today=date(2026, 1, 1)) == label


def test_chain_rows_show_dates_status_and_where_the_date_came_from():
    rows = vv.chain_rows([
        _version("a" * 16, date(2016, 7, 11), end=date(2022, 1, 1), by="document"),
        _version("b" * 16, date(2022, 1, 1), source="/x/part900.pdf", status=Status.IN_FORCE),
        _version("c" * 16, None, source="/x/part900_copy.md", status=Status.UNPLACED, by=""),
    ], {"a" * 16: 4})
    keys = ("Effective from", "Effective to", "Status", "Date from", "Clauses", "File")
    assert [tuple(r[k] for k in keys) for r in rows] == [
        ("2016-07-11", "2022-01-01", "superseded", "the document", 4, "part900.md"),
        ("2022-01-01", "–", "in force", "stated at ingest", 0, "part900.pdf"),
        ("unknown", "–", "undated beside dated versions: never answers", "unknown", 0, "part900_copy.md"),
    ]


def test_only_dated_answering_versions_are_compared():
    versions = [_version("a" * 16, date(2016, 1, 1)), _version("b" * 16, date(2016, 1, 1), status=Status.ALTERNATE),
                _version("c" * 16, None, status=Status.UNPLACED), _version("d" * 16, date(2022, 1, 1))]
    assert [v.version_id[0] for v in vv.comparable(versions)] == ["a", "d"]


def test_compose_follows_each_clause_through_every_version():
    v1 = [_clause("v1", 0, "(a)", "Notify within 30 days."), _clause("v1", 1, "(b)", "Keep the records of it."),
          _clause("v1", 2, "(c)", "Send it by post."), _clause("v1", 3, "(d)", "No fee.")]
    v2 = [_clause("v2", 0, "(a)", "Notify within 14 days."), _clause("v2", 1, "(e)", "Keep the records of it."),
          _clause("v2", 2, "(d)", "No fee."), _clause("v2", 3, "(f)", "Notices may be electronic.")]
    v3 = [_clause("v3", 0, "(a)", "Notify within 30 days."),
          _clause("v3", 1, "(e)", "Keep the records of it for 25 months."),
          _clause("v3", 2, "(d)", "No fee!"), _clause("v3", 3, "(f)", "Notices may be electronic.")]
    steps = [
        (ClauseChange(M, "v1:0", "v2:0"), ClauseChange(MV, "v1:1", "v2:1"), ClauseChange(R, "v1:2", None),
         ClauseChange(U, "v1:3", "v2:2"), ClauseChange(A, None, "v2:3")),
        (ClauseChange(M, "v2:0", "v3:0"), ClauseChange(M, "v2:1", "v3:1"), ClauseChange(M, "v2:2", "v3:2", True),
         ClauseChange(U, "v2:3", "v3:3")),
    ]
    clauses = {c.clause_id: c for c in (*v1, *v2, *v3)}
    composed = {(c.kind, c.from_clause_id, c.to_clause_id, c.editorial) for c in vv.compose(steps, clauses)}
    assert composed == {
        (U, "v1:0", "v3:0", False),  # amended, then amended back: the same text
        (MV, "v1:1", "v3:1", False),  # redesignated (b) -> (e), then amended
        (R, "v1:2", None, False),
        (M, "v1:3", "v3:2", True),  # only punctuation changed
        (A, None, "v3:3", False),  # added on the way
    }
    assert vv.compose(steps[:1], clauses) == steps[0]  # neighbours: the stored alignment as it is


def test_compose_keeps_both_halves_of_a_split():
    v1 = [_clause("v1", 0, "(a)", "Notify within 30 days. Keep a copy.")]
    v2 = [_clause("v2", 0, "(a)", "Notify within 30 days."), _clause("v2", 1, "(b)", "Keep a copy.")]
    v3 = [_clause("v3", 0, "(a)", "Notify within 30 days."), _clause("v3", 1, "(b)", "Keep a copy.")]
    steps = [(ClauseChange(M, "v1:0", "v2:0"), ClauseChange(MV, "v1:0", "v2:1")),
             (ClauseChange(U, "v2:0", "v3:0"), ClauseChange(U, "v2:1", "v3:1"))]
    composed = vv.compose(steps, {c.clause_id: c for c in (*v1, *v2, *v3)})
    assert {(c.kind, c.to_clause_id) for c in composed} == {(M, "v3:0"), (MV, "v3:1")}


def test_redline_marks_words_and_leaves_document_markup_inert():
    md = vv.redline_md("Send <b>notice</b> :red[now] within 30 days.", "Send <i>notice</i> :red[later] within 14 days.")
    assert "<" not in md.replace("\\<", "") and ":red[" not in md
    assert "within :red-background[~~30~~] :green-background[**14**] days\\." in md
    assert md.startswith("Send \\<:red-background[~~b~~]:green-background[**i**]\\>notice")


def test_diff_names_each_clause_in_both_versions_with_its_pdf_page():
    old_v = _version("a" * 16, date(2016, 7, 11), source="/x/reg_2016.pdf")
    new_v = _version("b" * 16, date(2022, 1, 1), source="/x/reg_2022.md", status=Status.IN_FORCE)
    old = [_clause(old_v.version_id, 0, "§ 1.1(a)", "Notify within 30 days.", page=2),
           _clause(old_v.version_id, 1, "§ 1.1(b)", "Keep it, for a year.", page=3),
           _clause(old_v.version_id, 2, "§ 1.1(c)", "Send it by post.", page=3)]
    new = [_clause(new_v.version_id, 0, "§ 1.1(a)", "Notify within 14 days."),
           _clause(new_v.version_id, 1, "§ 1.1(b)", "Keep it for a year."),
           _clause(new_v.version_id, 2, "§ 1.2", "Records are kept for 25 months.")]
    stored = (ClauseChange(M, old[0].clause_id, new[0].clause_id), ClauseChange(M, old[1].clause_id, new[1].clause_id, True),
              ClauseChange(R, old[2].clause_id, None), ClauseChange(A, None, new[2].clause_id))
    clauses = {old_v.version_id: old, new_v.version_id: new}
    d = vv.diff(old_v, new_v, (old_v.version_id, new_v.version_id), clauses.__getitem__, lambda a, b: stored)

    assert d.steps == 1 and d.unchanged == 0
    # in the newer version's document order, the removed (c) where it stood
    assert [(c.kind, c.editorial) for c in d.changes] == [(M, False), (M, True), (R, False), (A, False)]
    modified, editorial, removed, added = d.changes
    assert removed.new is None and removed.old.page == "p. 3"
    assert added.old is None and added.new == vv.Side("§ 1.2", new[2].clause_id, "")  # Markdown: no pages
    assert modified.old == vv.Side("§ 1.1(a)", old[0].clause_id, "p. 2")  # the PDF's printed page
    assert vv.header_md(modified) == (
        f":orange-badge[:material/edit: Modified] [§ 1\\.1\\(a\\)](?clause={'a' * 16}%3A0) :gray[p. 2] → "
        f"[§ 1\\.1\\(a\\)](?clause={'b' * 16}%3A0)")
    assert vv.header_md(added).startswith(":green-badge[:material/add_circle: Added] :gray[not in the older version] → ")
    assert ":gray-badge[editorial]" in vv.header_md(editorial)
    assert added.body_md == "Records are kept for 25 months\\."
    assert vv.counts(d.changes) == {"Added": 1, "Removed": 1, "Modified": 1, "Moved": 0, "Editorial": 1}


def test_change_kinds_differ_in_colour_icon_and_word():
    badges = [vv.kind_badge(vv.ChangeView(k, False, None, None, "")) for k in vv.KINDS]
    assert len({b.split("-badge")[0] for b in badges}) == len({b.split(":material/")[1].split(":")[0] for b in badges}) == 4
