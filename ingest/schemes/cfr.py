"""US CFR numbering: § 1002.9, (a)(1)(i)(A), appendices, and Supplement I official interpretations."""
from __future__ import annotations

import re

from ingest.lines import Event, Line, enter_heading, open_headings, stands_alone, starts_paragraph
from ingest.schemes.outline import Outline, readings, roman_value

_SECTION = re.compile(r"^§\s*(\d+)\.(\d+)([a-z]?)\s+(?=[A-Z\[])")
_APPENDIX = re.compile(r"^Appendix(?:\s+([A-Z]{1,2})(\d*))?\s+to\s+Part\s+(\d+)\b", re.I)
_APPENDIX_TITLE = re.compile(r"^Appendix\s+([A-Z]{1,2})\s*[—–-]")
_SUPPLEMENT = re.compile(r"^Supplement\s+([IVX]+)\s+to\s+Part\s+(\d+)\b")
_MARKER = re.compile(r"^\((\d{1,3}|[a-z]{1,4}|[A-Z]{1,2})\)(?=\s|$|\()")
_APP_SECTION = re.compile(r"^([A-Z]{1,2})-(\d{1,3}[a-z]?)(?:\(([a-z])\))?(?=\s*[—–-]|\s+[A-Z]|$)")
_INTERP_SECTION = re.compile(r"^(?:Section\s+|§\s*|Section\s+§\s*)(\d+)\.(\d+[a-z]?)\b(?!\()")  # "Section 1002.14(a)(3) does…" is prose
_INTERP_APPENDIX = re.compile(r"^Appendix(?:es)?\s+([A-Z]{1,2})(?:\s*[—–-]|\s+to\s+Part\b|\s*$)")
_INTERP_TARGET = re.compile(r"^(?:Interp\s+)?(?:Paragraphs?\s+)?(\d+[a-z]?)((?:\((?:[a-z]{1,4}|\d{1,3}|[A-Z]{1,2})\))+)")
# "(c) Coverage." or "Paragraph (a)(2)(i)." under "Section 1030.4": the target's section number is implied. A bare
# "(5)." is the tail of a wrapped cross-reference ("§ 1002.14(a)\n(5)."), so a title-less target needs "Paragraph".
_MARKERS = r"((?:\((?:[a-z]{1,2}|\d{1,3}|[ivx]{1,5}|[A-Z])\))+)"
_INTERP_SUBTARGET = re.compile(rf"^(?:Paragraphs?\s+{_MARKERS}(?=\s+[A-Z]|\.?$)|{_MARKERS}(?=\s+[A-Z]))")
_COMMENT = re.compile(r"^(\d{1,2}|[ivxl]{1,6}|[A-Z])\.\s")
_BARE_ROMAN = re.compile(r"^([ivx]{1,5})\s+(?=[A-Z])")  # "iv An institution…": a comment marker printed without its period
# Rule text printing a paragraph's marker as "4." and its items as "i." (Reg B's § 1002.5(a)(4)); read so only where
# the open outline implies it (_unmarked).
_UNMARKED = re.compile(r"^(\d{1,3}|[ivx]{1,5})\.(?=\s+[A-Z])")
# What follows a marker that is really a cross-reference wrapped to a line start: "(c) of this section".
_XREF_TAIL = re.compile(r"\s*(?:of\s|through\s|and\s|or\s|to\s|in\s|under\s|[,;.)]|\()")
_TITLE_ONLY = re.compile(r"^\(\w{1,4}\)\s+([A-Z][^.;:]{2,80}?)\s+\1$")
_CFR_DOC = re.compile(r"^(\d+) CFR (\d+)$")
_OPENS_LIST = (":", "—", "-", "following")

REG_KINDS = ("lower", "digit", "roman", "upper", "digit", "roman")
COMMENT_KINDS = ("digit", "roman", "upper", "digit")


