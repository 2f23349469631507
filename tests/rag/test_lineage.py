"""Clause alignment of consecutive versions: same reference, moved text (renamed, split, merged), added, removed."""
import random
import time

from rag.lineage import ReferenceChange, align_versions, by_reference, compose
from rag.types import ChangeKind, CharSpan, Clause, ClauseChange, PageSpan

U, M, MV, A, R = ChangeKind.UNCHANGED, ChangeKind.MODIFIED, ChangeKind.MOVED, ChangeKind.ADDED, ChangeKind.REMOVED
X = "A creditor shall notify an applicant of action taken within 30 days after receiving a completed application."
Y = "A creditor shall preserve any application that it receives for twenty five months after notifying the applicant."
Z = "A creditor shall not discourage on a prohibited basis a reasonable person from making or pursuing an application."
W = "Each financial institution shall report the data it collected to the appropriate federal agency by March first."


def version(vid: str, *rows) -> list[Clause]:
    """rows: (reference, text) or (reference, text, part) or (reference, text, part, headings)."""
    out = []
    for i, (ref, text, *rest) in enumerate(rows):
        part, headings = (rest + [0, ()][len(rest):])[:2]
        out.append(Clause(f"{vid}:{i}", vid, i, (ref,), ref, tuple(headings), text, CharSpan(0, len(text)),
                          PageSpan(1, 1), part))
    return out


def edges(changes) -> set[tuple[str, str | None, str | None]]:
    """(kind, old ordinal, new ordinal) for each change; easier to read than clause ids."""
    def n(cid):
        return None if cid is None else cid.split(":")[1]
    return {(c.kind.value, n(c.from_clause_id), n(c.to_clause_id)) for c in changes}


def test_the_same_text_under_the_same_reference_is_unchanged_and_whitespace_does_not_count():
    old = version("o", ("1.1(a)", X), ("1.1(b)", "A creditor shall keep birth-given names on file."))
    new = version("n", ("1.1(a)", X), ("1.1(b)", "A creditor shall keep birth- given  names on file."))
    assert align_versions(old, new) == (ClauseChange(U, "o:0", "n:0"), ClauseChange(U, "o:1", "n:1"))


def test_a_changed_word_is_modified_and_a_typographic_change_editorial():
    old = version("o", ("1.1(a)", X), ("1.1(b)", "The creditor's \"notice\" - see 1.1(a)."))
    new = version("n", ("1.1(a)", X.replace("30 days", "60 days")), ("1.1(b)", "The creditor’s “notice” — see 1.1(a)."))
    modified, editorial = align_versions(old, new)
    assert (modified.kind, modified.editorial) == (M, False) and 0.5 < modified.similarity < 1
    assert (editorial.kind, editorial.editorial) == (M, True)


def test_a_redesignated_paragraph_is_moved_not_removed_and_added():
    old = version("o", ("1.1(a)", X), ("1.1(b)", Y))
    new = version("n", ("1.1(a)", X), ("1.1(c)", Y))
    changes = align_versions(old, new)
    assert edges(changes) == {("unchanged", "0", "0"), ("moved", "1", "1")}
    assert changes[1].similarity == 1.0 and not changes[1].editorial


def test_a_shifted_run_of_references_is_modified_in_place_and_moved_along():
    # (b) inserted: old (b) is now (c), old (c) now (d); (b) and (c) keep their references with other text.
    old = version("o", ("1.1(a)", X), ("1.1(b)", Y), ("1.1(c)", Z))
    new = version("n", ("1.1(a)", X), ("1.1(b)", W), ("1.1(c)", Y), ("1.1(d)", Z))
    assert edges(align_versions(old, new)) == {
        ("unchanged", "0", "0"), ("modified", "1", "1"), ("modified", "2", "2"), ("moved", "1", "2"), ("moved", "2", "3")}


def test_a_split_paragraph_moves_each_new_part_from_the_old_one():
    old = version("o", ("1.1(a)", f"{X} {Y} {Z}"))
    new = version("n", ("1.1(a)", X), ("1.1(a)(1)", Y), ("1.1(a)(2)", Z))
    assert edges(align_versions(old, new)) == {("modified", "0", "0"), ("moved", "0", "1"), ("moved", "0", "2")}


def test_merged_paragraphs_move_into_the_one_that_stays():
    old = version("o", ("1.1(a)", X), ("1.1(b)", Y), ("1.1(c)", Z))
    new = version("n", ("1.1(a)", f"{X} {Y}"), ("1.1(c)", Z))
    assert edges(align_versions(old, new)) == {("modified", "0", "0"), ("moved", "1", "0"), ("unchanged", "2", "1")}


def test_new_and_dropped_text_is_added_and_removed():
    old = version("o", ("1.1(a)", X), ("1.1(b)", Y))
    new = version("n", ("1.1(a)", X), ("1.1(c)", W))
    assert edges(align_versions(old, new)) == {("unchanged", "0", "0"), ("removed", "1", None), ("added", None, "1")}


