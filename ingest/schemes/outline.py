"""Nested paragraph markers ((a)(1)(i)(A), 1. (a) (i)): place each marker by sequence, indent and context."""
from __future__ import annotations

import re

_ROMAN = re.compile(r"^(?=[ivxlc]+$)c{0,3}(xc|xl|l?x{0,3})(ix|iv|v?i{0,3})$")
_ROMAN_VALUES = {"i": 1, "v": 5, "x": 10, "l": 50, "c": 100}


def roman_value(s: str) -> int:
    total = 0
    for a, b in zip(s, s[1:] + " "):
        v = _ROMAN_VALUES[a]
        total += -v if b != " " and _ROMAN_VALUES[b] > v else v
    return total


def letter_value(s: str) -> int:
    """a=1 … z=26, aa=27 … zz=52 (the CFR doubles letters past z)."""
    return (ord(s[0].lower()) - 96) + 26 * (len(s) - 1) if len(set(s)) == 1 else -1


def readings(token: str) -> list[tuple[str, int]]:
    """Every (kind, value) a marker could mean: "i" is a letter and a roman numeral."""
    out = []
    if token.isdigit():
        out.append(("digit", int(token)))
    elif token.islower():
        if _ROMAN.match(token):
            out.append(("roman", roman_value(token)))
        value = letter_value(token)
        if value > 0 and (len(token) == 1 or not _ROMAN.match(token)):
            out.append(("lower", value))
    elif token.isupper():
        value = letter_value(token)
        if value > 0:
            out.append(("upper", value))
    return out


