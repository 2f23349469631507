"""The review queue: answers waiting for review, oldest first, filtered by document, asker, date, backend and state;
each row with its claim and stale flag."""
from __future__ import annotations

from datetime import date

import streamlit as st

from rag.config import BACKENDS
from rag.records.queue import QueueFilter, QueueItem, list_answers, readable_by
from rag.records.reviews import State
from rag.records.stale import first_stale
from rag.records.users import LOCAL_USER, list_users
from ui import render, resources
from ui.review_status import STATE_LABEL, ReviewStatus, claim_md, status_md, when

OPEN_STATES = (State.PENDING, State.SECOND_REVIEW, State.DISPUTED)
FIRST_DAY = date(2000, 1, 1)  # before any record (Streamlit's default would stop ten years back)


def _filter(settings, index) -> QueueFilter:
    titles: dict[str, str] = {}
    for d in (index.documents.values() if index is not None else ()):
        titles.setdefault(d.doc_id, d.title)
    users = list_users(resources.book(settings))
    askers = sorted({u.name for u in users} or {LOCAL_USER.name})
    top = st.columns([3, 2, 2])
    doc_id = top[0].selectbox("Document", sorted(titles, key=lambda k: titles[k].lower()), index=None,
                              format_func=lambda k: f"{titles[k]} ({k})", placeholder="All documents", key="q_doc")
    asker = top[1].selectbox("Asked by", askers, index=None, placeholder="Anyone", key="q_asker")
    days = top[2].date_input("Asked between", value=(), min_value=FIRST_DAY, format="YYYY-MM-DD", key="q_days",
                             help="Days in UTC, as records keep time; both included, and one day alone is that day")
    bottom = st.columns([2, 5])
    backend = bottom[0].selectbox("Backend", BACKENDS, index=None, placeholder="Any backend", key="q_backend")
    states = bottom[1].multiselect("State", list(State), default=list(OPEN_STATES), key="q_states",
                                   format_func=STATE_LABEL.get, placeholder="Every state")
    since = days[0].isoformat() if len(days) >= 1 and isinstance(days[0], date) else ""
    until = days[1].isoformat() if len(days) == 2 else since
    return QueueFilter(doc_id=doc_id or "", asker=asker or "", since=since, until=until, backend=backend or "",
                       states=tuple(states))


def _row(settings, index, item: QueueItem, on_open) -> None:
    record = resources.recorded_answer(settings, item.answer_id)
    status = ReviewStatus(item.state, stale=first_stale(index, record) if index is not None else None)
    flags = [status_md(status)]
    if item.claimed_by:
        flags.append(claim_md(item.claimed_by, item.claimed_until))
    with st.container(border=True, key=f"queue-row-{item.answer_id}"):
        left, right = st.columns([7, 1], vertical_alignment="center")
        left.markdown(f"**{render.md_escape(item.question)}**")
        left.markdown(" ".join(flags))
        docs = ", ".join(item.doc_ids) or "no document"
        left.caption(render.md_escape(f"asked by {item.user} · {when(item.asked_at)} · {item.backend}"
                                      f"{' · ' + item.model if item.model and item.model != item.backend else ''}"
                                      f" · {docs}{' · abstained' if item.abstained else ''}"))
        right.button("Review", icon=":material/rate_review:", key=f"queue-open-{item.answer_id}", on_click=on_open,
                     args=(item.answer_id,), type="primary" if not item.claimed_by else "secondary")


def show(settings, index, on_open, user) -> None:
    """The filters, then one row per matching answer, oldest first; on_open(answer_id) opens one for review."""
    where = _filter(settings, index)
    # A reviewer sees only answers drawn wholly from collections they may read (index is their view of it).
    reach = resources.access(settings, user)
    shown = None if reach.everything else (index.documents if index is not None else {})
    items = [i for i in list_answers(resources.book(settings), where)
             if readable_by(resources.recorded_answer(settings, i.answer_id), shown)]
    waiting = "waiting for review" if set(where.states) <= set(OPEN_STATES) and where.states else "matching"
    st.caption(f"{len(items):,} answer{'' if len(items) == 1 else 's'} {waiting}, oldest first. Opening one claims "
               f"it for {resources.book(settings).claim_minutes} minutes, so no other reviewer works on it meanwhile.")
    if not items:
        st.info("No answers match these filters.", icon=":material/inbox:")
    for item in items:
        _row(settings, index, item, on_open)
