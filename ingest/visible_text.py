"""What a reader sees of a file: HTML comments and hidden elements, and invisible PDF text, are left out at load.

Text a reader never sees is where instructions to a model hide (white on white, a zero-size font, a comment):
leaving it out means it never reaches an index, a prompt or a citation. What cannot be known without rendering
(CSS from a linked stylesheet, text behind an image, a colour matching a coloured background) stays in.
"""
from __future__ import annotations

import logging
import re

log = logging.getLogger(__name__)

_HIDDEN_STYLE = re.compile(
    r"(?:^|;)\s*(?:display\s*:\s*none|visibility\s*:\s*(?:hidden|collapse)"
    r"|font-size\s*:\s*0*(?:\.0*)?(?:px|pt|em|rem|%)?|opacity\s*:\s*0*(?:\.0*)?)\s*(?:!important\s*)?(?:;|$)", re.I)
# `.name { … display: none … }` and `#name { … }` in a <style> element: the simple selectors a page hides by.
_STYLE_RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")
_SIMPLE_SELECTOR = re.compile(r"^\s*(?:[a-z0-9]*)([.#])([\w-]+)\s*$", re.I)


def _hidden_selectors(root) -> tuple[set[str], set[str]]:
    classes: set[str] = set()
    ids: set[str] = set()
    for style in root.iter("style"):
        for selectors, body in _STYLE_RULE.findall(style.text or ""):
            if not _HIDDEN_STYLE.search(body.strip()):
                continue
            for selector in selectors.split(","):
                m = _SIMPLE_SELECTOR.match(selector)
                if m:
                    (classes if m.group(1) == "." else ids).add(m.group(2))
    return classes, ids


def _is_hidden(el, classes: set[str], ids: set[str]) -> bool:
    if not isinstance(el.tag, str):
        return True  # a comment or processing instruction
    if el.get("hidden") is not None or (el.tag.lower() == "input" and (el.get("type") or "").lower() == "hidden"):
        return True
    if _HIDDEN_STYLE.search(el.get("style") or ""):
        return True
    return bool(ids and el.get("id") in ids or classes and classes & set((el.get("class") or "").split()))


def drop_hidden_html(root) -> int:
    """Remove comments, processing instructions and hidden elements (the `hidden` attribute, an inline style or
    a simple <style> rule hiding them) from an lxml.html tree, keeping the text that follows each. Returns how
    many were removed."""
    classes, ids = _hidden_selectors(root)
    doomed = [el for el in root.iter() if el is not root and _is_hidden(el, classes, ids)]
    inside = set()
    for el in doomed:
        if isinstance(el.tag, str):
            inside.update(id(d) for d in el.iterdescendants())
    dropped = 0
    for el in doomed:
        if id(el) in inside or el.getparent() is None:
            continue
        el.drop_tree()  # lxml.html keeps the element's tail text in place
        dropped += 1
    return dropped


_MD_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.S)
_MD_HIDDEN = re.compile(
    r"<(?P<tag>[a-z][a-z0-9]*)\b(?P<attrs>[^<>]*)>.*?</(?P=tag)\s*>", re.I | re.S)


def visible_markdown(raw: str) -> str:
    """Markdown without HTML comments (anywhere in a line) or inline HTML elements that a renderer hides."""
    text = _MD_COMMENT.sub("", raw)

    def hide(m: re.Match) -> str:
        attrs = m.group("attrs")
        hidden = re.search(r"(?:^|\s)hidden(?:\s|=|$)", attrs, re.I)
        style = re.search(r"style\s*=\s*([\"'])(.*?)\1", attrs, re.I | re.S)
        return "" if hidden or style and _HIDDEN_STYLE.search(style.group(2)) else m.group(0)

    return _MD_HIDDEN.sub(hide, text)


# --- PDF -----------------------------------------------------------------------------------------------------

_ONE = rb"(?:1(?:\.0*)?|0?\.9[5-9]\d*)"
_NIL = rb"-?(?:0(?:\.\d*)?|\.\d+)"
# What a page must hold for any of its text to be invisible: a cheap test on the raw stream before parsing it.
_SUSPECT = re.compile(
    rb"\b[37]\s+Tr\b"  # invisible or clip-only render modes
    rb"|(?<![\d.])" + _ONE + rb"(?:\s+" + _ONE + rb"){0,2}\s+(?:rg|g|sc|scn)\b"  # a white fill
    rb"|(?<![\d.])0(?:\.0*)?\s+0(?:\.0*)?\s+0(?:\.0*)?\s+" + _NIL + rb"\s+k\b"  # white in CMYK
    rb"|(?<![\d.])" + _NIL + rb"\s+Tf\b"  # a font size under 1
    rb"|(?<![\d.])" + _NIL + rb"\s+\S+\s+\S+\s+" + _NIL + rb"\s+\S+\s+\S+\s+Tm\b")  # a collapsed matrix
