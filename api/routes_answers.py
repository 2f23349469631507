"""Recorded answers: shown again by id, and reviewed (reviewers and admins rule on every citation)."""
from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool

from api.auth import access_of, acting_user, reviewer, service_of
from api.convert import answer_out, decision_out
from api.errors import bad_input, documented, not_found
from api.schemas import AnswerOut, DecisionOut, ReviewRequest
from rag.errors import PermissionDenied, ReviewError
from rag.records.users import User

router = APIRouter(tags=["answers"])


@router.get("/v1/answers/{answer_id}", response_model=AnswerOut, responses=documented(401, 403, 404))
def answer(answer_id: str, user: User = Depends(acting_user), service=Depends(service_of)) -> AnswerOut:
    """An answer as it was recorded, with its review state and decisions. Askers see their own answers only."""
    from rag.records.reviews import decisions_of, state_of

    record = _recorded(service, user, answer_id)
    if not user.role.reviews and record.user != user.name:
        raise PermissionDenied(f"{user.name} is an asker: only the asker and reviewers see an answer")
    decisions = decisions_of(service.book, record.answer_id)
    return answer_out(record, decisions, state_of(decisions, service.book.reviews_required).value)


@router.post("/v1/answers/{answer_id}/reviews", response_model=DecisionOut, status_code=201,
             responses=documented(400, 401, 403, 404, 409, 413, 422))
async def review(answer_id: str, body: ReviewRequest, user: User = Depends(reviewer),
                 service=Depends(service_of)) -> DecisionOut:
    """Record a decision: a ruling on every citation (accept, reject with a reason, or correct with the right
    clause's id) and the outcome. 409 when the answer is claimed by another reviewer, its review is complete, or
    the reviewer asked it."""
    return await run_in_threadpool(_decide, service, user, answer_id, body)


def _decide(service, user: User, answer_id: str, body: ReviewRequest) -> DecisionOut:
    from rag.records.reviews import Outcome, decide, decisions_of, state_of

    record = _recorded(service, user, answer_id)
    rulings = _rulings(service, user, record, body)
    decision = decide(service.book, user, record.answer_id, Outcome(body.outcome), rulings, body.comment)
    return decision_out(decision, state_of(decisions_of(service.book, record.answer_id), service.book.reviews_required))


def _recorded(service, user: User, answer_id: str):
    """The recorded answer, as absent as one never recorded when it drew on a collection `user` may not read."""
    from rag.errors import IndexMissing
    from rag.records.answers import load_answer
    from rag.records.queue import check_readable

    try:
        record = load_answer(service.book, answer_id)
        try:
            index = service.pipeline().index
        except IndexMissing:
            index = None  # nothing readable but to those who read everything
        check_readable(service.book, user, record, index)
        return record
    except ReviewError:
        raise not_found(f"recorded answer {answer_id!r}", "POST /v1/ask returns answer ids") from None


def _rulings(service, user: User, record, body: ReviewRequest) -> list:
    """The request's rulings as the core's, each matched to a citation of the answer; every citation ruled on."""
    from rag.records.reviews import Action, CitationDecision, Reason, citation_slots

    slots = {(s, m): clause_id for s, m, clause_id in citation_slots(record)}
    chosen: dict[tuple[int, str], CitationDecision] = {}
    for r in body.rulings:
        key = (r.sentence - 1, r.marker)
        if key not in slots:
            known = ", ".join(f"sentence {s + 1} {m}" for s, m in slots) or "none"
            raise bad_input(f"sentence {r.sentence} has no citation {r.marker}; the answer's citations: {known}")
        if key in chosen:
            raise bad_input(f"citation {r.marker} of sentence {r.sentence} is ruled on twice")
        correction = _correction(service, user, r.correction) if r.action == "correct" else None
        chosen[key] = CitationDecision(key[0], r.marker, slots[key], Action(r.action),
                                       Reason(r.reason) if r.action == "reject" else None, correction, r.comment)
    if body.accept_all:
        for (s, m), clause_id in slots.items():
            chosen.setdefault((s, m), CitationDecision(s, m, clause_id, Action.ACCEPT))
    missing = [f"sentence {s + 1} {m}" for s, m in slots if (s, m) not in chosen]
    if missing:
        raise bad_input("every citation needs a ruling (or accept_all); not ruled on: " + ", ".join(missing))
    all_accepted = all(c.action is Action.ACCEPT for c in chosen.values())
    if body.outcome == "approved" and not all_accepted:
        raise bad_input("an answer with rejected or corrected citations is approved_with_corrections, or rejected")
    if body.outcome == "approved_with_corrections" and all_accepted:
        raise bad_input("every citation was accepted: the outcome is approved")
    return [chosen[key] for key in slots]


def _correction(service, user: User, clause_id: str):
    """The clause a correction names, among those the reviewer may read."""
    from rag.records.reviews import Correction

    index = access_of(service, user).view(service.pipeline().index)
    try:
        clause = index.clause(clause_id.strip())
    except KeyError:
        raise bad_input(f"no clause {clause_id!r} in the index; GET /v1/search gives clause ids") from None
    return Correction.of(clause, index.document_of(clause))
