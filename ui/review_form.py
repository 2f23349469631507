"""One answer under review: every sentence and citation with the cited clause as it read, a ruling per citation
(accept, reject with a reason, or correct to a clause found by search), an outcome, and Submit -> decide()."""
from __future__ import annotations

from datetime import date

import streamlit as st

from rag.errors import RegciteError, ReviewError
from rag.records.answers import AnswerRecord
from rag.records.reviews import (Action, CitationDecision, Correction, Outcome, Reason, State, claim, claim_of,
                                 decide, decisions_of, state_of)
from rag.records.stale import stale_citations
from rag.types import Citation, Filters, Sentence, Verdict
from ui import render, resources
from ui.history import asked_line, review_status
from ui.review_status import ACTION_LABEL, OUTCOME_LABEL, REASON_LABEL, badge, clock, decision_md, status_md


def read_only_reason(book, user, record: AnswerRecord, decisions) -> str:
    """Why this reviewer may not decide on the answer now ("" when they may); claims are checked apart."""
    state = state_of(decisions, book.reviews_required)
    if record.user == user.name and not user.local:
        return "You asked this question: another reviewer must review it."
    if not state.open:
        return "The review of this answer is complete."
    if state is State.SECOND_REVIEW and any(d.reviewer == user.name for d in decisions):
        return "You have reviewed this answer; it waits for a second reviewer."
    return ""


def _claim(book, user, record: AnswerRecord) -> str:
    """Claim (or renew the claim on) the answer; the read-only reason when another reviewer holds it."""
    try:
        held = claim(book, user, record.answer_id)
    except ReviewError as e:
        holder = claim_of(book, record.answer_id)
        if holder is None:
            return str(e)
        return (f"{holder.reviewer} is reviewing this answer until {clock(holder.until)}: it stays read-only for "
                "you until they decide or release it, or the claim lapses.")
    st.markdown(badge("violet", "lock_clock", f"claimed by you until {clock(held.until)}"))
    return ""


def _hit_label(hit, dated: bool) -> str:
    """A search result as the select box lists it (plain text): reference, document, version date, opening words."""
    d = hit.document
    since = f" (version of {d.effective_from.isoformat()})" if dated and d.effective_from else ""
    return f"{hit.clause.reference} · {d.title}{since} · {' '.join(hit.clause.text.split())[:90]}"


def _correction(settings, index, user, record: AnswerRecord, sentence: Sentence, key: str) -> Correction | None:
    """A search box over the index and the clause chosen from its results, as it reads in its version (the words
    it shares with the sentence highlighted)."""
    if index is None:
        st.caption("No index is open, so there is no clause to choose.")
        return None
    query = st.text_input("Search for the right clause", key=f"{key}-find",
                          placeholder="words of the clause, or its reference (e.g. 900.2(b))")
    every_version = st.toggle("Search every version", key=f"{key}-everyv",
                              help="By default only the versions in force on the day the answer was asked for")
    if not query.strip():
        return None
    hits = resources.search(settings, user, query, Filters() if every_version else Filters(as_of=record.filters.as_of))
    if not hits:
        st.caption("No clause matches; try other words.")
        return None
    labels = {h.clause.clause_id: _hit_label(h, dated=every_version) for h in hits}
    chosen = st.selectbox("Right clause", list(labels), index=None, format_func=labels.__getitem__,
                          placeholder=f"{len(hits)} clauses found: choose one", key=f"{key}-pick")
    if chosen is None:
        return None
    try:
        clause = index.clause(chosen)
    except KeyError:  # a commit since the search replaced the snapshot
        st.warning("That clause is no longer in the index; search again.")
        return None
    document = index.document_of(clause)
    effective = render.effective_label(document.effective_from, document.effective_to,
                                       record.filters.as_of or date.today())
    st.markdown(f"**{render.md_escape(clause.reference)}** · {render.md_escape(document.title)} · {effective}")
    st.markdown("> " + render.supported_md(clause.text, [sentence.text]))
    return Correction.of(clause, document)


