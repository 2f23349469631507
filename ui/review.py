"""The Review page: the queue of answers waiting for review, one answer under review, and what reviews add up to.
Reviewers and admins only; an asker who opens its URL is refused and shown nothing of the records."""
from __future__ import annotations

import streamlit as st

from rag.records.reviews import release
from ui import auth, history, render, resources, review_form, review_queue, review_summary

REFUSAL = "Reviewing needs the reviewer or admin role"
OPEN = "review_open"  # the answer_id under review (claimed when it could be)
DONE = "review_done"  # the answer_id just decided, shown with its history until the reviewer goes back


def _open(answer_id: str) -> None:
    st.session_state[OPEN] = answer_id
    st.session_state.pop(DONE, None)


def _back(settings, user) -> None:
    """To the queue; an answer left undecided is released for the next reviewer."""
    answer_id = st.session_state.pop(OPEN, None)
    st.session_state.pop(DONE, None)
    if answer_id:
        release(resources.book(settings), user, answer_id)


def _decided(answer_id: str) -> None:
    st.session_state.pop(OPEN, None)
    st.session_state[DONE] = answer_id


def page() -> None:
    settings = resources.settings()
    user = auth.current_user(settings)
    st.markdown("## Review")
    if not user.role.reviews:
        st.error(f"{REFUSAL}. You are logged in as {render.md_escape(user.name)} ({user.role.value}); "
                 "an admin can change your role.", icon=":material/lock:")
        return
    index = resources.reader_index(settings, user)
    back = dict(key="review_back", icon=":material/arrow_back:", on_click=_back, args=(settings, user))
    opened, done = st.session_state.get(OPEN), st.session_state.get(DONE)
    if opened:
        st.button("Back to the queue", help="Leaves the answer undecided and releases it", **back)
        review_form.show(settings, index, user, resources.recorded_answer(settings, opened), on_decided=_decided)
        return
    if done:
        st.button("Back to the queue", **back)
        st.success("Your decision is recorded. The answer as it now stands, with its review history:",
                   icon=":material/task_alt:")
        history.show_recorded(settings, index, resources.recorded_answer(settings, done), key=f"done-{done[:8]}")
        return
    queue, summary = st.tabs([":material/inbox: Queue", ":material/monitoring: Summary"])
    with queue:
        review_queue.show(settings, index, on_open=_open, user=user)
    with summary:
        if resources.access(settings, user).everything:
            review_summary.show(settings)
        else:  # its rates are over every collection's answers: counts a reader of fewer may not see
            st.info("The summary covers the answers of every collection; an admin sees it.", icon=":material/lock:")
