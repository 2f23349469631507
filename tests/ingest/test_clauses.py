"""Clause parser on tiny inline documents: exact paths, references, spans, pages; and a real printed PDF."""
from __future__ import annotations

from datetime import date

import pytest
from pdfgen import html_to_pdf, pages_html

from ingest.clauses import split_clauses
from ingest.identify import DocumentInfo, identify
from ingest.load import LoadedText, load_file
from rag.types import Kind, PageSpan


def doc(text: str, fmt: str = "markdown", page_starts: tuple[int, ...] = (0,), headings: tuple[int, ...] = ()):
    return LoadedText(text=text, page_starts=page_starts, format=fmt, title="t", heading_levels=headings)


def info(doc_id: str, scheme: str) -> DocumentInfo:
    return DocumentInfo(doc_id, doc_id, Kind.REGULATION, "US", "en", None, scheme)


def refs(clauses) -> list[str]:
    return [c.reference for c in clauses]


CFR = """12 CFR Part 900 — Sample Rule
§ 900.2 Definitions.
For this part:
(g) Good means fit for purpose.
(h) Home means:
(1) A house; or
(2) A flat.
(i) Income means money received.
§ 900.9 Notifications.
(a) Timing. A creditor shall notify an applicant of action taken within:
(1) Thirty days:
(i) After receiving a completed application; or
(ii) After taking adverse action on an existing account.
(2) Ninety days after a counteroffer, as set out in paragraph (b) of this section.
(b) Form. Notices shall be in writing."""


def test_cfr_paths_references_and_exact_spans():
    loaded = doc(CFR)
    clauses = split_clauses(loaded, info("12 CFR 900", "us-cfr"), "v1", 2400)
    assert refs(clauses) == [
        "12 CFR 900", "12 CFR 900.2", "12 CFR 900.2(g)", "12 CFR 900.2(h)", "12 CFR 900.2(h)(1)",
        "12 CFR 900.2(h)(2)", "12 CFR 900.2(i)", "12 CFR 900.9(a)", "12 CFR 900.9(a)(1)", "12 CFR 900.9(a)(1)(i)",
        "12 CFR 900.9(a)(1)(ii)", "12 CFR 900.9(a)(2)", "12 CFR 900.9(b)",
    ]
    by_ref = {c.reference: c for c in clauses}
    leaf = by_ref["12 CFR 900.9(a)(1)(ii)"]
    assert leaf.path == ("§ 900.9", "(a)", "(1)", "(ii)")
    assert leaf.text == "After taking adverse action on an existing account."
    assert loaded.text[leaf.char_span.start:leaf.char_span.end] == leaf.text
    assert leaf.headings == ("§ 900.9 Notifications.",)
    # The parent's lead-in is its own clause, with the parent's reference.
    assert by_ref["12 CFR 900.9(a)"].text == "Timing. A creditor shall notify an applicant of action taken within:"
    # "(i)" right after "(h)(2) A flat." is the letter i, not a roman numeral under (h).
    assert by_ref["12 CFR 900.2(i)"].path == ("§ 900.2", "(i)")
    assert [c.clause_id for c in clauses[:2]] == ["v1:0", "v1:1"] and [c.ordinal for c in clauses[:2]] == [0, 1]
    assert all(c.part == 0 and c.page_span == PageSpan(1, 1) for c in clauses)


def test_wrapped_cross_reference_does_not_start_a_clause():
    text = ("§ 900.3 Notices.\n"
            "(a) A creditor shall send the notice described in paragraph\n"
            "(b) of this section within 30 days, and the notice under\n"
            "§ 900.2 Definitions apply.\n"
            "(b) Form. Notices shall be in writing.")
    clauses = split_clauses(doc(text, fmt="pdf"), info("12 CFR 900", "us-cfr"), "v", 2400)
    assert refs(clauses) == ["12 CFR 900.3(a)", "12 CFR 900.3(b)"]
    assert clauses[0].text.endswith("paragraph (b) of this section within 30 days, and the notice under § 900.2 "
                                    "Definitions apply.")


