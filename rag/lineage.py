"""Align the clauses of two consecutive versions (same reference, moved text, added, removed) and sum them up per reference."""
from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Iterable, Sequence

from rag.redline import fold_space, is_editorial, same_text
from rag.types import ChangeKind, Clause, ClauseChange

_WORD = re.compile(r"\w+")
# A same-reference pair less alike than this may be a reused reference: its texts are also looked for elsewhere.
REUSED_BELOW = 0.5
# A move: at least SHARED_PAIRS of a loose clause's word pairs sit in one clause of the other version (the cheap
# filter), and MOVE_AT_LEAST of its words in runs of RUN words or more (checked for the CONFIRM best candidates).
SHARED_PAIRS = 0.5
MOVE_AT_LEAST = 0.7
RUN = 3
CONFIRM = 3
MIN_PAIRS = 7  # shorter texts ("[Reserved]", "The purpose of the loan.") match too much by chance to be called moved
# A text found inside one more than this many times its length is a quotation or a paraphrase more often than a move.
MAX_GROWTH = 7
RARE_TOKENS = 8  # candidates for a move share half of the loose clause's rarest words


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


def _same_group(old: Sequence[Clause], new: Sequence[Clause], headed: dict[str, str]) -> bool:
    return same_text(joined(old), joined(new)) or same_text(
        " ".join(headed[c.clause_id] for c in old), " ".join(headed[c.clause_id] for c in new))


def align_versions(old: Sequence[Clause], new: Sequence[Clause]) -> tuple[ClauseChange, ...]:
    """Every clause of old and new in at least one change, in old's order then new's added clauses."""
    pairs = {c.clause_id: _pairs(c.text) for c in (*old, *new)}
    olds, news = _groups(old), _groups(new)
    headed = {**_headed(old), **_headed(new)}
    changes: list[ClauseChange] = []
    loose_old: list[Clause] = []  # no reference in new, or one whose text is not this clause's
    loose_new: list[Clause] = []
    for ref, group in olds.items():
        if ref not in news:
            loose_old += group
            continue
        target = news[ref]
        whole_same = _same_group(group, target, headed)
        whole_editorial = not whole_same and is_editorial(joined(group), joined(target))
        for o, n in _pair_within(group, target, pairs):
            sim = _alike(pairs[o.clause_id], pairs[n.clause_id])
            if whole_same or same_text(o.text, n.text):
                changes.append(ClauseChange(ChangeKind.UNCHANGED, o.clause_id, n.clause_id, False, 1.0))
                continue
            editorial = whole_editorial or is_editorial(o.text, n.text)
            changes.append(ClauseChange(ChangeKind.MODIFIED, o.clause_id, n.clause_id, editorial, round(sim, 4)))
            if sim < REUSED_BELOW and not editorial:
                loose_old.append(o)
                loose_new.append(n)
    loose_new += [c for ref, group in news.items() if ref not in olds for c in group]
    unchanged = {cid for ch in changes if ch.kind is ChangeKind.UNCHANGED for cid in (ch.from_clause_id, ch.to_clause_id)}
    moves = _moves(loose_old, loose_new, old, new, pairs, unchanged)
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
           pairs, unchanged: set[str]) -> list[ClauseChange]:
    """Text of a loose clause found in a clause of the other version under another reference: a loose old
    clause inside one new clause (redesignated, merged), or a loose new clause inside one old clause (split).
    A clause unchanged under its own reference neither received nor gave up text, so it is no partner: an old
    comment that paraphrased an unchanged rule has not moved into it."""
    found: dict[tuple[str, str], float] = {}
    for loose, others, forward in ((loose_old, new, True), (loose_new, old, False)):
        index = _Index([c for c in others if c.clause_id not in unchanged], pairs)
        for clause in loose:
            best = index.best(clause)
            if best is not None:
                other, score = best
                key = (clause.clause_id, other.clause_id) if forward else (other.clause_id, clause.clause_id)
                found[key] = max(score, found.get(key, 0.0))
    by_id = {c.clause_id: c for c in (*old, *new)}
    out = []
    for (a, b), score in found.items():
        before, after = by_id[a].text, by_id[b].text
        editorial = not same_text(before, after) and is_editorial(before, after)
        out.append(ClauseChange(ChangeKind.MOVED, a, b, editorial, round(score, 4)))
    return out


