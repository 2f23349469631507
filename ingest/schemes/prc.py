"""PRC statutes: 第X章 / 第X节 as headings, 第X条 articles, （一） items."""
from __future__ import annotations

import re

from ingest.lines import Event, Line, enter_heading, open_headings, starts_paragraph
from rag.numerals import ORDINAL_CHARS, chinese_number

# Without 万 and 亿: no statute runs to ten thousand articles, and a line "第一万…条" is no article heading.
_NUM = ORDINAL_CHARS
_CHAPTER = re.compile(rf"^第([{_NUM}\d]+)(编|章|节)\s*(.*)$")
_ARTICLE = re.compile(rf"^第([{_NUM}\d]+)条(?:\s+|(?=[^\s，。、之的规款项]))")
_ITEM = re.compile(rf"^[（(]([{_NUM}]+)[）)]\s*")


def _next_article(m: re.Match, last_article: int) -> bool:
    """The next article in sequence, or (in an excerpt) a later one set off by a space as statutes print them;
    "第五条规定的…" at a wrapped line start is a cross-reference and is neither, nor is a number that is none."""
    number = chinese_number(m.group(1))
    if number is None:
        return False
    spaced = m.end() > m.end(1) + 1
    return not last_article or number == last_article + 1 or (spaced and number > last_article)


def parse(lines: list[Line], doc: str, wrapped: bool) -> list[Event]:
    events: list[Event] = []
    trail: list[str] = []
    article = ""
    last_article = 0
    last_item = 0

    for i, line in enumerate(lines):
        text = line.text.strip()
        if not text:
            continue
        para = starts_paragraph(lines, i, wrapped)
        if para and (m := _CHAPTER.match(text)) and len(text) < 60:
            level = {"编": 0, "章": 1, "节": 2}[m.group(2)]
            events.append(Event(i, (), doc, enter_heading(trail, level, text), heading=True))
            article = ""
        elif para and (m := _ARTICLE.match(text)) and _next_article(m, last_article):
            last_article = chinese_number(m.group(1))
            article, last_item = f"第{m.group(1)}条", 0
            events.append(Event(i, (article,), f"{doc} {article}", open_headings(trail), skip=m.end()))
        elif article and para and (m := _ITEM.match(text)) and chinese_number(m.group(1)) == last_item + 1:
            last_item += 1
            item = f"（{m.group(1)}）"
            events.append(Event(i, (article, item), f"{doc} {article}{item}", open_headings(trail), skip=m.end()))
        elif article and last_item and para and not _ITEM.match(text):
            # A paragraph after the items belongs to the article again, not to the last item.
            events.append(Event(i, (article,), f"{doc} {article}", open_headings(trail)))
            last_item = 0
    return events
