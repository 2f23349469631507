"""load_file: text and page offsets per format, and a DocumentError with an actionable reason for bad files."""
from __future__ import annotations

import io

import pytest
from pdfgen import html_to_pdf, pages_html

from ingest.load import load_file
from rag.errors import DocumentError
from rag.formats import SUFFIX_FORMATS, format_of, supported_suffixes


def test_markdown_keeps_headings_as_lines_and_drops_markup(tmp_path):
    path = tmp_path / "part900.md"
    path.write_text("# Part 900 - Notices\n\n§ 900.1 Purpose.\n\n(a) A **lender** shall notify.\r\n", encoding="utf-8")
    loaded = load_file(path)
    assert loaded.text == "Part 900 - Notices\n§ 900.1 Purpose.\n(a) A lender shall notify."
    assert loaded.heading_levels == (1, 0, 0)
    assert (loaded.format, loaded.title, loaded.page_starts) == ("markdown", "Part 900 - Notices", (0,))


def test_html_gives_one_line_per_block_with_headings_and_indents(tmp_path):
    path = tmp_path / "reg.html"
    path.write_text(
        "<html><head><title>12 CFR Part 900</title><script>var x = 1;</script></head><body>"
        "<h3>§ 900.9 Notifications.</h3>"
        '<p style="margin-left:0.0em">(a) <em>Timing.</em> A creditor\nshall notify:</p>'
        '<p style="margin-left:1.2em">(1) within&nbsp;30 days.</p>'
        "<table><tr><td>Fee</td><td>$5</td></tr></table></body></html>", encoding="utf-8")
    loaded = load_file(path)
    assert loaded.text.split("\n") == [
        "§ 900.9 Notifications.", "(a) Timing. A creditor shall notify:", "(1) within 30 days.", "Fee | $5"]
    assert loaded.heading_levels == (3, 0, 0, 0)
    assert loaded.indents == (-1, 0, 12, -1)
    assert loaded.title == "12 CFR Part 900"


def test_pdf_page_starts_point_at_each_page_text(tmp_path):
    pdf = html_to_pdf(pages_html(["<p>Page one says alpha.</p>", "<p>Page two says beta.</p>",
                                  "<p>Page three says ﬁnal gamma.</p>"]), tmp_path / "three.pdf")
    loaded = load_file(pdf)
    assert loaded.format == "pdf" and len(loaded.page_starts) == 3
    for number, word in enumerate(("alpha", "beta", "final gamma")):
        start = loaded.page_starts[number]
        end = loaded.page_starts[number + 1] if number + 1 < 3 else len(loaded.text)
        assert word in loaded.text[start:end]
    assert "ﬁ" not in loaded.text  # normalised while pages were joined, so offsets count normalised text


def _encrypted_pdf(tmp_path):
    from pypdf import PdfReader, PdfWriter

    plain = html_to_pdf(pages_html(["<p>Secret text on a page.</p>"]), tmp_path / "plain.pdf")
    writer = PdfWriter(clone_from=PdfReader(plain))
    writer.encrypt(user_password="secret", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _scanned_pdf(tmp_path):
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(612, 792)
    writer.add_blank_page(612, 792)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.parametrize("name, make, reason", [
    ("locked.pdf", _encrypted_pdf, r"encrypted.*password"),
    ("scan.pdf", _scanned_pdf, r"no text layer.*OCR"),
    ("cut.pdf", lambda tmp: html_to_pdf(pages_html(["<p>Some text.</p>"] * 3), tmp / "whole.pdf").read_bytes()[:900],
     r"corrupt or truncated"),
    ("junk.pdf", lambda tmp: b"%PDF-1.4\n" + bytes(range(256)) * 8, r"corrupt or truncated"),
    ("empty.md", lambda tmp: b"", r"empty"),
    ("blank.txt", lambda tmp: b"  \n\n  ", r"empty"),
    ("data.txt", lambda tmp: b"\x00\x01\x02binary\x00" * 50, r"binary"),
    ("report.docx", lambda tmp: b"PK\x03\x04" + b"x" * 100, r"unsupported file type '\.docx'"),
])
def test_bad_files_raise_document_error_with_reason(tmp_path, name, make, reason):
    path = tmp_path / name
    path.write_bytes(make(tmp_path))
    with pytest.raises(DocumentError, match=reason) as err:
        load_file(path)
    assert err.value.path == str(path)


@pytest.mark.parametrize("suffix", sorted(SUFFIX_FORMATS) + [""])
def test_the_loader_reads_every_suffix_rag_formats_names(tmp_path, suffix):
    if suffix == ".pdf":
        path = html_to_pdf(pages_html(["<p>Some text here.</p>"]), tmp_path / "a.pdf")
    else:
        path = tmp_path / f"a{suffix}"
        path.write_text("<p>Some text here.</p>" if format_of(path) == "html" else "Some text here.", encoding="utf-8")
    assert load_file(path).format == format_of(path)


def test_an_unsupported_suffix_names_the_supported_ones(tmp_path):
    path = tmp_path / "report.docx"
    path.write_bytes(b"PK\x03\x04")
    with pytest.raises(DocumentError) as err:
        load_file(path)
    assert err.value.reason.endswith(f"convert it to one of {supported_suffixes()}")