INTERP = """Supplement I to Part 900—Official Interpretations
Section 900.4—Account Disclosures
(a) Delivery of account disclosures.
(a)(2) Requests.
Paragraph (a)(2)(i).
1. Inquiries versus requests. A response to an oral inquiry does not trigger the duty, unless:
i The consumer asks in writing; or
ii. The consumer visits the office, as provided for in § 900.14(a)
(5).
Paragraph (a)(2)(ii)(A).
1. Recent rates. Institutions comply if they disclose a recent rate.
(b) Content of account disclosures.
1. Rates. Disclose every rate."""


def test_interpretation_targets_nest_and_bare_numerals_continue_a_list():
    loaded = doc(INTERP, fmt="pdf")
    clauses = split_clauses(loaded, info("12 CFR 900", "us-cfr"), "v", 2400)
    by_ref = {c.reference: c for c in clauses}
    assert refs(clauses) == ["12 CFR 900 Comment 4(a)(2)(i)-1", "12 CFR 900 Comment 4(a)(2)(i)-1.i",
                             "12 CFR 900 Comment 4(a)(2)(i)-1.ii", "12 CFR 900 Comment 4(a)(2)(ii)(A)-1",
                             "12 CFR 900 Comment 4(b)-1"]
    # "(a)(2)" and "Paragraph (a)(2)(i)." nest under "(a)"; a sibling target drops what it does not extend.
    assert by_ref["12 CFR 900 Comment 4(a)(2)(i)-1"].headings[2:] == (
        "(a) Delivery of account disclosures.", "(a)(2) Requests.", "Paragraph (a)(2)(i).")
    assert by_ref["12 CFR 900 Comment 4(a)(2)(ii)(A)-1"].headings[2:] == (
        "(a) Delivery of account disclosures.", "(a)(2) Requests.", "Paragraph (a)(2)(ii)(A).")
    assert by_ref["12 CFR 900 Comment 4(b)-1"].headings[2:] == ("(b) Content of account disclosures.",)
    # "i The…" (no period) continues the list; the wrapped "(5)." stays in the cross-reference's text.
    first = by_ref["12 CFR 900 Comment 4(a)(2)(i)-1.i"]
    assert first.path[-2:] == ("1", "i") and first.text == "The consumer asks in writing; or"
    assert loaded.text[first.char_span.start:first.char_span.end] == first.text
    assert by_ref["12 CFR 900 Comment 4(a)(2)(i)-1.ii"].text.endswith("as provided for in § 900.14(a) (5).")


def test_lowercase_word_i_is_not_a_bare_comment_numeral():
    text = ("Supplement I to Part 900—Official Interpretations\nSection 900.4—Disclosures\n(a) Delivery.\n"
            "1. General. Examples:\ni. One.\nii. Two.\n2. Other. See below.\nv Visit is no marker here.")
    clauses = split_clauses(doc(text), info("12 CFR 900", "us-cfr"), "v", 2400)
    assert refs(clauses) == ["12 CFR 900 Comment 4(a)-1", "12 CFR 900 Comment 4(a)-1.i",
                             "12 CFR 900 Comment 4(a)-1.ii", "12 CFR 900 Comment 4(a)-2"]
    assert clauses[-1].text == "Other. See below. v Visit is no marker here."


