"""Reports and filings: sections by headings (a 10-K's PART II / Item 7 / subheadings), paragraphs as text."""
from __future__ import annotations

import re

from ingest.lines import Event, Line, enter_heading, starts_paragraph

_ITEM = re.compile(r"^ITEM\s+(\d{1,2}[A-C]?)\.?(?:\s+|$)(?=[A-Z\[]|$)", re.I)
_PART = re.compile(r"^PART\s+([IV]+)\s*$", re.I)
_NOISE = re.compile(r"^(Table of Contents|\d{1,3})$", re.I)
_NUMBERS = re.compile(r"\d[\d,.]*")


def parse(lines: list[Line], doc: str, wrapped: bool) -> list[Event]:
    events: list[Event] = []
    trail: list[str] = []
    item = ""
    last_item = (0, "")
    has_levels = any(line.heading for line in lines)

    def heading(i: int, level: int, text: str) -> None:
        path = (f"Item {item}",) if item else (text,)
        ref = f"{doc} Item {item}" if item else (f"{doc}, {text}" if level >= 1 and not has_items else doc)
        events.append(Event(i, path, ref, enter_heading(trail, level, text), heading=True))

    last_heading = -2
    has_items = sum(1 for line in lines if _ITEM.match(line.text.strip())) >= 3
    for i, line in enumerate(lines):
        text = line.text.strip()
        if not text or _NOISE.match(text):
            continue
        para = starts_paragraph(lines, i, wrapped) or last_heading == i - 1
        if has_items and para and (m := _ITEM.match(text)) and _item_key(m.group(1)) > last_item:
            last_item, item = _item_key(m.group(1)), m.group(1).upper()
            heading(i, 1, text)
        elif has_items and para and _PART.match(text):
            item = ""
            heading(i, 0, text.upper())
        elif line.heading:
            heading(i, min(line.heading, 3) if not has_items else 2, text)
        elif not has_levels and para and _looks_like_heading(lines, i, text):
            heading(i, 2 if has_items else 1, text)
        else:
            continue
        last_heading = i
    return events


def _item_key(number: str) -> tuple[int, str]:
    return int(re.sub(r"\D", "", number)), re.sub(r"\d", "", number).upper()


def _looks_like_heading(lines: list[Line], i: int, text: str) -> bool:
    """A short line in title or upper case, not a sentence, not a table row, followed by more text."""
    if len(text) > 90 or text.endswith((".", ",", ";", ":")) or text[0] in "•-–—(*$" or not text[0].isalpha():
        return False
    if len(_NUMBERS.findall(text)) >= 2 or i + 1 >= len(lines):
        return False
    words = [w for w in re.findall(r"[A-Za-z][A-Za-z'’&-]*", text)]
    if not words:
        return False
    small = {"and", "or", "of", "the", "in", "on", "for", "to", "a", "an", "by", "with", "at", "from", "vs"}
    capitalised = sum(1 for w in words if w[0].isupper() or w.lower() in small)
    return capitalised == len(words) and (text.isupper() or len(words) <= 10)
