"""The review queue and an asker's history: answers with their review state and claims, filtered and ordered."""
from __future__ import annotations

from dataclasses import dataclass

from rag.records.db import utc_now
from rag.records.reviews import State


@dataclass(frozen=True)
class QueueItem:
    answer_id: str
    seq: int
    asked_at: str
    user: str
    question: str
    backend: str
    model: str
    doc_ids: tuple[str, ...]
    abstained: bool
    state: State
    claimed_by: str = ""  # a live claim's reviewer
    claimed_until: str = ""


@dataclass(frozen=True)
class QueueFilter:
    doc_id: str = ""
    asker: str = ""
    since: str = ""  # ISO date or time, inclusive
    until: str = ""  # ISO date (the whole day) or time, inclusive
    backend: str = ""
    states: tuple[State, ...] = (State.PENDING, State.SECOND_REVIEW, State.DISPUTED)  # () for every state
    limit: int = 500


def list_answers(book, where: QueueFilter = QueueFilter()) -> list[QueueItem]:
    """Answers matching the filter, oldest first, each with the live claim on it."""
    from sqlalchemy import and_, select

    from rag.records.tables import answers, claims

    live = and_(claims.c.answer_id == answers.c.answer_id, claims.c.until >= utc_now())
    query = select(answers, claims.c.reviewer, claims.c.until).outerjoin(claims, live)
    if where.states:
        query = query.where(answers.c.state.in_([s.value for s in where.states]))
    if where.doc_id:
        query = query.where(answers.c.doc_ids.contains(f"|{where.doc_id}|", autoescape=True))
    if where.asker:
        query = query.where(answers.c.user_name == where.asker)
    if where.backend:
        query = query.where(answers.c.backend == where.backend)
    if where.since:
        query = query.where(answers.c.asked_at >= where.since)
    if where.until:
        end = where.until + "T99" if len(where.until) == 10 else where.until  # a bare date takes in its whole day
        query = query.where(answers.c.asked_at <= end)
    query = query.order_by(answers.c.asked_at, answers.c.seq).limit(where.limit)
    with book.db.read() as conn:
        rows = conn.execute(query).all()
    return [QueueItem(r.answer_id, r.seq, r.asked_at, r.user_name, r.question, r.backend, r.model,
                      tuple(d for d in r.doc_ids.split("|") if d), bool(r.abstained), State(r.state),
                      r.reviewer or "", r.until or "") for r in rows]


def readable_by(record, documents) -> bool:
    """Whether a reader whose view of the index holds `documents` (by version_id; rag.access) may see a recorded
    answer: every version it retrieved from or cited is one they may read. A version since removed from the index
    counts as unreadable, so the rule fails closed; an admin's view holds every version and passes None."""
    if documents is None:
        return True
    versions = {r.version_id for r in record.retrieved} | {c.version_id for c in record.cited}
    return all(v in documents for v in versions)


def reader_documents(book, user, index):
    """The versions `user` may read, by version_id (their view of `index`, rag.access); None for a reader of every
    collection. What readable_by takes."""
    from rag.access import access_for

    reach = access_for(book, user)
    if reach.everything:
        return None
    return reach.view(index).documents if index is not None else {}


def check_readable(book, user, record, index) -> None:
    """Refuse a recorded answer drawn from a collection `user` may not read, as if there were none."""
    from rag.errors import ReviewError

    if not readable_by(record, reader_documents(book, user, index)):
        raise ReviewError(f"no recorded answer {record.answer_id!r}; `regcite review list` shows them")


def history_of(book, user: str, limit: int = 200) -> list[QueueItem]:
    """A user's own answers in every state, newest first."""
    items = list_answers(book, QueueFilter(asker=user, states=(), limit=100_000))
    return items[::-1][:limit]
