"""Load PDF, HTML, Markdown and plain text into one normalised text with page offsets and line structure."""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from rag.errors import DocumentError
from rag.formats import format_of, supported_suffixes
from ingest.visible_text import drop_hidden_html, visible_markdown, visible_page_text
from rag.normalize import normalize_text

log = logging.getLogger(__name__)

_BLOCKS = {"p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "blockquote", "pre", "dt", "dd",
           "section", "article", "td", "th", "caption", "figcaption", "address", "center"}
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_SKIP = {"script", "style", "head", "noscript", "template", "svg", "button", "nav"}
_MARGIN = re.compile(r"margin-left\s*:\s*([0-9.]+)\s*(em|rem|px|pt)?", re.I)
_SPACES = re.compile(r"[ \t\n\u00a0]+")  # "\n" too: NFKC and the line separators (U+2028) make breaks inside one line
_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_MD_INLINE = re.compile(r"\*\*|__|`")
# Fewer non-space characters per page than this on average: no usable text layer (scans carry none or a page number).
_MIN_CHARS_PER_PAGE = 5


@dataclass(frozen=True)
class LoadedText:
    """A file as normalised text. Lines are text.split("\\n"); per-line tuples are empty when unknown."""

    text: str
    page_starts: tuple[int, ...]  # offset in text where each page begins; (0,) for unpaged formats
    format: str  # "pdf" | "html" | "markdown" | "text"
    title: str
    heading_levels: tuple[int, ...] = ()  # per line: 1..6 for a heading, 0 for body text
    indents: tuple[int, ...] = ()  # per line: left margin in tenths of an em as the source styled it; -1 unknown


def load_file(path: str | Path) -> LoadedText:
    """Read a file into normalised text; raises DocumentError saying what is wrong and what to do."""
    path = Path(path)
    fmt = format_of(path)
    if fmt is None:
        raise DocumentError(str(path),
                            f"unsupported file type {path.suffix!r}; convert it to one of {supported_suffixes()}")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DocumentError(str(path), f"cannot read the file: {e.strerror or e}") from None
    if not data.strip():
        raise DocumentError(str(path), "empty file: no text to index")
    try:
        if fmt == "pdf":
            return _load_pdf(path, data)
        raw = _decode(path, data)
        if fmt == "html":
            return _load_html(path, raw)
        if fmt == "markdown":
            return _load_markdown(path, raw)
        return _load_plain(path, raw)
    except RecursionError:  # a structure nested deeper than Python's stack (the HTML walk, pypdf's object reader)
        raise DocumentError(str(path), "nested too deeply to read: a malformed or hostile file") from None