def parse(lines: list[Line], doc: str, wrapped: bool) -> list[Event]:
    cfr = _CFR_DOC.match(doc)
    section_prefix = f"{cfr.group(1)} CFR " if cfr else "§ "
    events: list[Event] = []
    outline = Outline(REG_KINDS)
    comments = Outline(COMMENT_KINDS)
    mode = "reg"  # "reg" | "appendix" | "interp"
    base: tuple[str, ...] = ()  # path of the open section / appendix section / interpretation target
    base_ref = doc
    trail: list[str] = []  # heading trail: [part-level heading, section-level heading, target heading]
    last_section = (-1, -1, "")
    interp_section = ""
    prev_text, prev_line = "", -1  # the last non-empty line
    seen_appendices: set[str] = set()
    section_level = -1  # the heading level § headings have in this file (HTML); -1 before the first

    targets: list[str] = []  # open interpretation targets, outermost first: "4(a)", "4(a)(2)", "4(a)(2)(i)"
    # The last paragraph read from a marker printed without parentheses: its event's index, and the outline depth
    # and path of its "N." paragraph, so that "i." items may follow it (and no "N+1." may); None before any.
    unmarked: tuple[int, int, tuple[str, ...]] | None = None

    def heading(i: int, level: int, text: str, path: tuple[str, ...], ref: str) -> None:
        if level < 2:
            targets.clear()
        events.append(Event(i, path, ref, enter_heading(trail, level, text), heading=True))

    for i, line in enumerate(lines):
        text = line.text.strip()
        if not text:
            continue
        # A line after a heading opens a paragraph whatever the heading's width; so does one after a marker
        # line that holds only its title (the PDF prints "(c) Notice to holders Notice to holders").
        para = (starts_paragraph(lines, i, wrapped) or (events and events[-1].heading and events[-1].line == prev_line)
                or _TITLE_ONLY.match(prev_text) is not None)
        alone = para or stands_alone(lines, i, wrapped)
        supplement = _SUPPLEMENT.match(text) if alone else None
        appendix = _APPENDIX.match(text) if alone else None
        if supplement:
            mode, base, base_ref, interp_section = "interp", ("Supplement " + supplement.group(1),), f"{doc} Supplement {supplement.group(1)}", ""
            heading(i, 0, text, base, base_ref)
            comments.reset()
        elif (appendix or (mode == "interp" and line.heading in (1, 2) and (appendix := _APPENDIX_TITLE.match(text)))) \
                and (mode != "interp" or (appendix.group(1) or "") not in seen_appendices):
            # After Supplement I an appendix heading is commentary on that appendix unless the appendix is new.
            mode = "appendix"
            letter = (appendix.group(1) or "") + (appendix.group(2) or "" if appendix.re is _APPENDIX else "")
            seen_appendices.add(appendix.group(1) or "")
            base, base_ref = (f"Appendix {letter}".strip(),), f"{doc} Appendix {letter}".rstrip()
            heading(i, 0, text, base, base_ref)
            outline.reset()
        elif (mode in ("reg", "appendix") and alone and (m := _SECTION.match(text))
              and (line.heading and mode == "reg" or (mode == "reg" or len(text) < 120) and _later(
                (int(m.group(1)), int(m.group(2)), m.group(3)), last_section))):
            mode = "reg"  # some parts print appendices before the sections
            last_section = (int(m.group(1)), int(m.group(2)), m.group(3))
            section_level = line.heading
            number = f"{m.group(1)}.{m.group(2)}{m.group(3)}"
            base, base_ref = (f"§ {number}",), f"{section_prefix}{number}"
            heading(i, 1, text, base, base_ref)
            outline.reset()
        elif mode == "appendix" and para and (m := _APP_SECTION.match(text)) and base and base[0].endswith(m.group(1)):
            sub = f"{m.group(1)}-{m.group(2)}" + (f"({m.group(3)})" if m.group(3) else "")
            base, base_ref = (base[0], sub), f"{doc} Appendix {sub}"
            heading(i, 1, text, base, base_ref)
            outline.reset()
        elif mode == "interp" and alone and (m := _INTERP_SECTION.match(text)) and (line.heading or len(text) < 150):
            interp_section = m.group(2)
            base, base_ref = (base[0], interp_section), f"{doc} Comment {interp_section}"
            heading(i, 1, text, base, base_ref)
            comments.reset()
        elif mode == "interp" and alone and (m := _INTERP_APPENDIX.match(text)) and (line.heading or len(text) < 120):
            interp_section = f"app. {m.group(1)}"
            base, base_ref = (base[0], interp_section), f"{doc} Comment {interp_section}"
            heading(i, 1, text, base, base_ref)
            comments.reset()
        elif mode == "interp" and not interp_section and (line.heading or alone and len(text) < 60
                                                           and not text.endswith(".") and not _COMMENT.match(text)):
            interp_section = "I" if text.lower().startswith("introduction") else text
            base, base_ref = (base[0], interp_section), f"{doc} Comment {interp_section}"
            heading(i, 1, text, base, base_ref)
            comments.reset()
        elif (mode == "interp" and para and interp_section and (m := _INTERP_TARGET.match(text))
              and m.group(1) == interp_section.split("(")[0] and len(text) < 200):
            target = m.group(1) + m.group(2)
            base, base_ref = (base[0], target), f"{doc} Comment {target}"
            heading(i, _target_level(targets, target), text, base, base_ref)
            comments.reset()
        elif (mode == "interp" and para and interp_section[:1].isdigit() and (m := _INTERP_SUBTARGET.match(text))
              and len(text) < 150):
            target = interp_section + (m.group(1) or m.group(2))
            base, base_ref = (base[0], target), f"{doc} Comment {target}"
            heading(i, _target_level(targets, target), text, base, base_ref)
            comments.reset()
        elif mode == "interp" and para and ((m := _COMMENT.match(text)) or (m := _BARE_ROMAN.match(text))) \
                and len(base) >= 2:
            # A bare numeral must continue the open list exactly: "i The…" is no comment unless "i." could be.
            chain = comments.place(m.group(1), parent_open=prev_text.endswith(_OPENS_LIST), strict=m.re is _BARE_ROMAN)
            if chain is not None:
                ref = f"{doc} Comment {base[1]}-{chain[0]}" + "".join(f".{t}" for t in chain[1:])
                events.append(Event(i, base[:2] + tuple(chain), ref, open_headings(trail), skip=m.end()))
        elif (mode in ("reg", "appendix") and para and (m := _MARKER.match(text)) and len(base) >= 1
              and not _XREF_TAIL.match(text, m.end())):
            depth = line.indent // 12 if line.indent >= 0 and mode == "reg" else -1
            chain = outline.place(m.group(1), depth, parent_open=prev_text.endswith(_OPENS_LIST))
            if chain is not None:
                markers = "".join(f"({t})" for t in chain)
                events.append(Event(i, base + tuple(f"({t})" for t in chain), base_ref + markers,
                                    open_headings(trail), skip=m.end()))
        elif (mode == "reg" and para and len(base) >= 1 and (m := _UNMARKED.match(text))
              and (placed := _unmarked(outline, m.group(1), line.indent // 12 if line.indent >= 0 else -1,
                                       events, base, unmarked)) is not None):
            depth, chain = placed
            path = base + tuple(f"({t})" for t in chain)
            unmarked = (len(events), depth, path) if m.group(1).isdigit() else (len(events), *unmarked[1:])
            events.append(Event(i, path, base_ref + "".join(path[len(base):]), open_headings(trail), skip=m.end()))
        elif (mode == "reg" and line.heading and line.heading == section_level and last_section[0] > 0
              and _gap_ahead(lines, i, last_section)):
            # An unnumbered heading where a section number is missing (1003's "Definitions." between
            # § 1003.1 and § 1003.4): it takes the next number in the gap.
            last_section = (last_section[0], last_section[1] + 1, "")
            number = f"{last_section[0]}.{last_section[1]}"
            base, base_ref = (f"§ {number}",), f"{section_prefix}{number}"
            heading(i, 1, f"§ {number} {text}", base, base_ref)
            outline.reset()
        elif line.heading and line.heading >= 2:
            # Subpart titles and other headings: a new trail entry; text under them stays with the container.
            level = 0 if line.heading <= 2 else 1
            if level == 0 and mode == "reg":
                base, base_ref = (), doc
            heading(i, level, text, base, base_ref)
        prev_text, prev_line = text, i
    return events