def test_a_numeral_run_at_a_letter_depth_takes_capital_children_and_the_next_letter():
    # 12 CFR 1090.105 as printed: after (a)'s list, "(i)"–"(iv)" sit at the letters' indent, "(iii)" has
    # "(A)"/"(B)" children, and "(b)" still follows "(a)".
    lines = ["§ 900.5 Market.", "(a) Definitions. As used in this subpart:", "(i) Receipts means income.",
             "(ii) Period of measurement.", "(A) Annual receipts of a person.", "(i) Any person acting as agent.",
             "(ii) Any nonprofit organization.", "(iii) Any person collecting a debt, to the extent it:",
             "(A) Concerns a debt it originated; or", "(B) Concerns a debt not in default; and",
             "(iv) Any person enforcing a security interest.", "(b) Test. A person is a larger participant if:",
             "§ 900.6 Servicing.", "(a) Definitions.", "(i) Number of accounts.", "(A) Receiving payments and",
             "(B) Applying payments.", "(ii) Time of measurement.", "(A) Maintaining records.",
             "(b) Test. A person is a larger participant."]
    indents = (-1, 0, 12, 12, 24, 0, 0, 0, 12, 12, 0, 0, -1, 0, 0, 12, 12, 0, 12, 0)
    loaded = LoadedText(text="\n".join(lines), page_starts=(0,), format="html", title="t",
                        heading_levels=tuple(3 if t.startswith("§") else 0 for t in lines), indents=indents)
    clauses = split_clauses(loaded, info("12 CFR 900", "us-cfr"), "v", 2400)
    assert refs(clauses) == [
        "12 CFR 900.5(a)", "12 CFR 900.5(a)(i)", "12 CFR 900.5(a)(ii)", "12 CFR 900.5(a)(ii)(A)",
        "12 CFR 900.5(i)", "12 CFR 900.5(ii)", "12 CFR 900.5(iii)", "12 CFR 900.5(iii)(A)", "12 CFR 900.5(iii)(B)",
        "12 CFR 900.5(iv)", "12 CFR 900.5(b)",
        "12 CFR 900.6(a)", "12 CFR 900.6(i)", "12 CFR 900.6(i)(A)", "12 CFR 900.6(i)(B)", "12 CFR 900.6(ii)",
        "12 CFR 900.6(ii)(A)", "12 CFR 900.6(b)",
    ]
    last = clauses[-1]
    assert last.text == "Test. A person is a larger participant."
    assert loaded.text[last.char_span.start:last.char_span.end] == last.text


UNMARKED = """§ 900.5 Requests.
(a) General rules.
(1) Requests. A creditor may request any information.
(2) Special-purpose credit. A creditor may obtain information
otherwise restricted, as provided in § 900.8(b).
3. Other collection. A creditor may collect information under
the following circumstances:
i. A financial institution may collect it for closed-end
loans; or
ii. A creditor that reported data may collect it.
(b) Limitation. A creditor shall not inquire about race, except:
i. As set out in paragraph (a)(3) of this section.
1. Nor is this a paragraph.
(1) Self-test. A creditor may inquire for a self-test.
2. Sampling. A creditor may sample.
3. Reporting. Not a third paragraph: its sibling was printed "2."."""


def test_rule_paragraph_printed_n_dot_after_its_sibling_and_its_items_printed_i_dot():
    # 12 CFR 1002.5(a)(4) as the 2018 and 2022 prints set it: "4." and "i."/"ii." for "(4)" and "(i)"/"(ii)".
    loaded = doc(UNMARKED, fmt="pdf")
    clauses = split_clauses(loaded, info("12 CFR 900", "us-cfr"), "v", 2400)
    assert [(c.reference, c.path, c.text) for c in clauses] == [
        ("12 CFR 900.5(a)", ("§ 900.5", "(a)"), "General rules."),
        ("12 CFR 900.5(a)(1)", ("§ 900.5", "(a)", "(1)"), "Requests. A creditor may request any information."),
        ("12 CFR 900.5(a)(2)", ("§ 900.5", "(a)", "(2)"),
         "Special-purpose credit. A creditor may obtain information otherwise restricted, as provided in § 900.8(b)."),
        ("12 CFR 900.5(a)(3)", ("§ 900.5", "(a)", "(3)"),
         "Other collection. A creditor may collect information under the following circumstances:"),
        ("12 CFR 900.5(a)(3)(i)", ("§ 900.5", "(a)", "(3)", "(i)"),
         "A financial institution may collect it for closed-end loans; or"),
        ("12 CFR 900.5(a)(3)(ii)", ("§ 900.5", "(a)", "(3)", "(ii)"), "A creditor that reported data may collect it."),
        # Under a marked "(b)" an "i." is no item, and "1." follows no "(0)": both stay text.
        ("12 CFR 900.5(b)", ("§ 900.5", "(b)"),
         "Limitation. A creditor shall not inquire about race, except: i. As set out in paragraph (a)(3) of this "
         "section. 1. Nor is this a paragraph."),
        ("12 CFR 900.5(b)(1)", ("§ 900.5", "(b)", "(1)"), "Self-test. A creditor may inquire for a self-test."),
        ("12 CFR 900.5(b)(2)", ("§ 900.5", "(b)", "(2)"),
         'Sampling. A creditor may sample. 3. Reporting. Not a third paragraph: its sibling was printed "2.".'),
    ]
    for c in clauses:
        assert loaded.text[c.char_span.start:c.char_span.end].replace("\n", " ") == c.text
    assert clauses[3].char_span.start == UNMARKED.index("Other collection.")
    assert clauses[4].char_span.start == UNMARKED.index("A financial institution")