_SHOW = {b"Tj", b"TJ", b"'", b'"'}
_FILL_COLOUR = {b"g", b"rg", b"k", b"sc", b"scn"}
_PAINT = {b"f", b"F", b"f*", b"B", b"B*", b"b", b"b*", b"Do", b"sh", b"BI"}  # fills, images, shadings
MIN_VISIBLE_PT = 1.0  # text set smaller than this (a zero-size font, a collapsed text matrix) reads as nothing
WHITE_AT = 0.95  # a fill this close to white on the (assumed white) page


def _white(op: bytes, operands) -> bool | None:
    """Is the fill colour this operator sets white? None when the operator sets none."""
    if op not in _FILL_COLOUR:
        return None
    try:
        values = [float(v) for v in operands]
    except (TypeError, ValueError):
        return False  # a pattern or named colour: not known to be white
    if op == b"g" or op in (b"sc", b"scn") and len(values) == 1:
        return bool(values) and values[0] >= WHITE_AT
    if op == b"rg" or op in (b"sc", b"scn") and len(values) == 3:
        return len(values) == 3 and min(values) >= WHITE_AT
    if op == b"k" or op in (b"sc", b"scn") and len(values) == 4:
        return len(values) == 4 and max(values) <= 1 - WHITE_AT
    return None


class _TextState:
    __slots__ = ("render_mode", "size", "scale", "ctm", "white", "painted")

    def __init__(self):
        self.render_mode, self.size, self.scale, self.white = 0, 12.0, 1.0, False
        self.ctm = 1.0  # the current transformation's scale: a 0.5 pt font drawn at 20x is 10 pt on the page
        self.painted = False  # a coloured area or an image is on the page: white text may sit on it, visibly

    def copy(self) -> "_TextState":
        s = _TextState()
        s.render_mode, s.size, s.scale, s.white = self.render_mode, self.size, self.scale, self.white
        s.ctm, s.painted = self.ctm, self.painted
        return s

    @property
    def invisible(self) -> bool:
        if self.render_mode in (3, 7):  # neither filled nor stroked (7: only a clipping path)
            return True
        if abs(self.size) * self.scale * self.ctm < MIN_VISIBLE_PT:
            return True
        return self.white and not self.painted and self.render_mode in (0, 4)  # filled only, white on white


def _visible_operations(operations) -> tuple[list, int]:
    """The content stream's operations without those that show invisible text, and how many were cut."""
    state, stack, kept, cut = _TextState(), [], [], 0
    for operands, op in operations:
        if op in _PAINT and not state.white:
            state.painted = True
        if op == b"q":
            stack.append(state.copy())
        elif op == b"Q" and stack:
            painted, state = state.painted, stack.pop()
            state.painted = painted  # what is painted stays painted
        elif op == b"Tr" and operands:
            state.render_mode = int(operands[0])
        elif op == b"Tf" and len(operands) == 2:
            state.size = float(operands[1])
        elif op == b"Tm" and len(operands) == 6:
            a, b, c, d = (float(v) for v in operands[:4])
            state.scale = abs(a * d - b * c) ** 0.5
        elif op == b"cm" and len(operands) == 6:
            a, b, c, d = (float(v) for v in operands[:4])
            state.ctm *= abs(a * d - b * c) ** 0.5
        elif op == b"BT":
            state.scale = 1.0
        else:
            white = _white(op, operands)
            if white is not None:
                state.white = white
        if op in _SHOW and state.invisible:
            cut += 1
            if op in (b"'", b'"'):
                kept.append(([], b"T*"))  # keep the move to the next line these operators also make
            continue
        kept.append((operands, op))
    return kept, cut


def visible_page_text(page) -> str:
    """pypdf's text of the page without text a reader cannot see (render mode invisible, a size under
    MIN_VISIBLE_PT, a white fill). A page with none is extracted exactly as pypdf extracts it."""
    try:
        from pypdf.generic import ContentStream

        contents = page.get_contents()
        if contents is None:
            return page.extract_text() or ""
        if not _SUSPECT.search(contents.get_data()):
            return page.extract_text() or ""
        stream = contents if isinstance(contents, ContentStream) else ContentStream(contents, page.pdf)
        kept, cut = _visible_operations(stream.operations)
    except Exception as e:  # noqa: BLE001 - an unparsable stream falls back to pypdf's own reading of the page
        log.debug("content stream not filtered (%s): %s", type(e).__name__, e)
        return page.extract_text() or ""
    if not cut:
        return page.extract_text() or ""
    log.info("left out %d invisible text run(s) on a page", cut)
    from pypdf.generic import NameObject

    stream.operations = kept
    page[NameObject("/Contents")] = stream  # this reader's copy of the page, in memory only
    return page.extract_text() or ""