def _decode(path: Path, data: bytes) -> str:
    if data.startswith(b"%PDF-"):
        raise DocumentError(str(path), "this is a PDF with the wrong extension; rename it to .pdf")
    for bom, codec in ((b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            return data.decode(codec, errors="replace")
    if b"\x00" in data[:8192]:
        raise DocumentError(str(path), "binary file, not text: convert it to PDF, HTML, Markdown or plain text")
    for codec in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(codec)
            break
        except UnicodeDecodeError:
            continue
    else:
        text = data.decode("latin-1")
    controls = sum(1 for ch in text[:8192] if ord(ch) < 32 and ch not in "\n\r\t\f")
    if controls > 0.01 * min(len(text), 8192):
        raise DocumentError(str(path), "binary file, not text: convert it to PDF, HTML, Markdown or plain text")
    return text


def _load_pdf(path: Path, data: bytes) -> LoadedText:
    import io

    from pypdf import PdfReader
    from pypdf.errors import LimitReachedError, PdfReadError

    if not data.startswith(b"%PDF-") and b"%PDF-" not in data[:1024]:
        raise DocumentError(str(path), "not a PDF (no %PDF header): the file is corrupt or mislabelled")
    complaints = _Complaints()  # what pypdf logs and reads past: say it when no text comes out
    logging.getLogger("pypdf").addHandler(complaints)
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            # An empty user password (owner-only protection) still opens; anything else needs the password.
            try:
                opened = reader.decrypt("")
            except Exception:  # noqa: BLE001 - pypdf raises several types for unsupported crypto
                opened = 0
            if not opened:
                raise DocumentError(str(path), "encrypted PDF: remove the password (e.g. qpdf --decrypt) and ingest again")
        pages = reader.pages
        count = len(pages)
        parts: list[str] = []
        starts: list[int] = []
        offset = 0
        for page in pages:
            text = normalize_text(visible_page_text(page)).strip("\n")  # invisible text is no text
            starts.append(offset)
            parts.append(text)
            offset += len(text) + 1  # the "\n" that joins this page to the next
        title = _pdf_title(reader)
    except DocumentError:
        raise
    except LimitReachedError as e:
        raise DocumentError(str(path), f"a compressed stream inflates past pypdf's safety limit ({e}): a "
                                       "decompression bomb, or a PDF too large to read; re-export it") from None
    except (MemoryError, RecursionError):  # the sandbox and load_file say which limit it was
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError) as e:
        raise DocumentError(str(path), f"corrupt or truncated PDF ({type(e).__name__}: {e}); re-download or re-export it") from None
    except Exception as e:  # noqa: BLE001 - pypdf surfaces damaged files as many exception types
        raise DocumentError(str(path), f"corrupt or truncated PDF ({type(e).__name__}: {e}); re-download or re-export it") from None
    finally:
        logging.getLogger("pypdf").removeHandler(complaints)
    if count == 0:
        raise DocumentError(str(path), "PDF has no pages; re-export it")
    text = "\n".join(parts)
    if sum(len(p) - p.count(" ") - p.count("\n") for p in parts) < _MIN_CHARS_PER_PAGE * count:
        if complaints.first:
            raise DocumentError(str(path), f"no readable text: pypdf could not read parts of it ({complaints.first}); "
                                           "the PDF is corrupt or malformed, re-export it")
        raise DocumentError(str(path), "PDF has no text layer (scanned images?): OCR it first (e.g. ocrmypdf) and ingest the result")
    first_line = next((line.strip() for line in text.split("\n") if line.strip()), "")
    return LoadedText(text=text, page_starts=tuple(starts), format="pdf", title=title or first_line or path.stem)


class _Complaints(logging.Handler):
    """Keeps the first warning pypdf logs while it reads one file."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.first = ""

    def emit(self, record: logging.LogRecord) -> None:
        if not self.first:
            self.first = record.getMessage()[:200]


def _pdf_title(reader) -> str:
    try:
        title = (reader.metadata or {}).get("/Title") or ""
    except Exception:  # noqa: BLE001 - broken metadata must not fail an otherwise readable file
        return ""
    title = normalize_text(str(title)).strip()
    # Chromium writes the HTML <title>; generic producer names say nothing about the document.
    return "" if title.lower() in ("", "untitled", "document") or title.endswith((".html", ".htm")) else title


def _load_html(path: Path, raw: str) -> LoadedText:
    import lxml.html

    # huge_tree: without it libxml2 silently drops a text node over 10 MB (a long one-line file loses its text);
    # what bounds a huge file is the parse sandbox's memory and time limits. The HTML parser never expands entities
    # a DOCTYPE defines, nor fetches anything (no_network), so entity tricks stay literal text.
    parser = lxml.html.HTMLParser(encoding="utf-8", huge_tree=True, no_network=True, remove_pis=True)
    try:
        root = lxml.html.document_fromstring(raw.encode("utf-8"), parser=parser)
    except MemoryError:
        raise
    except Exception as e:  # noqa: BLE001 - lxml raises ParserError and ValueError for junk
        raise DocumentError(str(path), f"unreadable HTML ({e}); re-save it as HTML or PDF") from None
    lines: list[str] = []
    levels: list[int] = []
    indents: list[int] = []
    drop_hidden_html(root)  # comments and hidden elements: what no reader sees reaches no model
    body = root.find("body")
    _walk_html(root if body is None else body, lines, levels, indents)
    if not lines:
        raise DocumentError(str(path), "HTML has no visible text to index")
    title_el = root.find(".//title")
    title = normalize_text(title_el.text_content()).strip() if title_el is not None else ""
    if not title:
        title = next((line for line, level in zip(lines, levels) if level), lines[0])
    return LoadedText("\n".join(lines), (0,), "html", _collapse(title), tuple(levels), tuple(indents))


def _walk_html(el, lines: list[str], levels: list[int], indents: list[int]) -> None:
    """One line per leaf block (paragraph, heading, table row); inline text between blocks is its own line."""
    pending: list[str] = []

    def flush() -> None:
        text = _collapse(normalize_text("".join(pending)))
        pending.clear()
        if text:
            lines.append(text)
            levels.append(0)
            indents.append(-1)

    if el.text:
        pending.append(el.text)
    for child in el:
        tag = child.tag if isinstance(child.tag, str) else ""
        tag = tag.lower()
        if tag in _SKIP or not tag:
            pass
        elif tag == "br":
            flush()
        elif tag in _BLOCKS and (tag in _HEADINGS or tag in ("tr", "pre") or not _has_block(child)):
            flush()
            if tag == "tr":
                cells = [_collapse(normalize_text(c.text_content())) for c in child if isinstance(c.tag, str)]
                text = " | ".join(c for c in cells if c)
            elif tag == "pre":
                text = normalize_text(child.text_content()).strip("\n")
            else:
                text = _block_text(child)
            for line in text.split("\n"):
                line = line if tag == "pre" else _collapse(line)
                if line.strip():
                    lines.append(line)
                    levels.append(_HEADINGS.get(tag, 0))
                    indents.append(_indent_of(child))
        elif tag in _BLOCKS or _has_block(child):
            flush()
            _walk_html(child, lines, levels, indents)
        else:
            pending.append(child.text_content())
        if child.tail:
            pending.append(child.tail)
    flush()


def _block_text(el) -> str:
    parts: list[str] = []
    for node in el.iter():
        if node is not el and isinstance(node.tag, str) and node.tag.lower() == "br":
            parts.append("\n")
        # Source line breaks are layout, not text: only <br> breaks a block into lines.
        if node.text and (node is el or not (isinstance(node.tag, str) and node.tag.lower() in _SKIP)):
            parts.append(node.text.replace("\n", " "))
        if node is not el and node.tail:
            parts.append(node.tail.replace("\n", " "))
    return normalize_text("".join(parts))


def _has_block(el) -> bool:
    return any(isinstance(d.tag, str) and d.tag.lower() in _BLOCKS for d in el.iterdescendants())


def _indent_of(el) -> int:
    match = _MARGIN.search(el.get("style") or "")
    if not match:
        return -1
    value, unit = float(match.group(1)), (match.group(2) or "px").lower()
    em = value if unit in ("em", "rem") else value / (16.0 if unit == "px" else 12.0)
    return int(round(em * 10))


def _collapse(s: str) -> str:
    return _SPACES.sub(" ", s).strip()


def _load_markdown(path: Path, raw: str) -> LoadedText:
    lines: list[str] = []
    levels: list[int] = []
    in_comment = False
    for line in normalize_text(visible_markdown(raw)).split("\n"):
        stripped = line.strip()
        if in_comment or stripped.startswith("<!--"):
            in_comment = "-->" not in stripped
            continue
        heading = _MD_HEADING.match(stripped)
        if heading:
            lines.append(_MD_INLINE.sub("", heading.group(2)))
            levels.append(len(heading.group(1)))
        elif stripped:
            lines.append(_MD_INLINE.sub("", _collapse(line)))
            levels.append(0)
    if not lines:
        raise DocumentError(str(path), "empty file: no text to index")
    title = next((line for line, level in zip(lines, levels) if level == 1), lines[0])
    return LoadedText("\n".join(lines), (0,), "markdown", title, tuple(levels), ())


def _load_plain(path: Path, raw: str) -> LoadedText:
    lines = [line.rstrip() for line in normalize_text(raw).split("\n")]
    lines = [line for line in lines if line.strip()]
    if not lines:
        raise DocumentError(str(path), "empty file: no text to index")
    return LoadedText("\n".join(lines), (0,), "text", lines[0].strip(), (), ())
