"""Clauses named in a question: mention keys, clause-path keys, and exact + descendant lookup."""
from __future__ import annotations

import pytest

from rag.numerals import chinese_number
from rag.references import ReferenceMap, mentions, path_key
from rag.types import CharSpan, Clause, PageSpan


@pytest.mark.parametrize("question, keys", [
    ("What does § 1002.9(a)(2) require?", ["§1002.9(a)(2)"]),
    ("Explain 12 CFR 1002.9(a)(1)(iii).", ["§1002.9(a)(1)(iii)"]),
    ("Under 12 CFR §1002.9 ( a ) ( 1 ), when?", ["§1002.9(a)(1)"]),
    ("What is in section 1002.12?", ["§1002.12"]),
    ("Does 1002.9(b)(2) apply?", ["§1002.9(b)(2)"]),
    ("When does GDPR Article 17(1)(b) apply?", ["art17(1)(b)"]),
    ("What does Art. 17 say?", ["art17"]),
    ("article 17 (1) (b)", ["art17(1)(b)"]),
    ("ＧＤＰＲ Ａｒｔｉｃｌｅ １７", ["art17"]),  # full-width, NFKC
    ("第二十九条规定了什么？", ["第29"]),
    ("第29条规定了什么？", ["第29"]),
    ("反洗钱法第二十九条（一）是什么？", ["第29(1)"]),
    ("第一百零五条", ["第105"]),
    ("What does Item 7 of the 10-K cover?", ["item7"]),
    ("Item 7A", ["item7a"]),
    ("Compare Article 17 with Article 33(1).", ["art17", "art33(1)"]),
])
def test_mentions_give_the_clause_keys_a_question_names(question, keys):
    assert [m.key for m in mentions(question)] == keys


@pytest.mark.parametrize("question", [
    "How long must a creditor keep records?",
    "Regulation (EU) 2016/679 applies.",
    "It cost 1002.9 dollars.",  # a decimal number without paragraph letters is not a section
    "第几条规定了客户尽职调查？",
])
def test_questions_that_name_no_clause_have_no_mentions(question):
    assert mentions(question) == []


def test_a_mention_records_where_it_starts_in_the_question():
    (m,) = mentions("反洗钱法第二十九条")
    assert m.start == 4


@pytest.mark.parametrize("path, key", [
    (("§ 1002.9", "(a)", "(1)", "(iii)"), "§1002.9(a)(1)(iii)"),
    (("§ 1002.9",), "§1002.9"),
    (("Art. 17", "(1)", "(b)"), "art17(1)(b)"),
    (("第二十九条", "（一）"), "第29(1)"),  # full-width brackets, Han numbers both become plain
    (("第二十九条",), "第29"),
    (("Item 7",), "item7"),
    (("Item 7A",), "item7a"),
    (("Recital 12",), None),
    (("1 Summary",), None),
    (("Supplement I",), None),
    ((), None),
    (("§ 1002.9", "(a)", "table"), None),  # a step that is not a parenthesised paragraph is named by no question
])
def test_path_key(path, key):
    assert path_key(path) == key


def test_a_question_mention_and_the_stored_path_meet_at_the_same_key():
    assert mentions("GDPR Art. 17(1) (b)")[0].key == path_key(("Art. 17", "(1)", "(b)"))
    assert mentions("第二十九条（一）")[0].key == path_key(("第二十九条", "（一）"))


@pytest.mark.parametrize("text, value", [
    ("二十九", 29), ("十", 10), ("十五", 15), ("一百零五", 105), ("一千零一", 1001), ("29", 29), ("２９", 29),
    ("一万五千", 15000), ("三千万", 30_000_000), ("条", None), ("二十条", None), ("", None),
])
def test_chinese_numbers_have_one_reading_everywhere(text, value):
    assert chinese_number(text) == value


def _clause(i: int, path: tuple[str, ...]) -> Clause:
    return Clause(clause_id=f"v:{i}", version_id="v", ordinal=i, path=path, reference=" ".join(path), headings=(),
                  text=f"text {i}", char_span=CharSpan(i, i + 1), page_span=PageSpan(1, 1))


PATHS = [
    ("§ 1002.9",),  # 0
    ("§ 1002.9", "(a)"),  # 1
    ("§ 1002.9", "(a)", "(1)"),  # 2
    ("§ 1002.9", "(a)", "(1)", "(iii)"),  # 3
    ("§ 1002.9", "(b)"),  # 4
    ("§ 1002.90",),  # 5
    ("§ 1002.90", "(a)"),  # 6
    ("§ 1002.9a",),  # 7
    ("Recital 9",),  # 8
    ("第二十九条",),  # 9
    ("第二十九条", "（一）"),  # 10
    ("第二十九条",),  # 11: a second paragraph of the same article
    ("§ 1002.9", "(a)", "(1)"),  # 12: the second part of an over-long clause keeps its path
]


@pytest.fixture(scope="module")
def refs() -> ReferenceMap:
    return ReferenceMap([_clause(i, p) for i, p in enumerate(PATHS)])


@pytest.mark.parametrize("key, exact, descendants", [
    ("§1002.9", [0], [1, 2, 3, 4, 12]),
    ("§1002.9(a)(1)", [2, 12], [3]),
    ("§1002.9(a)(1)(iii)", [3], []),
    ("§1002.90", [5], [6]),
    ("第29", [9, 11], [10]),
    ("第29(1)", [10], []),
    ("§1002.8", [], []),
    ("art17", [], []),
])
def test_lookup_finds_the_exact_clauses_and_those_beneath_them_in_index_order(refs, key, exact, descendants):
    assert refs.lookup(key) == (exact, descendants)


def test_a_section_number_does_not_match_a_longer_number_that_starts_with_it(refs):
    exact, descendants = refs.lookup("§1002.9")
    assert not {5, 6, 7} & set(exact + descendants)  # 1002.90, 1002.90(a), 1002.9a


def test_an_empty_map_finds_nothing():
    assert ReferenceMap([]).lookup("§1002.9") == ([], [])
