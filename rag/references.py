"""Clauses a question names outright ("§ 1002.9(a)(2)", "GDPR Article 17", "第二十九条"), found by clause path.

Keys are built from the typed clause path recorded at split time, never from searching clause text, and the
question's mentions are normalised the same way, so "Art. 17(1) (b)", "article 17(1)(b)" and the stored path
("Art. 17", "(1)", "(b)") meet at "art17(1)(b)".
"""
from __future__ import annotations

import bisect
import re
import unicodedata
from dataclasses import dataclass
from typing import Sequence

from rag.numerals import ORDINAL_CHARS, chinese_number
from rag.types import Clause

_HAN_NUMBER = ORDINAL_CHARS


_PARENS = r"(?:\s*\(\s*[0-9a-z]{1,6}\s*\))*"
# Each pattern yields (kind, number, parenthesised tail); the key is kind + number + tail without spaces.
_MENTIONS = (
    ("§", re.compile(rf"(?:§+\s*|\bsection\s+|\bsec\.\s*|\bcfr\s+(?:§+\s*)?|\bpart\s+)(\d{{1,4}}\.\d+[a-z]?)({_PARENS})")),
    ("§", re.compile(rf"(?<![\w.])(\d{{3,4}}\.\d{{1,4}}[a-z]?)((?:\s*\(\s*[0-9a-z]{{1,6}}\s*\))+)")),
    ("art", re.compile(rf"\bart(?:icle|\.)?\s*(\d{{1,3}}[a-z]?)\b({_PARENS})")),
    ("第", re.compile(rf"第\s*([{_HAN_NUMBER}\d]+)\s*条((?:\s*\(\s*[{_HAN_NUMBER}\d]+\s*\))*)")),
    ("item", re.compile(r"\bitem\s+(\d{1,2}[a-z]?)\b()")),
)
_PATH_HEAD = re.compile(rf"^(?:(§)\s*(\d+\.\d+[a-z]?)|(art)\.\s*(\d+[a-z]?)|(第)([{_HAN_NUMBER}\d]+)条|(item)\s+(\d+[a-z]?))$")


def _tail_key(tail: str) -> str:
    parts = re.findall(r"\(\s*([^()\s]+)\s*\)", tail)
    return "".join(f"({chinese_number(p) if chinese_number(p) is not None and not p.isascii() else p})" for p in parts)


def path_key(path: Sequence[str]) -> str | None:
    """The lookup key of a clause path, or None for paths that no question names (recitals, headings, comments)."""
    if not path:
        return None
    head = unicodedata.normalize("NFKC", path[0]).lower()
    m = _PATH_HEAD.match(head)
    if m is None:
        return None
    kind, number = next((m.group(i), m.group(i + 1)) for i in (1, 3, 5, 7) if m.group(i))
    if kind == "第":
        number = str(chinese_number(number))
    tail = unicodedata.normalize("NFKC", "".join(path[1:])).lower()
    if not re.fullmatch(r"(?:\([^()]+\))*", tail.replace(" ", "")):  # only parenthesised steps: "(a)(1)"
        return None
    return f"{kind}{number}{_tail_key(tail)}"


@dataclass(frozen=True)
class Mention:
    key: str
    start: int  # where the mention begins in the normalised question, to find the words naming a document before it


def mentions(question: str) -> list[Mention]:
    """Clause keys named in a question, longest first where two overlap."""
    text = unicodedata.normalize("NFKC", question).lower()
    found: dict[str, Mention] = {}
    taken: list[tuple[int, int]] = []
    for kind, pattern in _MENTIONS:
        for m in pattern.finditer(text):
            if any(a <= m.start() < b for a, b in taken):
                continue
            number = m.group(1)
            if kind == "第":
                value = chinese_number(number)
                if value is None:
                    continue
                number = str(value)
            key = f"{kind}{number}{_tail_key(m.group(2))}"
            taken.append((m.start(), m.end()))
            found.setdefault(key, Mention(key, m.start()))
    return list(found.values())


class ReferenceMap:
    """Sorted clause keys of one index snapshot, so a key finds its clause and every clause beneath it."""

    def __init__(self, clauses: Sequence[Clause]):
        pairs = sorted((key, i) for i, c in enumerate(clauses) if (key := path_key(c.path)) is not None)
        self._keys = [k for k, _ in pairs]
        self._positions = [i for _, i in pairs]

    def lookup(self, key: str) -> tuple[list[int], list[int]]:
        """(positions whose key is exactly key, positions of its descendants), each in index order."""
        lo = bisect.bisect_left(self._keys, key)
        exact, children = [], []
        for j in range(lo, len(self._keys)):
            k = self._keys[j]
            if k == key:
                exact.append(self._positions[j])
            elif k.startswith(key + "("):
                children.append(self._positions[j])
            elif not k.startswith(key):
                break
        return sorted(exact), sorted(children)