def test_comments_numbered_n_dot_in_the_interpretations_are_untouched():
    # The same shape in Supplement I is the comments' own numbering: "1." and "i." stay comments, though the rule
    # text left "(1)" open before it.
    text = ("§ 900.5 Requests.\n(a) General rules.\n(1) Requests. A creditor may request information.\n"
            "Supplement I to Part 900—Official Interpretations\nSection 900.5—Requests\n5(a)(1) Requests.\n"
            "1. Scope. A creditor may ask about:\ni. Income; or\nii. Assets.\n2. Other. See comment 5(a)(1)-1.")
    clauses = split_clauses(doc(text, fmt="pdf"), info("12 CFR 900", "us-cfr"), "v", 2400)
    assert [(c.reference, c.path, c.text) for c in clauses] == [
        ("12 CFR 900.5(a)", ("§ 900.5", "(a)"), "General rules."),
        ("12 CFR 900.5(a)(1)", ("§ 900.5", "(a)", "(1)"), "Requests. A creditor may request information."),
        ("12 CFR 900 Comment 5(a)(1)-1", ("Supplement I", "5(a)(1)", "1"), "Scope. A creditor may ask about:"),
        ("12 CFR 900 Comment 5(a)(1)-1.i", ("Supplement I", "5(a)(1)", "1", "i"), "Income; or"),
        ("12 CFR 900 Comment 5(a)(1)-1.ii", ("Supplement I", "5(a)(1)", "1", "ii"), "Assets."),
        ("12 CFR 900 Comment 5(a)(1)-2", ("Supplement I", "5(a)(1)", "2"), "Other. See comment 5(a)(1)-1."),
    ]


def test_marker_line_holding_only_its_printed_title_ends_a_paragraph():
    # The title line is as wide as the text lines around it, so its width does not say the paragraph ended.
    text = ("§ 900.4 Disclosures.\n"
            "(b) Rates. Each rate and the annual percentage yield for each balance level must be\n"
            "stated in the disclosures, with the period for which the rate will be in effect.\n"
            "(c) Notice to existing account holders Notice to existing account holders\n"
            "(1) Notice of availability of disclosures. Notice of availability of disclosures.\n"
            "Depository institutions shall provide a notice to consumers who receive periodic\n"
            "statements and hold existing accounts of the type offered by the institution.")
    clauses = split_clauses(doc(text, fmt="pdf"), info("12 CFR 900", "us-cfr"), "v", 2400)
    assert refs(clauses) == ["12 CFR 900.4(b)", "12 CFR 900.4(c)", "12 CFR 900.4(c)(1)"]
    assert clauses[1].text == "Notice to existing account holders Notice to existing account holders"


def test_clause_crossing_a_page_break_has_both_pages():
    text = "§ 900.4 Records.\n(a) A creditor shall keep records\nfor 25 months after notice.\n(b) Records may be electronic."
    page2 = text.index("for 25 months")
    clauses = split_clauses(doc(text, fmt="pdf", page_starts=(0, page2)), info("12 CFR 900", "us-cfr"), "v", 2400)
    assert [(c.reference, c.page_span) for c in clauses] == [
        ("12 CFR 900.4(a)", PageSpan(1, 2)), ("12 CFR 900.4(b)", PageSpan(2, 2))]
    assert clauses[0].text == "A creditor shall keep records for 25 months after notice."


def test_over_long_clause_splits_at_sentence_ends_and_keeps_reference():
    body = "The creditor shall act. It shall keep records for two years. Notices go out in writing. 第一句。第二句。"
    text = f"§ 900.5 Long.\n(a) {body}"
    loaded = doc(text)
    clauses = split_clauses(loaded, info("12 CFR 900", "us-cfr"), "v", 45)
    assert [c.part for c in clauses] == list(range(1, len(clauses) + 1)) and len(clauses) >= 3
    assert {c.reference for c in clauses} == {"12 CFR 900.5(a)"}
    assert all(len(c.text) <= 45 for c in clauses)
    assert [c.text for c in clauses[:3]] == ["The creditor shall act.", "It shall keep records for two years.",
                                             "Notices go out in writing. 第一句。第二句。"]
    for c in clauses:
        assert loaded.text[c.char_span.start:c.char_span.end] == c.text


