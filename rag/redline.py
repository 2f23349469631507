"""Word-level redlines of two clause texts, the editorial-only test, and their plain-text rendering."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Literal, Sequence

# A word, or one punctuation mark or symbol, with the whitespace before it: comparing marks apart from words
# makes "request;" -> "request." a one-mark edit, and keeping the whitespace rebuilds either text exactly.
_TOKEN = re.compile(r"\s*(?:\w+|[^\w\s])")
_SPACE = re.compile(r"\s+")
# Typographic variants that NFKC leaves apart: curly quotes, primes, dashes, minus, multiplication sign.
_TYPOGRAPHY = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "\u00b4": "'", "`": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-",
    "\u00d7": "x", "\u00ad": None, "\u200b": None, "\ufeff": None,
})

Op = Literal["equal", "insert", "delete"]


@dataclass(frozen=True)
class Edit:
    """A run of the redline: the text as it stands in the old (delete, equal) or new (insert) clause."""

    op: Op
    text: str  # with the whitespace before each word, so joining runs rebuilds the text


def fold_space(text: str) -> str:
    """Whitespace runs as one space, ends trimmed: how clause texts are shown and compared word by word."""
    return _SPACE.sub(" ", text).strip()


def same_text(old: str, new: str) -> bool:
    """Equal but for whitespace. Where a line wraps in a PDF decides spaces ("birth- given", "(p) (1)"), so a
    difference in whitespace alone is no change at all."""
    return _SPACE.sub("", old) == _SPACE.sub("", new)


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_TYPOGRAPHY)
    # Punctuation and whitespace go; letters (case included: "State" is a defined term), digits and symbols
    # such as § $ % stay, so any change to them is substantive.
    return "".join(ch for ch in text if not ch.isspace() and not unicodedata.category(ch).startswith("P"))


def is_editorial(old: str, new: str) -> bool:
    """The texts differ, but only in whitespace, punctuation or typography (quotes, dashes, x/×, ligatures)."""
    return old != new and _fold(old) == _fold(new)


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def redline(old: str, new: str) -> tuple[Edit, ...]:
    """Word-level edits turning old into new (whitespace folded first); equal runs carry the new text's spacing."""
    a, b = _tokens(fold_space(old)), _tokens(fold_space(new))
    keys_a, keys_b = [t.strip() for t in a], [t.strip() for t in b]
    out: list[Edit] = []

    def push(op: Op, tokens: Sequence[str]) -> None:
        text = "".join(tokens)
        if not text:
            return
        if out and out[-1].op == op:
            out[-1] = Edit(op, out[-1].text + text)
        else:
            out.append(Edit(op, text))

    # autojunk off: clause texts are short, and junking frequent words ("the", ",") makes ragged redlines.
    matcher = SequenceMatcher(None, keys_a, keys_b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            push("equal", b[j1:j2])
        else:
            push("delete", a[i1:i2])
            push("insert", b[j1:j2])
    if out:
        out[0] = Edit(out[0].op, out[0].text.lstrip())
    return tuple(out)


def render(edits: Sequence[Edit], markdown: bool = False, context: int = 0) -> str:
    """`[-old-]{+new+}` (git's word-diff), or Markdown `~~old~~ **new**`; whitespace stays outside the marks.
    With context, unchanged runs keep that many words beside each edit and show "…" for the rest."""
    marks = {"delete": ("~~", "~~"), "insert": ("**", "**")} if markdown else {"delete": ("[-", "-]"), "insert": ("{+", "+}")}
    parts = []
    for i, e in enumerate(edits):
        if e.op == "equal":
            parts.append(_trim(e.text, context, first=i == 0, last=i == len(edits) - 1) if context else e.text)
            continue
        lead = e.text[: len(e.text) - len(e.text.lstrip())]
        opening, closing = marks[e.op]
        parts.append(f"{lead}{opening}{e.text.strip()}{closing}")
    return "".join(parts)


def _trim(text: str, context: int, first: bool, last: bool) -> str:
    words = text.split(" ")
    lead = [""] if words and words[0] == "" else []  # the space before the run, kept
    words = words[len(lead):]
    keep_head, keep_tail = (0 if first else context), (0 if last else context)
    if len(words) <= keep_head + keep_tail + 1 or (first and last):
        return text
    head, tail = words[:keep_head], words[len(words) - keep_tail:] if keep_tail else []
    return " ".join(lead + head + ["…"] + tail)
