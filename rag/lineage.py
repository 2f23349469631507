"""Align the clauses of two consecutive versions (same reference, moved text, added, removed) and sum them up per reference."""
from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Iterable, Sequence

from rag.redline import fold_space, is_editorial, same_text
from rag.types import ChangeKind, Clause, ClauseChange

_WORD = re.compile(r"\w+")
# A same-reference pair less alike than this may be a reused reference: its texts are also looked for elsewhere.
REUSED_BELOW = 0.5
# Share of a leftover clause's word pairs that must sit in one clause of the other version for a move.
MOVE_AT_LEAST = 0.7
MIN_PAIRS = 6  # shorter texts ("[Reserved]") match too much by chance to be called moved
RARE_TOKENS = 6  # candidates for a move share one of the leftover's rarest words


def _pairs(text: str) -> frozenset[tuple[str, str]]:
    words = _WORD.findall(text.lower())
    return frozenset(zip(words, words[1:]))


def _within(part: frozenset, whole: frozenset) -> float:
    """Share of part's word pairs found in whole: 1.0 when part's text sits inside whole's."""
    return len(part & whole) / len(part) if part else 0.0


def _alike(a: frozenset, b: frozenset) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def _groups(clauses: Sequence[Clause]) -> dict[str, list[Clause]]:
    """Clauses by reference in document order: the parts of an over-long clause, or two blocks printed under one
    reference, are one group."""
    out: dict[str, list[Clause]] = defaultdict(list)
    for c in sorted(clauses, key=lambda c: c.ordinal):
        out[c.reference].append(c)
    return out


def joined(clauses: Iterable[Clause]) -> str:
    return fold_space(" ".join(c.text for c in clauses))


def _headed(clauses: Sequence[Clause]) -> dict[str, str]:
    """Each clause's text after the headings that open at it. Formats disagree on what is a heading: a PDF wraps
    "…Adverse Action Notices" so "Notices" opens the text, an HTML table caption is a heading where the PDF
    prints a line; with the headings in, both read the same."""
    out, trail = {}, ()
    for c in sorted(clauses, key=lambda c: c.ordinal):
        keep = next((i for i, (a, b) in enumerate(zip(trail, c.headings)) if a != b), min(len(trail), len(c.headings)))
        out[c.clause_id] = " ".join((*c.headings[keep:], c.text))
        trail = c.headings
    return out


def align_versions(old: Sequence[Clause], new: Sequence[Clause]) -> tuple[ClauseChange, ...]:
    """Every clause of old and new in at least one change, in old's order then new's added clauses."""
    pairs = {c.clause_id: _pairs(c.text) for c in (*old, *new)}
    olds, news = _groups(old), _groups(new)
    headed = {**_headed(old), **_headed(new)}
    changes: list[ClauseChange] = []
    loose_old: list[Clause] = []  # no reference in new, or one whose text is not this clause's
    loose_new: list[Clause] = []
    matched_new: set[str] = set()
    for ref, group in olds.items():
        if ref not in news:
            loose_old += group
            continue
        target = news[ref]
        whole_same = same_text(joined(group), joined(target)) or same_text(
            " ".join(headed[c.clause_id] for c in group), " ".join(headed[c.clause_id] for c in target))
        whole_editorial = not whole_same and is_editorial(joined(group), joined(target))
        for o, n in _pair_within(group, target, pairs):
            sim = _alike(pairs[o.clause_id], pairs[n.clause_id])
            if whole_same or same_text(o.text, n.text):
                changes.append(ClauseChange(ChangeKind.UNCHANGED, o.clause_id, n.clause_id, False, 1.0))
                continue
            editorial = whole_editorial or is_editorial(fold_space(o.text), fold_space(n.text))
            changes.append(ClauseChange(ChangeKind.MODIFIED, o.clause_id, n.clause_id, editorial, round(sim, 4)))
            matched_new.add(n.clause_id)
            if sim < REUSED_BELOW and not editorial:
                loose_old.append(o)
                loose_new.append(n)
        matched_new.update(n.clause_id for n in target)
    loose_new += [c for ref, group in news.items() if ref not in olds for c in group]
    moves = _moves(loose_old, loose_new, old, new, pairs)
    changes += moves
    moved_old = {m.from_clause_id for m in moves}
    moved_new = {m.to_clause_id for m in moves}
    for c in loose_old:
        if c.reference not in news and c.clause_id not in moved_old:
            changes.append(ClauseChange(ChangeKind.REMOVED, c.clause_id, None, False, 0.0))
    for c in loose_new:
        if c.reference not in olds and c.clause_id not in moved_new:
            changes.append(ClauseChange(ChangeKind.ADDED, None, c.clause_id, False, 0.0))
    order = {c.clause_id: i for i, c in enumerate((*old, *new))}
    changes.sort(key=lambda ch: (order[ch.from_clause_id] if ch.from_clause_id else len(order),
                                 order[ch.to_clause_id] if ch.to_clause_id else -1))
    return tuple(changes)