EU = """CHAPTER III
Rights of the data subject
Article 17
Right to erasure
1. The data subject shall have the right to erasure where one of the following grounds applies:
(a) the personal data are no longer necessary;
(b) the data subject withdraws consent on which the processing is based according to point (a) of
Article 6(1), and where there is no other legal ground;
2. Where the controller has made the personal data public, Article 6(1) applies.
Article 18
Right to restriction
1. The data subject shall have the right to restriction."""


def test_eu_articles_paragraphs_points_and_cross_references():
    clauses = split_clauses(doc(EU, fmt="pdf"), info("GDPR", "eu"), "v", 2400)
    assert refs(clauses) == ["GDPR Art. 17(1)", "GDPR Art. 17(1)(a)", "GDPR Art. 17(1)(b)", "GDPR Art. 17(2)",
                             "GDPR Art. 18(1)"]
    point = clauses[2]
    assert point.path == ("Art. 17", "(1)", "(b)")
    assert point.text.startswith("the data subject withdraws consent") and "Article 6(1), and where" in point.text
    assert point.headings == ("CHAPTER III Rights of the data subject", "Article 17 Right to erasure")


PRC = """第三章 金融机构反洗钱义务
第二十九条 有下列情形之一的，金融机构应当开展客户尽职调查：
（一）与客户建立业务关系；
（二）有合理理由怀疑客户及其交易涉嫌洗钱活动；
前款规定以外的情形，依照本法
第三条规定处理。
第三十条 在业务关系存续期间，金融机构应当持续关注。"""


def test_prc_articles_items_and_wrapped_cross_reference():
    clauses = split_clauses(doc(PRC, fmt="pdf"), info("反洗钱法", "prc"), "v", 2400)
    assert refs(clauses) == ["反洗钱法 第二十九条", "反洗钱法 第二十九条（一）", "反洗钱法 第二十九条（二）",
                             "反洗钱法 第二十九条", "反洗钱法 第三十条"]
    assert clauses[0].text == "有下列情形之一的，金融机构应当开展客户尽职调查："
    assert clauses[1].path == ("第二十九条", "（一）")
    # The line break inside a Chinese sentence vanishes from the clause text.
    assert clauses[3].text == "前款规定以外的情形，依照本法第三条规定处理。"
    assert clauses[0].headings == ("第三章 金融机构反洗钱义务",)


def test_prc_article_numbers_count_past_a_hundred_and_ascii_digits_count_too():
    text = "第九十九条 甲。\n第一百条 乙。\n第一百零一条 丙。\n第一百一十条规定的情形。\n第102条 丁。"
    clauses = split_clauses(doc(text), info("法", "prc"), "v", 2400)
    # 第一百一十条 is not the next article and is not set off by a space: a cross-reference, text of 第一百零一条.
    assert refs(clauses) == ["法 第九十九条", "法 第一百条", "法 第一百零一条", "法 第102条"]


FILING = """PART I
ITEM 1. BUSINESS
We are a payments company.
ITEM 1A. RISK FACTORS
Our business is exposed to credit risk.
PART II
ITEM 7. MANAGEMENT'S DISCUSSION AND ANALYSIS
EXECUTIVE OVERVIEW
Revenues grew 25 percent, as discussed in Item 8.
Credit Metrics
Net write-offs remained low."""


def test_filing_sections_by_items_and_headings():
    clauses = split_clauses(doc(FILING, fmt="pdf"), info("Acme 2022 Form 10-K", "headings"), "v", 2400)
    assert refs(clauses) == ["Acme 2022 Form 10-K Item 1", "Acme 2022 Form 10-K Item 1A",
                             "Acme 2022 Form 10-K Item 7", "Acme 2022 Form 10-K Item 7"]
    assert clauses[2].headings == ("PART II", "ITEM 7. MANAGEMENT'S DISCUSSION AND ANALYSIS", "EXECUTIVE OVERVIEW")
    assert clauses[3].headings[-1] == "Credit Metrics" and clauses[3].text == "Net write-offs remained low."