def _ruling(settings, index, user, record: AnswerRecord, n: int, sentence: Sentence, citation: Citation,
            key: str) -> CitationDecision | None:
    action = st.radio("Ruling", list(Action), index=None, horizontal=True, format_func=ACTION_LABEL.get,
                      key=f"{key}-act")
    reason, correction = None, None
    if action is Action.REJECT:
        reason = st.selectbox("Reason", list(Reason), index=None, format_func=REASON_LABEL.get,
                              placeholder="Why is the citation wrong?", key=f"{key}-why")
    elif action is Action.CORRECT:
        correction = _correction(settings, index, user, record, sentence, key)
    comment = st.text_input("Comment on this citation", key=f"{key}-note", placeholder="optional")
    if action is None:
        return None
    return CitationDecision(n, citation.marker, citation.clause_id, action, reason, correction, comment)


def _citation(settings, index, user, record: AnswerRecord, n: int, sentence: Sentence, citation: Citation, stale,
              key: str, editable: bool) -> CitationDecision | None:
    cited = record.cited_clause(citation.clause_id)
    with st.container(border=True, key=key):
        st.markdown(f"**{render.md_escape(citation.marker)} {render.md_escape(citation.reference)}** · "
                    f"{render.md_escape(citation.document_title)}")
        effective = render.effective_label(citation.effective_from, citation.effective_to,
                                           record.filters.as_of or date.today())
        flags = [render.verdict_badge(citation.verdict), f":gray-badge[support {citation.score:.2f}]",
                 f":gray-badge[:material/description: {citation.page_span}]",
                 f":gray-badge[:material/event: {effective}]",
                 badge("orange", "history", str(stale)[:1].upper() + str(stale)[1:]) if stale
                 else ":gray-badge[:material/check: unchanged since]"]
        st.markdown(" ".join(flags))
        if cited is not None:
            st.caption(f"As it read in version `{cited.version_id}` when the answer was given; the words the "
                       "sentence shares are highlighted")
            st.markdown("> " + render.supported_md(cited.text, [sentence.text]))
        if editable:
            return _ruling(settings, index, user, record, n, sentence, citation, key)
    return None


def show(settings, index, user, record: AnswerRecord, on_decided) -> None:
    """The answer under review; editable when this reviewer may decide and holds the claim, else read-only."""
    book = resources.book(settings)
    decisions = decisions_of(book, record.answer_id)
    st.markdown(f"### {render.md_escape(record.question)}")
    st.caption(asked_line(record))
    st.markdown(status_md(review_status(settings, index, record.answer_id)))
    why_not = read_only_reason(book, user, record, decisions) or _claim(book, user, record)
    if why_not:
        st.warning(render.md_escape(why_not), icon=":material/visibility:")
    editable = not why_not
    stale = stale_citations(index, record) if index is not None else {}
    prefix = f"rv-{record.answer_id[:8]}"
    rulings: list[CitationDecision | None] = []
    if record.abstained:
        st.warning(render.md_escape(record.text), icon=":material/block:")
    for n, sentence in enumerate(record.sentences):
        with st.container(border=True, key=f"{prefix}-s{n}"):
            flag = "" if sentence.verdict is Verdict.SUPPORTED else " " + render.verdict_badge(sentence.verdict)
            st.markdown(f"**Sentence {n + 1}**{flag}")
            st.markdown(render.md_escape(sentence.text))
            for problem in sentence.problems:
                st.caption(render.md_escape(problem))
            for citation in sentence.citations:
                rulings.append(_citation(settings, index, user, record, n, sentence, citation,
                                         stale.get(citation.clause_id), f"{prefix}-c{len(rulings)}", editable))
    if decisions:
        st.markdown("#### Decisions so far")
        for decision in decisions:
            st.markdown(decision_md(record, decision))
    if not editable:
        return
    st.markdown("#### Your decision")
    outcome = st.radio("Outcome", list(Outcome), index=None, horizontal=True, format_func=OUTCOME_LABEL.get,
                       key=f"{prefix}-outcome")
    comment = st.text_area("Comment on the answer", key=f"{prefix}-comment", placeholder="optional")
    if not st.button("Submit decision", type="primary", icon=":material/send:", key=f"{prefix}-submit"):
        return
    if outcome is None:
        st.error("Choose an outcome: approved, approved with corrections, or rejected.")
        return
    try:
        decide(book, user, record.answer_id, outcome, [r for r in rulings if r is not None], comment)
    except RegciteError as e:  # the rulings do not fit, or another reviewer took the claim meanwhile
        st.error(render.md_escape(str(e)), icon=":material/error:")
        return
    on_decided(record.answer_id)
    st.rerun()