def _pair_within(old: list[Clause], new: list[Clause], pairs) -> list[tuple[Clause, Clause]]:
    """Parts of one reference: side by side when they are as many, else each to its most alike counterpart."""
    if len(old) == len(new):
        return list(zip(old, new))
    out = {(o.clause_id, max(new, key=lambda n: _alike(pairs[o.clause_id], pairs[n.clause_id])).clause_id): None
           for o in old}
    for n in new:
        o = max(old, key=lambda o: _alike(pairs[o.clause_id], pairs[n.clause_id]))
        out[(o.clause_id, n.clause_id)] = None
    by_id = {c.clause_id: c for c in (*old, *new)}
    return [(by_id[a], by_id[b]) for a, b in out]


def _moves(loose_old: list[Clause], loose_new: list[Clause], old: Sequence[Clause], new: Sequence[Clause],
           pairs) -> list[ClauseChange]:
    """Text of a loose clause found in a clause of the other version under another reference: a loose old
    clause inside one new clause (redesignated, merged), or a loose new clause inside one old clause (split)."""
    found: dict[tuple[str, str], float] = {}
    for c, others, forward in ((loose_old, new, True), (loose_new, old, False)):
        index = _Index(others, pairs)
        for clause in c:
            mine = pairs[clause.clause_id]
            if len(mine) < MIN_PAIRS:
                continue
            best = index.best(clause, mine)
            if best is None:
                continue
            other, score = best
            key = (clause.clause_id, other.clause_id) if forward else (other.clause_id, clause.clause_id)
            found[key] = max(score, found.get(key, 0.0))
    by_id = {c.clause_id: c for c in (*old, *new)}
    out = []
    for (a, b), score in found.items():
        before, after = by_id[a].text, by_id[b].text
        editorial = not same_text(before, after) and is_editorial(fold_space(before), fold_space(after))
        out.append(ClauseChange(ChangeKind.MOVED, a, b, editorial, round(score, 4)))
    return out


class _Index:
    """The clauses of one version by their rarer words, to find where a loose clause's text went."""

    def __init__(self, clauses: Sequence[Clause], pairs):
        self.clauses = list(clauses)
        self.pairs = pairs
        self.words = [set(_WORD.findall(c.text.lower())) for c in self.clauses]
        self.df = Counter(w for ws in self.words for w in ws)
        self.postings: dict[str, list[int]] = defaultdict(list)
        for i, ws in enumerate(self.words):
            for w in ws:
                self.postings[w].append(i)

    def best(self, clause: Clause, mine: frozenset) -> tuple[Clause, float] | None:
        words = {w for w in _WORD.findall(clause.text.lower()) if w in self.df}
        rare = sorted(words, key=lambda w: (self.df[w], w))[:RARE_TOKENS]
        candidates = {i for w in rare for i in self.postings[w]}
        best = None
        for i in candidates:
            other = self.clauses[i]
            if other.reference == clause.reference:
                continue  # that pair is the same-reference change already
            score = _within(mine, self.pairs[other.clause_id])
            if score >= MOVE_AT_LEAST and (best is None or (score, -i) > (best[1], -best[2])):
                best = (other, score, i)
        return None if best is None else (best[0], best[1])


@dataclass(frozen=True)
class ReferenceChange:
    """One line of a diff: the clause changes of one reference (or one move) taken together, texts joined."""

    kind: ChangeKind  # ADDED, REMOVED, MODIFIED or MOVED
    from_ref: str | None  # None for ADDED
    to_ref: str | None  # None for REMOVED
    old_text: str
    new_text: str
    editorial: bool = False


_KIND_ORDER = (ChangeKind.ADDED, ChangeKind.REMOVED, ChangeKind.MODIFIED, ChangeKind.MOVED)


def by_reference(old: Sequence[Clause], new: Sequence[Clause],
                 changes: Sequence[ClauseChange]) -> tuple[ReferenceChange, ...]:
    """The diff as shown: added, removed, modified (whole reference texts) and moved, each in document order."""
    by_id = {c.clause_id: c for c in (*old, *new)}
    olds, news = _groups(old), _groups(new)
    sides: dict[tuple, tuple[list[Clause], list[Clause]]] = defaultdict(lambda: ([], []))
    for ch in changes:
        a = by_id.get(ch.from_clause_id) if ch.from_clause_id else None
        b = by_id.get(ch.to_clause_id) if ch.to_clause_id else None
        if ch.kind is ChangeKind.UNCHANGED or (a is None and b is None):
            continue
        key = (ch.kind, a.reference if a else None, b.reference if b else None)
        before, after = sides[key]
        if a is not None and a not in before:
            before.append(a)
        if b is not None and b not in after:
            after.append(b)
    out = []
    for (kind, from_ref, to_ref), (before, after) in sides.items():
        if kind is ChangeKind.MODIFIED:  # the whole reference, all its parts, on both sides
            before, after = olds[from_ref], news[to_ref]
        old_text = joined(sorted(before, key=lambda c: c.ordinal))
        new_text = joined(sorted(after, key=lambda c: c.ordinal))
        editorial = bool(old_text and new_text) and not same_text(old_text, new_text) and is_editorial(old_text, new_text)
        first = min(c.ordinal for c in (after if kind in (ChangeKind.ADDED, ChangeKind.MOVED) else before))
        out.append((_KIND_ORDER.index(kind), first, ReferenceChange(kind, from_ref, to_ref, old_text, new_text, editorial)))
    return tuple(r for _, _, r in sorted(out, key=lambda t: (t[0], t[1])))