class Outline:
    """The stack of open markers under one container, with the fixed order of kinds per depth."""

    def __init__(self, kinds: tuple[str, ...]):
        self.kinds = kinds  # kind expected at each depth, e.g. ("lower", "digit", "roman", "upper", ...)
        self.stack: list[tuple[str, int, str]] = []  # (kind, value, token) per open depth
        # Per open depth: the sibling the open entry followed, and, while a run of another kind holds a depth
        # ("(a)", then "(i)" "(ii)" read as numerals at the letter's depth), the values of the depth's own kind
        # it hid, so that "(b)" can still follow "(a)" after the run.
        self.prior: list[tuple[str, int, str] | None] = []
        self.hidden: list[tuple[int, ...]] = []

    def reset(self) -> None:
        self.stack, self.prior, self.hidden = [], [], []

    def place(self, token: str, indent_depth: int = -1, parent_open: bool = False,
              strict: bool = False) -> list[str] | None:
        """Push a marker; returns the new chain of tokens, or None when it does not fit (a cross-reference).

        indent_depth: the depth the source's indentation suggests (-1 unknown). parent_open: the previous
        paragraph ended with ':' or '—', so a first child is likely. strict: no gaps or skipped depths.
        """
        best: tuple[int, int, str, int, tuple[str, int] | None] | None = None  # (score, depth, kind, value, parent)

        def consider(score: int, depth: int, kind: str, value: int, parent: tuple[str, int] | None = None) -> None:
            nonlocal best
            # Ties keep the shallower reading: (i) right after (h)(2) is the letter unless (2) opened a list.
            if best is None or score > best[0] or (score == best[0] and depth < best[1]):
                best = (score, depth, kind, value, parent)

        for kind, value in readings(token):
            for depth, expected in enumerate(self.kinds):
                if expected != kind or depth > len(self.stack) + 1:
                    continue
                score = self._score(depth, kind, value, strict)
                if indent_depth == depth and score <= 0 and depth < len(self.stack) and not strict \
                        and self.stack[depth][0] == kind and value > self.stack[depth][1]:
                    score = 1  # the indentation vouches for a sibling past a gap the text does not explain
                if score <= 0:
                    continue
                if indent_depth >= 0:
                    score += 3 if depth == indent_depth else 0
                if parent_open and depth == len(self.stack) and value == 1:
                    score += 1
                consider(score, depth, kind, value)
            # "(i)" taken as a letter, then "(ii)" at the same depth: the first was a roman numeral after all.
            # Its later siblings then follow it at that depth even though the depth expects another kind.
            for depth, (prev_kind, prev_value, prev_token) in enumerate(self.stack):
                if not prev_kind or self.kinds[depth] == kind or indent_depth not in (-1, depth):
                    continue
                if (kind == prev_kind and value == prev_value + 1) or (
                        kind != prev_kind and (kind, value - 1) in readings(prev_token)):
                    consider(3 + (3 if indent_depth == depth else 0), depth, kind, value)
            if strict:
                continue
            bonus = 3 if indent_depth == len(self.stack) else 0
            if self.stack and len(self.stack) < len(self.kinds) and kind != self.kinds[len(self.stack)] and value == 1:
                # A first child of the kind that follows the open entry's other reading: "(iii)" held at a
                # letter's depth takes "(A)" children, and so does a lone "(i)" read there as the letter i.
                parent_kind, parent_value, parent_token = self.stack[-1]
                for reading in readings(parent_token):
                    if self._child_kind(reading[0]) == kind and (reading[0] == parent_kind or reading == ("roman", 1)):
                        consider(4 + bonus, len(self.stack), kind, value, reading)
            for depth, values in enumerate(self.hidden):
                if kind == self.kinds[depth] and self.stack[depth][0] != kind and value - 1 in values:
                    consider(4 + (3 if indent_depth == depth else 0), depth, kind, value)
        if best is None:
            return None
        _, depth, kind, value, parent = best
        if parent is not None and parent != self.stack[-1][:2]:
            self._put(len(self.stack) - 1, (*parent, self.stack[-1][2]))
        # A skipped depth ((a) then (i) with no (1)) is held by an empty entry that names nothing.
        for filler in range(len(self.stack), depth):
            self._put(filler, ("", 0, ""))
        self._put(depth, (kind, value, token))
        return [t for _, _, t in self.stack if t]

    def put(self, depth: int, kind: str, value: int, token: str) -> list[str]:
        """Open a marker where the caller has placed it (one the source printed without its parentheses, which
        `place` does not read); depth is at most the stack's length. Returns the new chain of tokens."""
        self._put(depth, (kind, value, token))
        return [t for _, _, t in self.stack if t]

    def _child_kind(self, kind: str) -> str:
        k = self.kinds.index(kind) if kind in self.kinds else len(self.kinds)
        return self.kinds[k + 1] if k + 1 < len(self.kinds) else ""

    def _put(self, depth: int, entry: tuple[str, int, str]) -> None:
        """Open `entry` at `depth`, closing everything deeper; keeps `prior` and `hidden` in step with the stack."""
        own = self.kinds[depth]
        if depth >= len(self.stack):
            prior, hidden = None, ()
        else:
            old, prior, hidden = self.stack[depth], self.prior[depth], self.hidden[depth]
            if entry[0] == own or not entry[0]:
                hidden = ()
            elif old[0] != entry[0]:
                # A run of another kind starts here (or "(i)" is read anew): what it hides stays reachable.
                hidden += tuple(e[1] for e in (prior, old) if e is not None and e[0] == own)
            if old[2] != entry[2]:
                prior = old  # a sibling, not a new reading of the same marker
        self.stack = self.stack[:depth] + [entry]
        self.prior = self.prior[:depth] + [prior]
        self.hidden = self.hidden[:depth] + [hidden]

    def _score(self, depth: int, kind: str, value: int, strict: bool) -> int:
        if depth > len(self.stack):
            return 1 if value == 1 and not strict else 0
        if depth == len(self.stack):
            if not self.stack and depth == 0 and not strict:
                return 4 if value == 1 else 1  # an excerpt may open at (g)
            return 4 if value == 1 else 0 if strict or value > 2 else 1
        prev_kind, prev_value, _ = self.stack[depth]
        if prev_kind != kind:
            return 0
        if value == prev_value + 1:
            return 4
        if not strict and prev_value + 1 < value <= prev_value + 3:
            return 1  # reserved or missing paragraphs
        return 0
