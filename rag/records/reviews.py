"""Review decisions: a verdict on every citation of an answer and one on the answer, each a new chain record."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import Enum

from rag.errors import ReviewError
from rag.records.answers import AnswerRecord, load_answer, sha256_text
from rag.records.chain import Kind, Record, append
from rag.records.db import utc_now
from rag.records.users import User, require_reviewer


class Action(str, Enum):
    ACCEPT = "accept"
    REJECT = "reject"
    CORRECT = "correct"  # the right clause is another one, recorded with the decision


class Reason(str, Enum):
    WRONG_CLAUSE = "wrong_clause"
    DOES_NOT_SUPPORT = "does_not_support"  # the clause is right but does not say what the sentence says
    OUTDATED_VERSION = "outdated_version"
    OTHER = "other"


class Outcome(str, Enum):
    APPROVED = "approved"
    APPROVED_WITH_CORRECTIONS = "approved_with_corrections"
    REJECTED = "rejected"


class State(str, Enum):
    """Where an answer stands in review; the three outcomes are final."""

    PENDING = "pending"
    SECOND_REVIEW = "second_review"  # one of two required reviews is in
    DISPUTED = "disputed"  # the required reviewers disagree: another reviewer settles it
    APPROVED = "approved"
    APPROVED_WITH_CORRECTIONS = "approved_with_corrections"
    REJECTED = "rejected"

    @property
    def open(self) -> bool:
        return self in (State.PENDING, State.SECOND_REVIEW, State.DISPUTED)


@dataclass(frozen=True)
class Correction:
    """The clause a reviewer found instead, as it read in its version when they chose it."""

    clause_id: str
    version_id: str
    doc_id: str
    reference: str
    text: str
    text_sha256: str

    @classmethod
    def of(cls, clause, document) -> "Correction":
        return cls(clause.clause_id, document.version_id, document.doc_id, clause.reference, clause.text,
                   sha256_text(clause.text))


@dataclass(frozen=True)
class CitationDecision:
    sentence: int  # 0-based index of the sentence in the answer
    marker: str  # "[2]"
    clause_id: str  # the cited clause
    action: Action
    reason: Reason | None = None  # required for REJECT
    correction: Correction | None = None  # required for CORRECT
    comment: str = ""


@dataclass(frozen=True)
class Decision:
    decision_id: str
    answer_id: str
    reviewer: str
    decided_at: str
    outcome: Outcome
    citations: tuple[CitationDecision, ...]
    comment: str
    seq: int


def citation_slots(answer: AnswerRecord) -> list[tuple[int, str, str]]:
    """(sentence, marker, clause_id) of every citation a decision must rule on, in reading order."""
    return [(i, c.marker, c.clause_id) for i, s in enumerate(answer.sentences) for c in s.citations]


def decide(book, reviewer: User, answer_id: str, outcome: Outcome, citations: list[CitationDecision],
           comment: str = "") -> Decision:
    """Record a decision on an answer. Every citation is ruled on once; the outcome must fit the rulings; a claim
    held by someone else refuses it; the reviewer's own claim is released."""
    from sqlalchemy import delete, insert, update

    from rag.records.tables import answers, claims, decisions

    require_reviewer(reviewer)
    answer = load_answer(book, answer_id)
    if answer.user == reviewer.name and not reviewer.local:
        raise ReviewError(f"{reviewer.name} asked this question: another reviewer must review it")
    _check_rulings(answer, citations, outcome)
    body = {"answer_id": answer_id, "outcome": outcome.value, "comment": comment.strip(),
            "citations": [_ruling_to_dict(c) for c in citations]}

    def index_row(conn, record: Record):
        # inside the write: no claim or decision slips in between the checks and this record
        _refuse_if_claimed_by_another(conn, answer_id, reviewer)
        earlier = [d for d in _decisions_in(conn, answer_id) if d.seq < record.seq]
        _refuse_if_nothing_to_decide(earlier, reviewer, book.reviews_required)
        conn.execute(insert(decisions).values(decision_id=record.record_id, answer_id=answer_id, seq=record.seq,
                                              reviewer=reviewer.name, decided_at=record.at, outcome=outcome.value))
        state = state_of(_decisions_in(conn, answer_id), book.reviews_required)
        conn.execute(update(answers).where(answers.c.answer_id == answer_id).values(state=state.value))
        conn.execute(delete(claims).where(claims.c.answer_id == answer_id, claims.c.reviewer == reviewer.name))

    record = append(book.db, book.checkpoints, Kind.DECISION, reviewer.name, body, subject=answer_id, also=index_row)
    return decision_from_record(record)


