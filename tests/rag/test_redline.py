"""Word-level redlines, the editorial-only test and the rendering `regcite diff` prints."""
from rag.redline import Edit, is_editorial, redline, render, same_text


def test_an_inserted_phrase_is_one_insert_between_equal_runs():
    edits = redline("the creditor shall notify the applicant", "the creditor shall promptly notify the applicant")
    assert edits == (Edit("equal", "the creditor shall"), Edit("insert", " promptly"), Edit("equal", " notify the applicant"))
    assert render(edits) == "the creditor shall {+promptly+} notify the applicant"


def test_a_replaced_word_is_a_delete_then_an_insert():
    edits = redline("within 30 days of receipt", "within 60 days of receipt")
    assert [e.op for e in edits] == ["equal", "delete", "insert", "equal"]
    assert render(edits) == "within [-30-] {+60+} days of receipt"
    assert render(edits, markdown=True) == "within ~~30~~ **60** days of receipt"


def test_punctuation_is_compared_apart_from_its_word():
    assert render(redline("any other record;", "any other record.")) == "any other record[-;-]{+.+}"


def test_joining_the_runs_rebuilds_either_text():
    old, new = "Ethnicity, using the categories Hispanic or Latino;", "Ethnicity and race using either:"
    edits = redline(old, new)
    assert "".join(e.text for e in edits if e.op != "insert") == old
    assert "".join(e.text for e in edits if e.op != "delete") == new


def test_equal_texts_are_one_equal_run_and_empty_texts_none():
    assert redline("a  b\nc", "a b c") == (Edit("equal", "a b c"),)
    assert redline("", "") == ()
    assert redline("", "new text") == (Edit("insert", "new text"),)


def test_typography_punctuation_and_spacing_alone_are_editorial():
    assert is_editorial("a creditor's \"notice\" - 2 x 3", "a creditor’s “notice” — 2 × 3")
    assert is_editorial("request;", "request.")
    assert is_editorial("non-bank\u00a0lender", "nonbank lender")
    assert is_editorial("the ﬁnal rule", "the final rule")


def test_a_changed_word_number_or_capital_is_substantive():
    assert not is_editorial("within 30 days", "within 60 days")
    assert not is_editorial("a state law", "a State law")  # "State" is a defined term in Reg B
    assert not is_editorial("$100", "100")
    assert not is_editorial("same", "same")  # nothing changed is not an editorial change


def test_whitespace_alone_is_no_change_at_all():
    assert same_text("birth-given", "birth- given")
    assert same_text("§ 1002.8(a)(1)", "§ 1002.8(a) (1)")
    assert not same_text("a-b", "a—b")


def test_with_context_long_unchanged_runs_are_cut_to_the_words_beside_each_edit():
    old = "one two three four five six seven eight nine ten eleven twelve"
    new = "one two three four five six SEVEN eight nine ten eleven twelve"
    assert render(redline(old, new), context=2) == "… five six [-seven-] {+SEVEN+} eight nine …"
    assert render(redline("a b", "a c"), context=2) == "a [-b-] {+c+}"
