"""The parser on the real documents in ../shared/corpus (skipped where that folder is absent)."""
from __future__ import annotations

import importlib.util
import io
import sys
from functools import lru_cache
from pathlib import Path

import pytest

from ingest.clauses import split_clauses
from ingest.identify import identify
from ingest.load import load_file
from rag.errors import DocumentError
from tests.conftest import ROOT, shared_path

REG_B_PDF = "corpus/regulations/us-cfr/12cfr1002_2017-20417_20220101.pdf"
GDPR_PDF = "corpus/regulations/eu/gdpr_2016-679.pdf"
AML_PDF = "corpus/regulations/cn/反洗钱法(2024-11-08).pdf"


@lru_cache(maxsize=None)
def parsed(relative: str):
    path = shared_path(relative)
    loaded = load_file(path)
    info = identify(path, loaded)
    return path, loaded, info, split_clauses(loaded, info, "test", 2400)


def clause(relative: str, reference: str):
    found = [c for c in parsed(relative)[3] if c.reference == reference]
    assert found, f"{reference} not among the clauses of {relative}"
    return found[0]


def test_reg_b_pdf_clause_text_and_page_match_the_pdf():
    from pypdf import PdfReader

    path, loaded, info, _ = parsed(REG_B_PDF)
    assert (info.doc_id, info.scheme, str(info.effective_from)) == ("12 CFR 1002", "us-cfr", "2022-01-01")
    c = clause(REG_B_PDF, "12 CFR 1002.9(a)(1)(iii)")
    assert c.text.startswith("30 days after taking adverse action on an existing account")
    assert c.path == ("§ 1002.9", "(a)", "(1)", "(iii)")
    # Independently: the page whose own text holds the sentence, read page by page with pypdf.
    needle = "30 days after taking adverse action on an existing account"
    pages = [n for n, page in enumerate(PdfReader(path).pages, 1) if needle in page.extract_text()]
    assert pages and c.page_span.first == pages[0] and c.page_span.last in (pages[0], pages[0] + 1)
    assert loaded.text[c.char_span.start:c.char_span.end].startswith(needle)


def test_gdpr_pdf_article_17_1_b_is_the_withdrawal_of_consent():
    c = clause(GDPR_PDF, "GDPR Art. 17(1)(b)")
    assert "withdraws consent" in c.text
    assert c.path == ("Art. 17", "(1)", "(b)")
    assert any("Article 17" in h for h in c.headings)


def test_aml_law_pdf_article_29_and_its_items():
    _, _, info, clauses = parsed(AML_PDF)
    assert (info.doc_id, info.language, info.jurisdiction) == ("反洗钱法", "zh", "CN")
    c = clause(AML_PDF, "反洗钱法 第二十九条")
    assert c.text.startswith("有下列情形之一的，金融机构应当开展客户尽职调查")
    assert clause(AML_PDF, "反洗钱法 第二十九条（一）").path == ("第二十九条", "（一）")
    articles = [c.reference for c in clauses if c.path and len(c.path) == 1 and c.part in (0, 1)]
    assert len(set(articles)) >= 60  # every article of the 2024 law became a clause, none swallowed


REG_DD = ("corpus/formats/us-cfr-html/12cfr1030_2011-31727.html", "corpus/regulations/us-cfr/12cfr1030_2011-31727.pdf")
LARGER_PARTICIPANTS = "corpus/regulations/us-cfr/12cfr1090_2012-17603.html"


@pytest.mark.parametrize("relative", REG_DD)
def test_reg_dd_comments_under_paragraph_headings_name_the_full_target(relative):
    # "Paragraph (a)(2)(i)." in Supplement I names the target; its comments are not comments on 4(a)(2).
    c = clause(relative, "12 CFR 1030 Comment 4(a)(2)(i)-1")
    assert c.text.startswith("Inquiries versus requests. A response to an oral inquiry")
    assert c.headings[-3:] == ("(a) Delivery of account disclosures.", "(a)(2) Requests.", "Paragraph (a)(2)(i).")
    assert clause(relative, "12 CFR 1030 Comment 4(b)(1)(ii)(D)-1").text.startswith("Limitations. A floor or ceiling")
    # "iv An institution…" is printed without its period.
    assert clause(relative, "12 CFR 1030 Comment 3(c)-1.iv").text.startswith("An institution relies on Regulation E")
    loaded = parsed(relative)[1]
    assert loaded.text[c.char_span.start:c.char_span.end].startswith("Inquiries versus requests.")


def test_reg_dd_pdf_paragraph_after_a_title_only_line_is_a_clause():
    c = clause(REG_DD[1], "12 CFR 1030.8(e)(2)(ii)(A)")
    assert c.text.startswith("State the rate as an “annual percentage yield,”")
    assert clause(REG_DD[1], "12 CFR 1030.4(c)(1)").text.startswith("Notice of availability of disclosures.")
    assert c.page_span.first >= 1


def test_larger_participant_numerals_at_letter_depth_keep_their_children_and_the_next_letter():
    assert clause(LARGER_PARTICIPANTS, "12 CFR 1090.105(iii)(A)").text == "Concerns a debt which was originated by such person; or"
    assert clause(LARGER_PARTICIPANTS, "12 CFR 1090.106(ii)(B)").text.startswith("Communicating with the borrower")
    for section in ("104", "105", "106"):
        assert clause(LARGER_PARTICIPANTS, f"12 CFR 1090.{section}(b)").text.startswith("Test to define larger participants.")
    # A cross-reference inside a clause stays text: "paragraph (ii) of this definition" starts nothing.
    assert not any(c.text.startswith("of this definition") for c in parsed(LARGER_PARTICIPANTS)[3])


def _error_files(tmp_path: Path) -> dict[str, bytes]:
    from pypdf import PdfReader, PdfWriter

    real = shared_path(AML_PDF).read_bytes()
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(real)))
    writer.encrypt(user_password="secret", algorithm="RC4-128")
    encrypted = io.BytesIO()
    writer.write(encrypted)
    return {"encrypted.pdf": encrypted.getvalue(), "truncated.pdf": real[: len(real) // 2],
            "empty.pdf": b"", "binary.txt": bytes(range(256)) * 64}


@pytest.mark.parametrize("name, reason", [
    ("encrypted.pdf", "encrypted PDF: remove the password"), ("truncated.pdf", "corrupt or truncated PDF"),
    ("empty.pdf", "empty file"), ("binary.txt", "binary file"),
])
def test_damaged_copies_of_real_files_raise_document_error(tmp_path, name, reason):
    path = tmp_path / name
    path.write_bytes(_error_files(tmp_path)[name])
    with pytest.raises(DocumentError, match=reason):
        load_file(path)


def _coverage_module():
    spec = importlib.util.spec_from_file_location("clause_coverage", ROOT / "benchmarks" / "clause_coverage.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["clause_coverage"] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_regml_labelled_paragraphs_come_out_as_clauses_with_their_reference():
    shared_path("corpus/formats/us-cfr-xml")
    coverage = _coverage_module()
    rows = [coverage.coverage(path, xml) for path, xml in coverage.documents()]
    assert len(rows) >= 25
    total = sum(r["labelled"] for r in rows)
    matched = sum(r["matched"] for r in rows)
    assert matched / total >= 0.95, f"overall {matched / total:.3f}"
    low = [(r["file"], r["share"]) for r in rows if r["share"] < 0.95]
    assert not low, low