def _runs_within(part: list[str], whole: list[str]) -> float:
    """Share of part's words that sit in whole in runs of RUN words or more, in order: text carried over, not a
    paraphrase sharing word pairs here and there."""
    if not part:
        return 0.0
    blocks = SequenceMatcher(None, part, whole, autojunk=False).get_matching_blocks()
    return sum(b.size for b in blocks if b.size >= RUN) / len(part)


class _Index:
    """The clauses of one version by their rarer words, to find where a loose clause's text went."""

    def __init__(self, clauses: Sequence[Clause], pairs):
        self.clauses = list(clauses)
        self.pairs = pairs
        self.words = [_WORD.findall(c.text.lower()) for c in self.clauses]
        self.df = Counter(w for ws in self.words for w in set(ws))
        self.postings: dict[str, list[int]] = defaultdict(list)
        for i, ws in enumerate(self.words):
            for w in set(ws):
                self.postings[w].append(i)

    def best(self, clause: Clause) -> tuple[Clause, float] | None:
        mine = self.pairs[clause.clause_id]
        if len(mine) < MIN_PAIRS:
            return None
        words = _WORD.findall(clause.text.lower())
        rare = sorted({w for w in words if w in self.df}, key=lambda w: (self.df[w], w))[:RARE_TOKENS]
        # Text carried over keeps most of its rare words: a candidate lacking half of them cannot hold 70% of it.
        hits = Counter(i for w in rare for i in self.postings[w])
        scored = []
        for i in (i for i, n in hits.items() if 2 * n >= len(rare)):
            other = self.clauses[i]
            if other.reference == clause.reference or len(self.words[i]) > MAX_GROWTH * len(words):
                continue  # the same-reference change is made already
            share = _within(mine, self.pairs[other.clause_id])
            if share >= SHARED_PAIRS:
                scored.append((share, -i))
        best = None
        for _, i in sorted(scored, reverse=True)[:CONFIRM]:
            score = _runs_within(words, self.words[-i])
            if score >= MOVE_AT_LEAST and (best is None or score > best[1]):
                best = (self.clauses[-i], score)
        return best


def compose(old: Sequence[Clause], new: Sequence[Clause],
            steps: Sequence[Sequence[ClauseChange]]) -> tuple[ClauseChange, ...]:
    """The changes from the first to the last of a run of consecutive versions, following each clause of old through
    the stored steps (the alignment is never redone) and judging each old/new pair by its own texts."""
    reach = {c.clause_id: {c.clause_id} for c in old}
    for step in steps:
        following: dict[str, set[str]] = defaultdict(set)
        for ch in step:
            if ch.from_clause_id and ch.to_clause_id:
                following[ch.from_clause_id].add(ch.to_clause_id)
        reach = {cid: {t for c in now for t in following.get(c, ())} for cid, now in reach.items()}
    by_id = {c.clause_id: c for c in (*old, *new)}
    olds, news = _groups(old), _groups(new)
    headed = {**_headed(old), **_headed(new)}
    out: list[ClauseChange] = []
    for o in old:
        targets = sorted((by_id[t] for t in reach[o.clause_id] if t in by_id), key=lambda c: c.ordinal)
        if not targets:
            out.append(ClauseChange(ChangeKind.REMOVED, o.clause_id, None, False, 0.0))
        for n in targets:
            sim = round(_alike(_pairs(o.text), _pairs(n.text)), 4)
            if n.reference != o.reference:
                kind = ChangeKind.MOVED
            elif same_text(o.text, n.text) or _same_group(olds[o.reference], news[n.reference], headed):
                out.append(ClauseChange(ChangeKind.UNCHANGED, o.clause_id, n.clause_id, False, 1.0))
                continue
            else:
                kind = ChangeKind.MODIFIED
            editorial = not same_text(o.text, n.text) and is_editorial(o.text, n.text)
            out.append(ClauseChange(kind, o.clause_id, n.clause_id, editorial, sim))
    reached = {t for targets in reach.values() for t in targets}
    out += [ClauseChange(ChangeKind.ADDED, None, n.clause_id, False, 0.0) for n in new if n.clause_id not in reached]
    return tuple(out)


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
