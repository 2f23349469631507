"""Gold references against the versions of an index: gold not in force on its question's date, and gold that a
later version changed, so the team knows which gold answers to re-read."""
from __future__ import annotations

import functools
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Callable, Iterable, Mapping, Sequence

from rag.types import ChangeKind, Clause, ClauseChange, DocumentVersion
from rag.versions import changed_since

from evals.metrics import covers
from evals.questions import EvalQuestion, missing_gold

ChangesOf = Callable[[str, str], Sequence[ClauseChange]]


@dataclass(frozen=True)
class GoldNotInForce:
    """A gold reference the index holds, but in no version that answers on its question's date."""

    qid: str
    gold: str
    as_of: date


@dataclass(frozen=True)
class StaleGold:
    """A gold clause (or a clause under it) in force on the question's date that a later version changed."""

    qid: str
    gold: str
    as_of: date
    reference: str  # the clause that changed, as it read on as_of: the gold clause or one of its descendants
    kind: ChangeKind  # MODIFIED, MOVED or REMOVED
    by_version_id: str  # the first later version that changed it
    effective_from: date | None  # that version's


def by_date(questions: Iterable[EvalQuestion], default: date) -> dict[date, list[EvalQuestion]]:
    """Questions grouped by the day they are asked for: their own as_of, else `default`."""
    groups: dict[date, list[EvalQuestion]] = defaultdict(list)
    for q in questions:
        groups[q.filters_on(default).as_of].append(q)
    return dict(sorted(groups.items()))


def gold_not_in_force(questions: Sequence[EvalQuestion], documents: Mapping[str, DocumentVersion],
                      clauses: Sequence[Clause], default: date) -> list[GoldNotInForce]:
    """Gold that names indexed clauses, none of them in a version answering on the question's date: a run asked
    for that date filters them out, so the question can only be missed."""
    anywhere = {(m.qid, m.gold) for m in missing_gold(list(questions), [c.reference for c in clauses],
                                                      {c.clause_id for c in clauses})}
    out = []
    for day, group in by_date(questions, default).items():
        on_day = [c for c in clauses if documents[c.version_id].answers_on(day)]
        for m in missing_gold(group, [c.reference for c in on_day], {c.clause_id for c in on_day}):
            if (m.qid, m.gold) not in anywhere:  # missing from the whole index is missing_gold's report
                out.append(GoldNotInForce(m.qid, m.gold, day))
    order = _order(questions)
    return sorted(out, key=lambda g: (order[g.qid], g.gold))


def stale_gold(questions: Sequence[EvalQuestion], documents: Mapping[str, DocumentVersion], changes_of: ChangesOf,
               clauses: Sequence[Clause], default: date) -> list[StaleGold]:
    """Gold whose clause, or a clause under it, as in force on the question's date, a version effective later
    changed substantively or removed (rag.versions.changed_since); editorial changes are not reported."""
    changes_of = functools.lru_cache(maxsize=None)(changes_of)  # changed_since asks for a pair more than once
    clauses_by_id = {c.clause_id: c for c in clauses}
    out: dict[tuple, StaleGold] = {}
    for day, group in by_date(questions, default).items():
        changed = changed_since(documents, changes_of, clauses_by_id, day)
        if not changed:
            continue
        for q in group:
            for gold in q.gold:
                for c in changed:
                    # a gold clause id names one version's clause; a reference covers its clause and descendants
                    if c.clause_id == gold or covers(gold, c.reference):
                        # the parts of an over-long clause share its reference: one flag for them all
                        key = (q.qid, gold, c.reference, c.kind, c.by_version_id)
                        out.setdefault(key, StaleGold(q.qid, gold, day, c.reference, c.kind, c.by_version_id,
                                                      c.effective_from))
    order = _order(questions)
    return sorted(out.values(), key=lambda s: (order[s.qid], s.gold, s.reference))


def _order(questions: Sequence[EvalQuestion]) -> dict[str, int]:
    return {q.qid: i for i, q in enumerate(questions)}