def _unmarked(outline: Outline, token: str, indent_depth: int, events: list[Event], base: tuple[str, ...],
              unmarked: tuple[int, int, tuple[str, ...]] | None) -> tuple[int, list[str]] | None:
    """A rule paragraph whose marker is printed "4." for "(4)", or an item "i."/"ii." under one: (its depth in the
    outline, the new chain).

    Only where the sequence says so: "N." follows the deepest open digit, printed "(N-1)", exactly, right after a
    paragraph of the same section; "i." opens the items of such an "N." right after it, and "ii." follows
    "i." with no other paragraph between. The source's indentation, where known, must agree. Else None, with the
    outline untouched.
    """
    stack = outline.stack
    last = events[-1] if events else None
    if last is None or last.heading or last.path[:len(base)] != base or len(last.path) == len(base):
        return None
    follows_unmarked = unmarked is not None and unmarked[0] == len(events) - 1
    if token.isdigit():
        digits = [d for d, (kind, _, _) in enumerate(stack) if kind == "digit"]
        if not digits or token.startswith("0"):
            return None
        depth = digits[-1]
        sibling = base + tuple(f"({t})" for _, _, t in stack[:depth + 1] if t)
        if (outline.kinds[depth] != "digit" or stack[depth][1] + 1 != int(token) or indent_depth not in (-1, depth)
                or unmarked is not None and unmarked[2] == sibling):
            return None  # out of sequence, or "(N-1)" was itself printed "N-1."
        return depth, outline.put(depth, "digit", int(token), token)
    if not follows_unmarked or ("roman", roman_value(token)) not in readings(token):
        return None
    depth, value = unmarked[1] + 1, roman_value(token)
    if depth >= len(outline.kinds) or outline.kinds[depth] != "roman" or indent_depth not in (-1, depth):
        return None
    if value == 1 and len(stack) == depth or (
            value > 1 and len(stack) == depth + 1 and stack[depth][:2] == ("roman", value - 1)):
        return depth, outline.put(depth, "roman", value, token)
    return None


def _target_level(targets: list[str], target: str) -> int:
    """Trail level of an interpretation target heading; "(a)(1)" nests under an open "(a)" so both headings stay."""
    while targets and not target.startswith(targets[-1] + "("):
        targets.pop()
    targets.append(target)
    return 1 + len(targets)


def _gap_ahead(lines: list[Line], i: int, last: tuple[int, int, str]) -> bool:
    """The next numbered section heading skips at least one number after `last`."""
    for line in lines[i + 1:]:
        m = _SECTION.match(line.text) if line.heading else None
        if m:
            return int(m.group(1)) == last[0] and int(m.group(2)) > last[1] + 1
    return False


def _later(number: tuple[int, int, str], last: tuple[int, int, str]) -> bool:
    """Sections come in order; a "§ 1002.2" at a line start after § 1002.9 is a wrapped cross-reference."""
    return number > last
