"""The History page: the user's recorded answers, newest first; each opens as it was recorded, with its review."""
from __future__ import annotations

import streamlit as st

from rag.records.answers import AnswerRecord
from rag.records.queue import history_of
from rag.records.reviews import decisions_of, state_of
from rag.records.stale import first_stale, stale_citations
from ui import auth, render, resources
from ui.review_status import ReviewStatus, badge, decision_md, status_md, status_of, when

OPEN = "history_open"  # the answer_id opened on the History page


def review_status(settings, index, answer_id: str) -> ReviewStatus:
    """Where the answer stands now, read fresh from the record book, and whether the index has amended its clauses."""
    book = resources.book(settings)
    decisions = decisions_of(book, answer_id)
    stale = first_stale(index, resources.recorded_answer(settings, answer_id)) if index is not None else None
    return status_of(decisions, book.reviews_required, state_of(decisions, book.reviews_required), stale)


def asked_line(record: AnswerRecord) -> str:
    as_of = f" · as of {record.filters.as_of.isoformat()}" if record.filters.as_of else ""
    model = f" · {record.model}" if record.model and record.model != record.backend else ""
    return render.md_escape(f"Asked by {record.user} · {when(record.asked_at)}{as_of} · {record.backend}{model}")


def _recorded_card(record: AnswerRecord, card: render.Card, stale, key: str) -> None:
    cited = record.cited_clause(card.clause_id)
    with st.container(border=True, key=f"card-{key}-{card.number}"):
        st.subheader(f"[{card.number}] {render.md_escape(card.reference)}", anchor=card.anchor, divider=False)
        flags = [render.verdict_badge(card.verdict), f":gray-badge[:material/description: {card.pages}]",
                 f":gray-badge[:material/event: {card.effective}]"]
        if stale is not None:
            flags.append(badge("orange", "history", str(stale)[:1].upper() + str(stale)[1:]))
        st.markdown(" ".join(flags))
        st.caption(f"{render.md_escape(card.title)} · version `{card.version_id}` · the clause as it read when "
                   "the answer was given")
        if cited is not None:
            support = [record.sentences[n - 1].text for n in card.sentences]
            st.markdown("> " + render.supported_md(cited.text, support))


def show_recorded(settings, index, record: AnswerRecord, key: str) -> None:
    """The answer as recorded (its text, sentences, citations and each cited clause's recorded text), its review
    status and the history of decisions on it."""
    stale = stale_citations(index, record) if index is not None else {}
    with st.chat_message("user"):
        st.markdown(render.md_escape(record.question))
    with st.chat_message("assistant"):
        st.markdown(status_md(review_status(settings, index, record.answer_id)))
        st.caption(asked_line(record))
        cards = render.cards_of(record, prefix=f"{key}-cite")  # an AnswerRecord has the sentences a card reads
        if record.abstained:
            st.warning(render.md_escape(record.text), icon=":material/block:")
        else:
            st.markdown(render.answer_body_md(record, cards))
        for note in record.notes:
            st.caption(render.md_escape(note))
        for card in cards:
            _recorded_card(record, card, stale.get(card.clause_id), key)
    decisions = decisions_of(resources.book(settings), record.answer_id)
    st.markdown("#### Review history")
    if not decisions:
        st.caption("No reviewer has decided on this answer yet.")
    for decision in decisions:
        with st.container(border=True, key=f"decision-{decision.decision_id}"):
            st.markdown(decision_md(record, decision))


def _open(answer_id: str | None) -> None:
    st.session_state[OPEN] = answer_id


def page() -> None:
    settings = resources.settings()
    user = auth.current_user(settings)
    index = resources.reader_index(settings, user)
    st.markdown("## History")
    opened = st.session_state.get(OPEN)
    if opened:
        record = resources.recorded_answer(settings, opened)
        st.button("Back to history", icon=":material/arrow_back:", key="hist_back", on_click=_open, args=(None,))
        if record.user != user.name:  # only this user's buttons set it; checked all the same
            st.error("This answer was asked by someone else.")
            return
        show_recorded(settings, index, record, key=f"hist-{opened[:8]}")
        return
    st.caption("Your questions, newest first, as they were answered, and where each stands in review.")
    items = history_of(resources.book(settings), user.name)
    if not items:
        st.info("Nothing yet: the answers you get on the Ask page are kept here.", icon=":material/history:")
    for item in items:
        status = review_status(settings, index, item.answer_id)
        with st.container(border=True, key=f"hist-{item.answer_id}"):
            left, right = st.columns([6, 1], vertical_alignment="center")
            left.markdown(f"**{render.md_escape(item.question)}**")
            left.markdown(status_md(status) + " " + render.md_escape(f"{when(item.asked_at)} · {item.backend}"))
            right.button("Open", icon=":material/open_in_full:", key=f"hist-open-{item.answer_id}", on_click=_open,
                         args=(item.answer_id,))