def _refuse_if_claimed_by_another(conn, answer_id: str, reviewer: User) -> None:
    from sqlalchemy import select

    from rag.records.tables import claims

    row = conn.execute(select(claims).where(claims.c.answer_id == answer_id, claims.c.until >= utc_now(),
                                            claims.c.reviewer != reviewer.name)).first()
    if row is not None:
        raise ReviewError(f"{row.reviewer} is reviewing this answer (claimed until {row.until}); "
                          "wait for them or for the claim to lapse")


def _refuse_if_nothing_to_decide(earlier: list[Decision], reviewer: User, required: int) -> None:
    """A complete review is not reopened by a late decision; nor is a second review given by the first reviewer."""
    state = state_of(earlier, required)
    if not state.open:
        last = earlier[-1]
        raise ReviewError(f"this answer's review is complete ({state.value} by {last.reviewer} at {last.decided_at}); "
                          "nothing more to decide")
    if state is State.SECOND_REVIEW and any(d.reviewer == reviewer.name for d in earlier):
        raise ReviewError("you gave this answer's first review; a second reviewer must give the other")


def _check_rulings(answer: AnswerRecord, citations: list[CitationDecision], outcome: Outcome) -> None:
    wanted = {(s, m): cid for s, m, cid in citation_slots(answer)}
    given: dict[tuple[int, str], CitationDecision] = {}
    for c in citations:
        key = (c.sentence, c.marker)
        if key not in wanted or wanted[key] != c.clause_id:
            raise ReviewError(f"sentence {c.sentence + 1} has no citation {c.marker} of clause {c.clause_id}")
        if key in given:
            raise ReviewError(f"citation {c.marker} of sentence {c.sentence + 1} is ruled on twice")
        if c.action is Action.REJECT and c.reason is None:
            raise ReviewError(f"rejecting {c.marker} of sentence {c.sentence + 1} needs a reason: "
                              + ", ".join(r.value for r in Reason))
        if c.action is Action.CORRECT and c.correction is None:
            raise ReviewError(f"correcting {c.marker} of sentence {c.sentence + 1} needs the right clause")
        given[key] = c
    missing = [f"{m} of sentence {s + 1}" for (s, m) in wanted if (s, m) not in given]
    if missing:
        raise ReviewError("every citation needs a ruling; not yet ruled on: " + ", ".join(missing))
    all_accepted = all(c.action is Action.ACCEPT for c in citations)
    if outcome is Outcome.APPROVED and not all_accepted:
        raise ReviewError("an answer with rejected or corrected citations is approved with corrections, or rejected")
    if outcome is Outcome.APPROVED_WITH_CORRECTIONS and all_accepted:
        raise ReviewError("every citation was accepted: the outcome is approved")


def state_of(decisions: list[Decision], required: int) -> State:
    """Each reviewer's latest decision counts once; `required` distinct reviewers must agree for a final state."""
    latest: dict[str, Decision] = {}
    for d in sorted(decisions, key=lambda d: d.seq):
        latest.pop(d.reviewer, None)
        latest[d.reviewer] = d  # re-inserted: the dict keeps reviewers in order of their latest decision
    if not latest:
        return State.PENDING
    if len(latest) < required:
        return State.SECOND_REVIEW
    deciding = list(latest.values())[-required:]
    outcomes = {d.outcome for d in deciding}
    return State(outcomes.pop().value) if len(outcomes) == 1 else State.DISPUTED


def decisions_of(book, answer_id: str) -> list[Decision]:
    with book.db.read() as conn:
        return _decisions_in(conn, answer_id)


