"""`regcite eval compare A B`: per-metric deltas between two runs and the questions whose outcome changed."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

# A question's outcome: one yes/no per aspect; a change in any of them is reported.
OUTCOMES = {
    "clause_hit": "a gold clause retrieved",
    "abstention_correct": "abstained exactly when unanswerable",
    "citation_recall": "every gold clause cited",
    "key_facts": "every key fact in the answer",
}


@dataclass(frozen=True)
class MetricDelta:
    metric: str
    a: float | None
    b: float | None

    @property
    def delta(self) -> float | None:
        return None if self.a is None or self.b is None else self.b - self.a


@dataclass(frozen=True)
class OutcomeChange:
    qid: str
    aspect: str
    before: bool
    after: bool


@dataclass(frozen=True)
class Comparison:
    a: str
    b: str
    metrics: tuple[MetricDelta, ...]
    changes: tuple[OutcomeChange, ...]
    only_in_a: tuple[str, ...]
    only_in_b: tuple[str, ...]
    as_of_a: str = ""  # the runs' as-of dates ("" for a run from before runs were dated)
    as_of_b: str = ""


def _outcomes(per_question: dict) -> dict[str, dict[str, bool]]:
    # Per-question scores are means over repeats; an aspect holds when it held in every repeat.
    return {q: {k: s[k] >= 1.0 - 1e-9 for k in OUTCOMES if k in s} for q, s in per_question.items()}


def compare_summaries(a: dict, b: dict, name_a: str = "A", name_b: str = "B") -> Comparison:
    names = sorted(set(a["metrics"]) | set(b["metrics"]))
    deltas = tuple(
        MetricDelta(n, a["metrics"].get(n, {}).get("mean"), b["metrics"].get(n, {}).get("mean")) for n in names
    )
    oa, ob = _outcomes(a["per_question"]), _outcomes(b["per_question"])
    changes = []
    for qid in sorted(set(oa) & set(ob)):
        for aspect in OUTCOMES:
            if aspect in oa[qid] and aspect in ob[qid] and oa[qid][aspect] != ob[qid][aspect]:
                changes.append(OutcomeChange(qid, aspect, oa[qid][aspect], ob[qid][aspect]))
    return Comparison(name_a, name_b, deltas, tuple(changes), tuple(sorted(set(oa) - set(ob))),
                      tuple(sorted(set(ob) - set(oa))), a.get("as_of") or "", b.get("as_of") or "")


def compare_runs(folder_a: str | Path, folder_b: str | Path) -> Comparison:
    from evals.run import load_run

    (sa, _), (sb, _) = load_run(folder_a), load_run(folder_b)
    if sa.get("set_fingerprint") != sb.get("set_fingerprint"):
        # Still comparable on the shared questions; say so rather than refuse.
        log.warning("the runs used different question sets; comparing shared questions")
    if sa.get("as_of") != sb.get("as_of"):
        # Another date may mean other versions answering: a change of outcome can be the regulation's, not ours.
        log.warning("the runs answered as of different dates (%s, %s)", sa.get("as_of"), sb.get("as_of"))
    return compare_summaries(sa, sb, str(folder_a), str(folder_b))


def _f(v: float | None, signed: bool = False) -> str:
    return "–" if v is None else (f"{v:+.3f}" if signed else f"{v:.3f}")


def format_comparison(c: Comparison) -> str:
    dates = [f" (as of {d})" if d else "" for d in (c.as_of_a, c.as_of_b)]
    lines = [f"A: {c.a}{dates[0]}", f"B: {c.b}{dates[1]}", "", f"{'metric':28} {'A':>8} {'B':>8} {'B-A':>8}"]
    lines += [f"{m.metric:28} {_f(m.a):>8} {_f(m.b):>8} {_f(m.delta, True):>8}" for m in c.metrics]
    lines.append("")
    if c.changes:
        lines.append(f"{len(c.changes)} outcome change(s):")
        for ch in c.changes:
            word = "now" if ch.after else "no longer"
            lines.append(f"  {ch.qid}: {word} {OUTCOMES[ch.aspect]} ({'better' if ch.after else 'worse'})")
    else:
        lines.append("no question changed outcome")
    for label, qids in (("only in A", c.only_in_a), ("only in B", c.only_in_b)):
        if qids:
            lines.append(f"{label}: {', '.join(qids)}")
    return "\n".join(lines)