def test_text_that_an_unchanged_clause_already_held_has_not_moved_into_it():
    old = version("o", ("1.1(a)", f"{X} {Y}"), ("Comment 1(b)-1", Y))
    new = version("n", ("1.1(a)", f"{X} {Y}"))
    assert edges(align_versions(old, new)) == {("unchanged", "0", "0"), ("removed", "1", None)}


def test_short_texts_are_not_called_moved():
    old = version("o", ("1.1(a)", X), ("1.1(b)", "[Reserved]"))
    new = version("n", ("1.1(a)", X), ("1.1(c)", "[Reserved]"))
    assert edges(align_versions(old, new)) == {("unchanged", "0", "0"), ("removed", "1", None), ("added", None, "1")}


def test_parts_of_an_over_long_clause_cut_elsewhere_are_unchanged_when_the_whole_is():
    old = version("o", ("1.1(a)", f"{X} {Y}", 1), ("1.1(a)", Z, 2))
    new = version("n", ("1.1(a)", X, 1), ("1.1(a)", Y, 2), ("1.1(a)", Z, 3))
    changes = align_versions(old, new)
    assert {c.kind for c in changes} == {U}
    assert {c.from_clause_id for c in changes} == {"o:0", "o:1"} and {c.to_clause_id for c in changes} == {"n:0", "n:1", "n:2"}


def test_a_heading_one_format_prints_as_text_is_no_change():
    # A PDF wraps the appendix title, so its last word opens the text; the HTML keeps the title whole.
    old = version("o", ("App. A", f"The following list indicates the agencies. {X}", 1, ("Appendix A—Agencies Listed in Notices",)))
    new = version("n", ("App. A", f"Notices The following list indicates the agencies. {X}", 1, ("Appendix A—Agencies Listed in",)))
    assert edges(align_versions(old, new)) == {("unchanged", "0", "0")}


def test_every_clause_is_in_some_change():
    rng = random.Random(7)
    texts = [X, Y, Z, W, f"{X} {W}", "[Reserved]"]
    old = version("o", *((f"1.{i % 9}({chr(97 + i % 5)})", rng.choice(texts), 0) for i in range(40)))
    new = version("n", *((f"1.{i % 7}({chr(97 + i % 6)})", rng.choice(texts), 0) for i in range(45)))
    changes = align_versions(old, new)
    assert {c.clause_id for c in old} == {c.from_clause_id for c in changes if c.from_clause_id}
    assert {c.clause_id for c in new} == {c.to_clause_id for c in changes if c.to_clause_id}


def test_a_thousand_clause_rewrite_aligns_in_well_under_a_few_seconds():
    rng = random.Random(3)
    vocab = [f"w{i}" for i in range(3000)] + ["the", "shall", "of", "a", "creditor"] * 200
    sentences = [" ".join(rng.choice(vocab) for _ in range(rng.randint(8, 300))) for _ in range(1000)]
    old = version("o", *((f"1.{i}(a)", s) for i, s in enumerate(sentences)))
    # Every reference renamed and every tenth text replaced: the slowest case, all of it searched for moves.
    new = version("n", *((f"2.{i}(b)", s if i % 10 else W + s[:40]) for i, s in enumerate(sentences)))
    t0 = time.perf_counter()
    changes = align_versions(old, new)
    assert time.perf_counter() - t0 < 3.0
    assert sum(c.kind is MV for c in changes) >= 900


def test_the_diff_by_reference_joins_parts_and_lists_added_removed_modified_moved():
    old = version("o", ("1.1(a)", X, 1), ("1.1(a)", Y, 2), ("1.1(b)", Z), ("1.1(c)", "Old text that goes away entirely now."))
    new = version("n", ("1.1(a)", X, 1), ("1.1(a)", Y.replace("twenty five", "36"), 2), ("1.1(d)", Z),
                  ("1.1(e)", "Brand new text that nobody has seen before."))
    shown = by_reference(old, new, align_versions(old, new))
    assert shown == (
        ReferenceChange(A, None, "1.1(e)", "", "Brand new text that nobody has seen before."),
        ReferenceChange(R, "1.1(c)", None, "Old text that goes away entirely now.", ""),
        ReferenceChange(M, "1.1(a)", "1.1(a)", f"{X} {Y}", f"{X} {Y.replace('twenty five', '36')}"),
        ReferenceChange(MV, "1.1(b)", "1.1(d)", Z, Z),
    )


def test_composed_steps_follow_each_clause_and_judge_the_end_texts():
    first = version("a", ("1.1(a)", X), ("1.1(b)", Y), ("1.1(c)", Z))
    second = version("b", ("1.1(a)", X.replace("30", "60")), ("1.1(c)", Y), ("1.1(d)", Z))
    third = version("c", ("1.1(a)", X), ("1.1(c)", Y), ("1.1(e)", W))
    steps = [align_versions(first, second), align_versions(second, third)]
    # (a) changed and changed back; (b) moved to (c); (c) kept its reference with (b)'s text, its own text moved to
    # (d) and then went; (e) is new.
    assert edges(compose(first, third, steps)) == {
        ("unchanged", "0", "0"), ("moved", "1", "1"), ("modified", "2", "1"), ("added", None, "2")}
