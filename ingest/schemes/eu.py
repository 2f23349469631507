"""EU acts: recitals (1), Article 17, numbered paragraphs 1., points (a), sub-points (i); chapters as headings."""
from __future__ import annotations

import re

from ingest.lines import Event, Line, enter_heading, open_headings, starts_paragraph
from ingest.schemes.outline import Outline

_ARTICLE = re.compile(r"^Article\s+(\d+[a-z]?)\s*$")
_DIVISION = re.compile(r"^(CHAPTER|Chapter|TITLE|Title|Section|SECTION|PART|Part)\s+([IVXLC]+|\d+)\s*$")
_RECITALS = re.compile(r"^(Recitals|Whereas:?)\s*$", re.I)
_PARAGRAPH = re.compile(r"^(\d{1,3})\.\s+(?=\S)")
_POINT = re.compile(r"^\((\d{1,3}|[a-z]{1,4})\)\s+(?=\S)")
_OPENS_LIST = (":", "—", "following")

KINDS = ("digit", "lower", "roman")


def parse(lines: list[Line], doc: str, wrapped: bool) -> list[Event]:
    events: list[Event] = []
    outline = Outline(KINDS)
    recitals = Outline(("digit",))
    trail: list[str] = []
    mode = "front"  # "front" | "recitals" | "articles"
    article = ""
    last_article = 0
    titled = -2  # index of a division/article line whose title is the next line
    prev_text = ""

    def heading(i: int, level: int, text: str, path: tuple[str, ...], ref: str) -> None:
        events.append(Event(i, path, ref, enter_heading(trail, level, text), heading=True))

    for i, line in enumerate(lines):
        text = line.text.strip()
        if not text:
            continue
        para = starts_paragraph(lines, i, wrapped)
        base = (f"Art. {article}",) if article else ()
        base_ref = f"{doc} Art. {article}" if article else doc
        if titled == i - 1 and not _PARAGRAPH.match(text) and not _POINT.match(text) and len(text) < 200:
            # The line under "Article 17" / "CHAPTER III" is its title: part of the heading, not clause text.
            trail[-1] = f"{trail[-1]} {text}"
            events.append(Event(i, base, base_ref, open_headings(trail), heading=True))
            titled = -2
        elif para and (m := _ARTICLE.match(text)) and int(re.sub(r"\D", "", m.group(1))) > last_article:
            mode, article = "articles", m.group(1)
            last_article = int(re.sub(r"\D", "", article))
            heading(i, 2, text, (f"Art. {article}",), f"{doc} Art. {article}")
            outline.reset()
            titled = i
        elif para and (m := _DIVISION.match(text)):
            level = 1 if m.group(1).lower() == "section" else 0
            mode, article = "articles", ""
            heading(i, level, text, (), doc)
            titled = i
        elif para and _RECITALS.match(text):
            mode = "recitals"
            heading(i, 0, text, (), doc)
        elif mode == "recitals" and para and (m := _POINT.match(text)) and m.group(1).isdigit():
            chain = recitals.place(m.group(1), strict=True)
            if chain is not None:
                events.append(Event(i, (f"Recital {chain[0]}",), f"{doc} Recital {chain[0]}", open_headings(trail),
                                    skip=m.end()))
        elif mode == "articles" and article and para and ((m := _PARAGRAPH.match(text)) or (m := _POINT.match(text))):
            depth = 0 if text[0].isdigit() else -1
            chain = outline.place(m.group(1), depth, parent_open=prev_text.endswith(_OPENS_LIST))
            if chain is not None:
                events.append(Event(i, base + tuple(f"({t})" for t in chain), base_ref + "".join(f"({t})" for t in chain),
                                    open_headings(trail), skip=m.end()))
        elif line.heading and line.heading >= 2:
            heading(i, 3, text, base, base_ref)
        prev_text = text
    return events
