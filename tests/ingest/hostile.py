"""Hostile and malformed files, built by code (no committed binaries): what an ingest must skip or survive.

`python -m tests.ingest.hostile FOLDER` writes the whole set (with two valid files beside them) into FOLDER, for
`regcite ingest FOLDER --json` to show the report by hand.
"""
from __future__ import annotations

import io
import os
import sys
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

GIB = 1 << 30


def raw_pdf(objects: list[bytes], root: int = 1) -> bytes:
    """A PDF of the given object bodies (object n is objects[n-1]) with a correct cross-reference table."""
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, root, xref))
    return out.getvalue()


def _stream(data: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d %s>>\nstream\n" % (len(data), extra) + data + b"\nendstream"


_FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"


def text_pdf(lines: list[str]) -> bytes:
    """A valid one-page PDF with a text layer (Helvetica, one line each)."""
    ops = b"BT /F1 11 Tf 72 740 Td 14 TL " + b" ".join(b"(%s) '" % line.encode("latin-1") for line in lines) + b" ET"
    return raw_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>", _FONT,
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
        b"/Contents 5 0 R >>", _stream(ops),
    ])


def deflated_zeros(size: int) -> bytes:
    """A zlib stream that inflates to `size` zero bytes, built in a second: one 64 MB block compressed after a full
    flush is byte-identical each time, so it is repeated rather than recompressed; the trailer's Adler-32 of n zeros
    is ((n mod 65521) << 16) | 1."""
    block = 64 << 20
    assert size % block == 0
    c = zlib.compressobj(9)
    first = c.compress(b"\0" * block) + c.flush(zlib.Z_FULL_FLUSH)
    again = c.compress(b"\0" * block) + c.flush(zlib.Z_FULL_FLUSH)
    body = first + again * (size // block - 1)
    end = c.flush(zlib.Z_FINISH)[:-4]  # the empty final block, without the trailer of only 128 MB fed
    return body + end + (((size % 65521) << 16) | 1).to_bytes(4, "big")


def bomb_pdf(inflated: int = 4 * GIB) -> bytes:
    """A page whose content stream is a few MB of deflate that inflates to gigabytes."""
    return raw_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>", _FONT,
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
        b"/Contents 5 0 R >>", _stream(deflated_zeros(inflated), b"/Filter /FlateDecode "),
    ])


def nested_pdf(depth: int = 200_000) -> bytes:
    """A page whose resources hold an array nested `depth` deep."""
    return raw_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /X " + b"[" * depth + b"]" * depth
        + b" >> /Contents 4 0 R >>", _stream(b"BT /F1 11 Tf 72 740 Td (Nested) Tj ET"),
    ])


def loop_pdf() -> bytes:
    """A page tree whose node lists itself among its kids, and a content stream whose length refers to itself."""
    return raw_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
        b"<< /Length 5 0 R >>\nstream\nBT ET\nendstream", b"6 0 R", b"5 0 R",
    ])


def empty_pages_pdf(pages: int = 20_000) -> bytes:
    """`pages` pages with nothing on them."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b""]
    kids = []
    for _ in range(pages):
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>")
        kids.append(b"%d 0 R" % len(objects))
    objects[1] = b"<< /Type /Pages /Kids [" + b" ".join(kids) + b"] /Count %d >>" % pages
    return raw_pdf(objects)


def one_line_html(size: int = 50 << 20) -> bytes:
    """An HTML file whose body is one line of `size` bytes."""
    sentence = b"A creditor shall keep each record for twenty-five months. "
    return (b"<html><head><title>One line</title></head><body><p>" + sentence * (size // len(sentence))
            + b"</p></body></html>")


def nested_html(depth: int = 100_000) -> bytes:
    """Blocks nested `depth` deep around one sentence."""
    return b"<html><body>" + b"<div>" * depth + b"Deep text." + b"</div>" * depth + b"</body></html>"


def laughs_html(levels: int = 10) -> bytes:
    """Billion laughs: entities defined ten to a level, ten levels deep (10^10 "lol"s if expanded)."""
    defs = [b'<!ENTITY lol0 "lol">'] + [
        b'<!ENTITY lol%d "%s">' % (i, b"".join(b"&lol%d;" % (i - 1) for _ in range(10))) for i in range(1, levels)]
    return (b'<?xml version="1.0"?>\n<!DOCTYPE html [' + b"".join(defs) + b']>\n<html><body><p>Laughs: &lol%d;</p>'
            b"</body></html>" % (levels - 1))


def invalid_utf8_text() -> bytes:
    return (b"Sample notice\n\nA creditor shall send the notice \xc3\x28 within 30 days \xff\xfe\xfd and keep "
            b"\xed\xa0\x80 a copy \xf0\x28\x8c\x28 of it.\n")


def zip_named_pdf() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("word/document.xml", "<w:document>not a PDF</w:document>")
    return out.getvalue()


VALID_MD = """# 12 CFR Part 950 - Sample Hostile Neighbours

## § 950.1 Scope.

(a) This part applies to every creditor that keeps records of applications.

## § 950.2 Retention.

(a) A creditor shall retain each application record for 25 months.
"""
VALID_PDF_LINES = ["12 CFR Part 951 - Sample PDF Neighbour", "Section 951.1 Scope.",
                   "(a) This part applies to every lender that sends notices of action taken."]


@dataclass(frozen=True)
class Hostile:
    name: str  # the file name in the folder
    build: Callable[[], bytes]
    what: str  # for the test id and the README table


HOSTILE = (
    Hostile("bomb.pdf", bomb_pdf, "PDF decompression bomb: ~4 MB inflating to 4 GiB"),
    Hostile("nested.pdf", nested_pdf, "PDF with an array nested 200,000 deep"),
    Hostile("loop.pdf", loop_pdf, "PDF whose page tree and stream length refer to themselves"),
    Hostile("empty-pages.pdf", empty_pages_pdf, "PDF of 20,000 empty pages"),
    Hostile("one-line.html", one_line_html, "HTML with a single 50 MB line"),
    Hostile("nested.html", nested_html, "HTML with blocks nested 100,000 deep"),
    Hostile("laughs.xhtml", laughs_html, "HTML with entity expansion (billion laughs)"),
    Hostile("invalid-utf8.txt", invalid_utf8_text, "text with invalid UTF-8"),
    Hostile("archive.pdf", zip_named_pdf, "a ZIP named .pdf"),
)
VALID = ("valid.md", "valid.pdf")
LINKS = ("link-a.md", "link-b.md", "sub/up")  # a loop of two file links, and a folder link to its own parent


def write_folder(folder: Path) -> Path:
    """Every hostile file, the two valid ones and the link loops, in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for item in HOSTILE:
        (folder / item.name).write_bytes(item.build())
    (folder / "valid.md").write_text(VALID_MD, encoding="utf-8")
    (folder / "valid.pdf").write_bytes(text_pdf(VALID_PDF_LINES))
    os.symlink("link-b.md", folder / "link-a.md")
    os.symlink("link-a.md", folder / "link-b.md")
    (folder / "sub").mkdir()
    os.symlink("..", folder / "sub" / "up")
    return folder


if __name__ == "__main__":
    print(write_folder(Path(sys.argv[1])))