@pytest.mark.parametrize("name, text, expected", [
    # a date in the file name is not the document's word: unknown, never guessed
    ("12cfr1002_2017-20417_20220101.pdf", "12 CFR Part 1002 — EQUAL CREDIT OPPORTUNITY ACT\n§ 1002.1 Authority.",
     ("12 CFR 1002", Kind.REGULATION, "US", "en", None, "us-cfr")),
    ("12cfr1004_2011-18676.html", "12 CFR Part 1004 — PARITY\nEffective date: 2011-07-22 · FR\n§ 1004.1 Authority.",
     ("12 CFR 1004", Kind.REGULATION, "US", "en", date(2011, 7, 22), "us-cfr")),
    ("gdpr_2016-679.pdf", "Regulation (EU) 2016/679 — General Data Protection Regulation\nArticle 1\nx\nArticle 2\n"
     "y\nArticle 3\nIt shall apply from 25 May 2018.", ("GDPR", Kind.REGULATION, "EU", "en", date(2018, 5, 25), "eu")),
    ("反洗钱法(2024-11-08).pdf", "中华人民共和国反洗钱法\n第一条 为了预防洗钱活动。\n第二条 本法所称。\n第三条 工作。",
     ("反洗钱法", Kind.REGULATION, "CN", "zh", None, "prc")),
    ("反洗钱法(2024-11-08).pdf", "中华人民共和国反洗钱法\n第一条 为了预防洗钱活动。\n第二条 本法所称。\n"
     "第三条 本条例施行前的规定。\n第六十五条 本法自2025年1月1日起施行。",
     ("反洗钱法", Kind.REGULATION, "CN", "zh", date(2025, 1, 1), "prc")),
    ("axp_10k.pdf", "Form 10-K\nFor the fiscal year ended December 31, 2022\nAmerican Express Company\n"
     "(Exact name of registrant as specified in its charter)", ("American Express 2022 Form 10-K", Kind.FILING, "US",
                                                                 "en", None, "headings")),
    ("board_memo.md", "Quarterly risk memo\nNothing numbered here.", ("board_memo", Kind.REPORT, "", "en", None,
                                                                      "headings")),
])
def test_identify_names_the_instrument_not_the_file(name, text, expected):
    loaded = LoadedText(text=text, page_starts=(0,), format="text", title=text.split("\n")[0])
    got = identify(name, loaded)
    assert (got.doc_id, got.kind, got.jurisdiction, got.language, got.effective_from, got.scheme) == expected


def test_printed_pdf_clause_spans_and_pages_match_the_pdf(tmp_path):
    from pypdf import PdfReader

    pages = [
        "<h1>12 CFR Part 900 — Sample Rule</h1><p>Effective date: 2020-01-01</p><h3>§ 900.9 Notifications.</h3>"
        "<p>(a) Timing. A creditor shall notify an applicant of action taken within 30 days after receiving a "
        "completed application, and shall keep a copy of the notice in the file.</p>",
        "<p>This duty continues for as long as the account is open.</p><p>(b) Form. Notices shall be in writing.</p>",
    ]
    pdf = html_to_pdf(pages_html(pages), tmp_path / "12cfr900_sample.pdf")
    loaded = load_file(pdf)
    got = identify(pdf, loaded)
    assert (got.doc_id, got.effective_from) == ("12 CFR 900", date(2020, 1, 1))
    clauses = {c.reference: c for c in split_clauses(loaded, got, "v", 2400)}
    timing, form = clauses["12 CFR 900.9(a)"], clauses["12 CFR 900.9(b)"]
    assert timing.page_span == PageSpan(1, 2) and form.page_span == PageSpan(2, 2)
    assert form.text == "Form. Notices shall be in writing."
    assert timing.text.startswith("Timing. A creditor") and timing.text.endswith("as long as the account is open.")
    reader = PdfReader(pdf)
    assert "Notices shall be in writing" in reader.pages[1].extract_text()
    assert "Notices shall be in writing" not in reader.pages[0].extract_text()