def _decisions_in(conn, answer_id: str) -> list[Decision]:
    from sqlalchemy import select

    from rag.records.chain import record_from_row
    from rag.records.tables import records

    rows = conn.execute(select(records).where(records.c.subject == answer_id, records.c.kind == Kind.DECISION)
                        .order_by(records.c.seq)).all()
    return [decision_from_record(record_from_row(r)) for r in rows]


def _ruling_to_dict(c: CitationDecision) -> dict:
    fix = c.correction
    return {"sentence": c.sentence, "marker": c.marker, "clause_id": c.clause_id, "action": c.action.value,
            "reason": c.reason.value if c.reason else None, "comment": c.comment.strip(),
            "correction": None if fix is None else {
                "clause_id": fix.clause_id, "version_id": fix.version_id, "doc_id": fix.doc_id,
                "reference": fix.reference, "text": fix.text, "text_sha256": fix.text_sha256}}


def decision_from_record(record: Record) -> Decision:
    b = record.body
    rulings = tuple(CitationDecision(
        c["sentence"], c["marker"], c["clause_id"], Action(c["action"]), Reason(c["reason"]) if c["reason"] else None,
        Correction(**c["correction"]) if c["correction"] else None, c.get("comment", "")) for c in b["citations"])
    return Decision(record.record_id, b["answer_id"], record.user, record.at, Outcome(b["outcome"]), rulings,
                    b.get("comment", ""), record.seq)


@dataclass(frozen=True)
class Claim:
    answer_id: str
    reviewer: str
    until: str  # ISO-8601 UTC


def claim(book, reviewer: User, answer_id: str) -> Claim:
    """Take (or renew) the answer for `claim_minutes`; ReviewError naming the holder when another reviewer has it,
    or when its review is complete. The update and the insert are conditional, so two reviewers racing for one
    answer cannot both win; and the chain's head is locked meanwhile, so no decision lands between the check of the
    answer's state and the claim."""
    from sqlalchemy import insert, or_, select, update
    from sqlalchemy.exc import IntegrityError

    from rag.records.tables import chain_head, claims

    require_reviewer(reviewer)
    load_answer(book, answer_id)
    try:
        with book.db.write() as conn:
            conn.execute(select(chain_head.c.seq).where(chain_head.c.id == 1).with_for_update()).one()
            state = state_of(_decisions_in(conn, answer_id), book.reviews_required)
            if not state.open:
                raise ReviewError(f"this answer's review is complete ({state.value}); there is nothing to claim")
            now = utc_now()
            until = (datetime.now(timezone.utc) + timedelta(minutes=book.claim_minutes)).strftime(
                "%Y-%m-%dT%H:%M:%S.%fZ")
            taken = conn.execute(update(claims).where(
                claims.c.answer_id == answer_id, or_(claims.c.reviewer == reviewer.name, claims.c.until < now))
                .values(reviewer=reviewer.name, until=until)).rowcount
            if not taken:
                conn.execute(insert(claims).values(answer_id=answer_id, reviewer=reviewer.name, until=until))
    except IntegrityError:
        holder = claim_of(book, answer_id)
        raise ReviewError(f"{holder.reviewer if holder else 'another reviewer'} is reviewing this answer"
                          + (f" (claimed until {holder.until})" if holder else "")) from None
    return Claim(answer_id, reviewer.name, until)


def release(book, reviewer: User, answer_id: str) -> None:
    from sqlalchemy import delete

    from rag.records.tables import claims

    with book.db.write() as conn:
        conn.execute(delete(claims).where(claims.c.answer_id == answer_id, claims.c.reviewer == reviewer.name))


def claim_of(book, answer_id: str) -> Claim | None:
    """The live claim on an answer, if any (a lapsed one is nobody's)."""
    from sqlalchemy import select

    from rag.records.tables import claims

    with book.db.read() as conn:
        row = conn.execute(select(claims).where(claims.c.answer_id == answer_id, claims.c.until >= utc_now())).first()
    return Claim(row.answer_id, row.reviewer, row.until) if row else None
