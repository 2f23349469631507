"""What reviews feed back: a question set of reviewed answers, and acceptance and agreement statistics."""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from rag.records.answers import AnswerRecord, load_answer
from rag.records.queue import QueueFilter, list_answers
from rag.records.reviews import Action, Decision, State, decisions_of

FINAL = (State.APPROVED, State.APPROVED_WITH_CORRECTIONS, State.REJECTED)


def gold_of(answer: AnswerRecord, decision: Decision) -> list[str]:
    """The clauses the reviewer vouched for: accepted citations and the corrections, by reference, in order."""
    gold: list[str] = []
    for ruling in decision.citations:
        if ruling.action is Action.ACCEPT:
            cited = answer.cited_clause(ruling.clause_id)
            gold.append(cited.reference if cited else ruling.clause_id)
        elif ruling.action is Action.CORRECT and ruling.correction:
            gold.append(ruling.correction.reference)
    return list(dict.fromkeys(gold))


def review_set_rows(book) -> list[dict]:
    """One question per reviewed answer whose latest decision vouches for some clause (or approves an abstention),
    in the question-set format `regcite eval run` and `tune-embedder --set` read."""
    rows: list[dict] = []
    for item in list_answers(book, QueueFilter(states=FINAL, limit=1_000_000)):
        answer = load_answer(book, item.answer_id)
        decision = decisions_of(book, item.answer_id)[-1]
        gold = gold_of(answer, decision)
        filters = answer.filters
        row = {"id": f"review-{answer.answer_id[:8]}", "question": answer.question,
               "answerable": bool(gold), "gold": gold,
               "notes": f"answer {answer.answer_id} asked by {answer.user} at {answer.asked_at}; "
                        f"{decision.outcome.value} by {decision.reviewer} at {decision.decided_at}"}
        if filters.as_of:
            row["as_of"] = filters.as_of.isoformat()
        scoped = {k: v for k, v in (("doc_ids", list(filters.doc_ids)), ("jurisdictions", list(filters.jurisdictions)),
                                    ("kinds", [k.value for k in filters.kinds]),
                                    ("languages", list(filters.languages))) if v}
        if scoped:
            row["filters"] = scoped
        if gold or (answer.abstained and item.state is State.APPROVED):
            rows.append(row)
    return rows


@dataclass(frozen=True)
class Rate:
    accepted: int
    total: int

    @property
    def share(self) -> float:
        return self.accepted / self.total if self.total else 0.0


@dataclass(frozen=True)
class Agreement:
    answers: int  # answers decided by two or more reviewers
    citations: int  # citations both ruled on
    agreed_share: float
    kappa: float | None  # Cohen's kappa over the citation actions; None when undefined


@dataclass(frozen=True)
class ReviewStats:
    decisions: int
    by_document: dict[str, Rate] = field(default_factory=dict)
    by_backend: dict[str, Rate] = field(default_factory=dict)
    by_model: dict[str, Rate] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)  # rejection reason -> count (corrections as "corrected")
    outcomes: dict[str, int] = field(default_factory=dict)
    agreement: Agreement = Agreement(0, 0, 0.0, None)


def review_stats(book) -> ReviewStats:
    """Acceptance of citations per document, backend and model (each reviewer's latest decision per answer)."""
    tallies = {"doc": defaultdict(lambda: [0, 0]), "backend": defaultdict(lambda: [0, 0]),
               "model": defaultdict(lambda: [0, 0])}
    reasons: Counter = Counter()
    outcomes: Counter = Counter()
    pairs: list[tuple[str, str]] = []
    n_decisions = n_double = 0
    for item in list_answers(book, QueueFilter(states=(), limit=1_000_000)):
        latest = {d.reviewer: d for d in decisions_of(book, item.answer_id)}
        if not latest:
            continue
        answer = load_answer(book, item.answer_id)
        for decision in latest.values():
            n_decisions += 1
            outcomes[decision.outcome.value] += 1
            for ruling in decision.citations:
                cited = answer.cited_clause(ruling.clause_id)
                ok = ruling.action is Action.ACCEPT
                for key, value in (("doc", cited.doc_id if cited else "?"), ("backend", answer.backend),
                                   ("model", answer.model or "-")):
                    tallies[key][value][0] += ok
                    tallies[key][value][1] += 1
                if ruling.action is Action.REJECT and ruling.reason:
                    reasons[ruling.reason.value] += 1
                elif ruling.action is Action.CORRECT:
                    reasons["corrected"] += 1
        if len(latest) >= 2:
            n_double += 1
            first, second = list(latest.values())[:2]
            theirs = {(r.sentence, r.marker): r.action.value for r in second.citations}
            pairs += [(r.action.value, theirs[(r.sentence, r.marker)]) for r in first.citations
                      if (r.sentence, r.marker) in theirs]
    return ReviewStats(
        n_decisions, *({k: Rate(a, t) for k, (a, t) in sorted(tallies[name].items())}
                       for name in ("doc", "backend", "model")),
        dict(reasons.most_common()), dict(outcomes), _agreement(n_double, pairs))


def _agreement(answers: int, pairs: list[tuple[str, str]]) -> Agreement:
    if not pairs:
        return Agreement(answers, 0, 0.0, None)
    agreed = sum(a == b for a, b in pairs) / len(pairs)
    first, second = zip(*pairs)
    if len(set(first) | set(second)) < 2:
        return Agreement(answers, len(pairs), agreed, None)  # one label only: chance agreement is total
    from sklearn.metrics import cohen_kappa_score

    return Agreement(answers, len(pairs), agreed, float(cohen_kappa_score(first, second)))
