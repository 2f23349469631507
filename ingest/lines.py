"""A loaded document's lines and what a numbering scheme decides about them: the types parsers and the builder share."""
from __future__ import annotations

import re
from dataclasses import dataclass

from ingest.load import LoadedText

_PARAGRAPH_END = tuple(".:;!?。；：！？—)]”\"")
_LIST_JOIN = re.compile(r"[;,]\s+(?:or|and)$")  # "…existing account; or" closes a list item


@dataclass(frozen=True)
class Line:
    start: int  # offset of the first character in loaded.text
    end: int  # exclusive, before the "\n"
    text: str
    heading: int  # 1..6 when the source marked it a heading, else 0
    indent: int  # tenths of an em; -1 unknown


@dataclass(frozen=True)
class Event:
    """What a parser decided about one line: it starts a clause, or it is a heading that closes one."""

    line: int
    path: tuple[str, ...]
    reference: str
    headings: tuple[str, ...]
    heading: bool = False  # a heading line: not clause text; following text belongs to path/reference
    skip: int = 0  # characters of the line left out of the clause text: the marker the path already names


def lines_of(loaded: LoadedText) -> list[Line]:
    out: list[Line] = []
    pos = 0
    levels, indents = loaded.heading_levels, loaded.indents
    for i, text in enumerate(loaded.text.split("\n")):
        out.append(Line(pos, pos + len(text), text, levels[i] if i < len(levels) else 0,
                        indents[i] if i < len(indents) else -1))
        pos += len(text) + 1
    return out


def enter_heading(trail: list[str], level: int, text: str) -> tuple[str, ...]:
    """Open a heading at `level` of the trail, closing those below it; returns the headings now open.

    A level the document skips (a section straight under a part) stays an empty slot, so that a later heading
    at that level closes the right ones."""
    del trail[level:]
    trail.extend([""] * (level - len(trail)))
    trail.append(text)
    return open_headings(trail)


def open_headings(trail: list[str]) -> tuple[str, ...]:
    return tuple(t for t in trail if t)


def starts_paragraph(lines: list[Line], i: int, wrapped: bool) -> bool:
    """In wrapped text (PDF, plain text) a marker opens a paragraph only after a line that ended one."""
    if not wrapped or i == 0:
        return True
    prev = lines[i - 1].text.rstrip()
    if not prev or lines[i - 1].heading:
        return True
    return (prev.endswith(_PARAGRAPH_END) or _LIST_JOIN.search(prev) is not None
            or len(prev) < 0.8 * _typical_width(lines, i))  # a line that did not fill the width ended its paragraph


def stands_alone(lines: list[Line], i: int, wrapped: bool) -> bool:
    """A heading candidate: it opens a paragraph, or in wrapped text it is clearly shorter than a full line."""
    return starts_paragraph(lines, i, wrapped) or len(lines[i].text.strip()) < 0.75 * _typical_width(lines, i)


def _typical_width(lines: list[Line], i: int) -> int:
    window = [len(line.text) for line in lines[max(0, i - 30): i + 30] if line.text]
    window.sort()
    return window[int(len(window) * 0.8)] if window else 80
