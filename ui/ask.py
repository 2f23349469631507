"""The Ask page: a chat whose answers cite clauses, each citation a card that opens its source."""
from __future__ import annotations

from datetime import date

import streamlit as st

from rag.errors import RegciteError
from rag.types import Answer, Filters, Kind
from ui import auth, history, render, resources
from ui.review_status import status_md

TURNS = "ask_turns"  # the Answers shown, in order
RECORDED = "ask_recorded"  # the answer_id each was recorded under, turn by turn


# Far enough back for any indexed instrument and ahead for any announced one (Streamlit's default is ±10 years).
EARLIEST, LATEST = date(1900, 1, 1), date(2199, 12, 31)


def _filters(index) -> Filters:
    st.sidebar.markdown("**Filters**")
    as_of = st.sidebar.date_input(
        "As of", value=date.today(), min_value=EARLIEST, max_value=LATEST, format="YYYY-MM-DD", key="f_as_of",
        help="Answer from the version of each regulation in force on this day",
    )
    if index is None:
        return Filters(as_of=as_of)
    titles: dict[str, str] = {}
    for d in index.documents.values():
        titles.setdefault(d.doc_id, d.title)
    doc_ids = st.sidebar.multiselect(
        "Documents", sorted(titles, key=lambda k: titles[k].lower()), format_func=lambda k: titles[k],
        placeholder="All documents", key="f_docs",
    )
    jurisdictions = st.sidebar.multiselect(
        "Jurisdiction", sorted({d.jurisdiction for d in index.documents.values() if d.jurisdiction}),
        placeholder="All jurisdictions", key="f_jur",
    )
    kinds = st.sidebar.multiselect(
        "Kind", sorted({d.kind.value for d in index.documents.values()}), placeholder="All kinds", key="f_kind",
    )
    return Filters(doc_ids=tuple(doc_ids), jurisdictions=tuple(jurisdictions), kinds=tuple(Kind(k) for k in kinds),
                   as_of=as_of)


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _sidebar_status(settings, index) -> None:
    info = resources.backend_info(settings)
    st.sidebar.divider()
    st.sidebar.markdown("**Answering with**")
    model = f" · `{render.md_escape(info.model)}`" if info.model else ""
    st.sidebar.markdown(f":material/memory: {info.backend}{model}")
    if index is not None:
        clauses = len(index.clauses)
        st.sidebar.caption(
            f"{_count(len(index.documents), 'document')} · {_count(clauses, 'clause')} · index generation {index.generation}"
        )
    error = resources.index_error(settings)
    if error:
        st.sidebar.warning(f"A newer index could not be opened; serving the previous one. {render.md_escape(error)}")
    if st.sidebar.button("New conversation", icon=":material/add_comment:", width="stretch"):
        st.session_state[TURNS] = []
        st.session_state[RECORDED] = []


def _page_image(card: render.Card, clause, document, turn: int) -> None:
    pages = list(range(clause.page_span.first, clause.page_span.last + 1))
    page = pages[0]
    left, right = st.columns([3, 1], vertical_alignment="center")
    if len(pages) > 1:
        page = left.radio("Page", pages, horizontal=True, key=f"pg-{turn}-{card.number}")
    whole = right.toggle("Whole page", key=f"whole-{turn}-{card.number}")
    shown = resources.page_png(document.source_path, document.sha256, page, clause.text, crop=not whole)
    if shown is None:
        st.caption(f"The PDF at {render.md_escape(document.source_path)} is missing or has changed since it was "
                   "indexed, so its page cannot be shown.")
        return
    png, found = shown
    note = "the cited passage is marked" if found else "the passage could not be located on this page"
    extent = "" if whole or not found else " (detail)"
    st.image(png, caption=f"{document.title}, page {page} of {document.pages}{extent}: {note}", width="stretch",
             output_format="PNG")  # JPEG blurs the small print


def _source(card: render.Card, index, settings, turn: int) -> None:
    """The clause in its document, and for PDFs its page with the passage marked."""
    try:
        clause = index.clause(card.clause_id)
        document = index.document_of(clause)
    except KeyError:
        st.caption("This clause is no longer in the index (its document was re-ingested).")
        return
    is_pdf = document.source_path.lower().endswith(".pdf")
    tabs = st.tabs(["In context", "Page"] if is_pdf else ["In context"])
    with tabs[0]:
        trail = " › ".join(clause.headings)
        if trail:
            st.caption(render.md_escape(trail))
        text = resources.document_text(str(settings.data_dir), index.generation, clause.version_id, index)
        st.markdown(render.context_md(text, clause.char_span, card.quote))
    if is_pdf:
        with tabs[1]:
            _page_image(card, clause, document, turn)


def _card(card: render.Card, index, settings, turn: int) -> None:
    # The key gives the card a stable CSS class (st-key-card-T-N): app.css styles it and the browser test finds it.
    with st.container(border=True, key=f"card-{turn}-{card.number}"):
        st.subheader(f"[{card.number}] {render.md_escape(card.reference)}", anchor=card.anchor, divider=False)
        st.markdown(f"{render.verdict_badge(card.verdict)} :gray-badge[:material/description: {card.pages}] "
                    f":gray-badge[:material/event: {card.effective}] :gray-badge[support {card.score:.2f}]")
        cited_by = ", ".join(str(n) for n in card.sentences)
        source = f" · :material/draft: {render.md_escape(card.source_file)}" if card.source_file else ""
        st.caption(f"{render.md_escape(card.title)} · version `{card.version_id}`{source} · "
                   f"cited by sentence{'s' if len(card.sentences) > 1 else ''} {cited_by}")
        if card.quote.strip():
            st.markdown("> " + card.quote_md)
        if index is not None:
            with st.expander("Open source", icon=":material/open_in_new:"):
                _source(card, index, settings, turn)


def show_answer(answer: Answer, turn: int, index, settings, status: str = "") -> None:
    """One answer with its citation cards; status: its review status badges, read from the record book."""
    heading = " ".join(part for part in (render.as_of_md(answer), status) if part)
    if heading:
        st.markdown(heading)
    banner = render.banner_of(answer)
    if banner:
        level, message = banner
        icon = ":material/event_busy:" if answer.abstained and answer.notes else (
            ":material/block:" if answer.abstained else ":material/swap_horiz:")
        (st.warning if level == "warning" else st.info)(message, icon=icon)
    notes = render.notes_md(answer)
    if notes:
        st.info(notes, icon=":material/event_note:")
    cards = render.cards_of(answer, prefix=f"cite-{turn + 1}")
    if not answer.abstained:
        st.markdown(render.answer_body_md(answer, cards))
    st.caption(render.meta_line(answer))
    if answer.reasoning.strip():
        with st.expander("Model reasoning (not part of the answer)", icon=":material/psychology:"):
            st.markdown(render.md_paragraphs(answer.reasoning))
    if cards:
        st.markdown(f"**Sources** · {_count(len(cards), 'clause')}")
        for card in cards:
            _card(card, index, settings, turn)
    memo = render.answer_to_markdown(answer)
    with st.container(horizontal=True, gap="small"):
        st.download_button(
            "Download as Markdown", memo, file_name=f"regcite-answer-{turn + 1}.md", mime="text/markdown",
            icon=":material/download:", key=f"dl-{turn}",
        )
        with st.popover("Copy as Markdown", icon=":material/content_copy:"):
            st.caption("The copy button at the top right of the box copies the whole memo.")
            st.code(memo, language="markdown", wrap_lines=True)


def page() -> None:
    settings = resources.settings()
    user = auth.current_user(settings)
    index = resources.reader_index(settings, user)  # what this user may see: filters, counts and sources list it
    filters = _filters(index)
    _sidebar_status(settings, index)
    turns: list[Answer] = st.session_state.setdefault(TURNS, [])
    recorded: list[str] = st.session_state.setdefault(RECORDED, [])

    st.markdown("## Ask")
    st.caption("Answers come only from the indexed documents. Every sentence cites a clause; each citation is checked.")
    if index is None:
        st.info("No documents are indexed yet. Add regulations on the Library page, or run `regcite ingest PATH`.",
                icon=":material/info:")

    for turn, (answer, answer_id) in enumerate(zip(turns, recorded)):
        with st.chat_message("user"):
            st.markdown(render.md_escape(answer.question))
        with st.chat_message("assistant"):
            show_answer(answer, turn, index, settings, status_md(history.review_status(settings, index, answer_id)))

    question = st.chat_input("Ask about the indexed regulations…", disabled=index is None)
    if index is not None:
        resources.warm_up(settings, resources.index(settings))  # cached: only the first run per snapshot works
    if not question:
        return
    with st.chat_message("user"):
        st.markdown(render.md_escape(question))
    with st.chat_message("assistant"):
        stream = st.empty()
        tokens: list[str] = []

        def on_token(token: str) -> None:
            tokens.append(token)
            stream.markdown(render.streaming_md("".join(tokens)) + " ▌")

        try:
            with st.spinner("Searching the clauses and composing the answer…"):
                answer, record = resources.ask_and_record(settings, user, question, filters, on_token=on_token)
        except RegciteError as e:  # unanswered or unrecorded: either way nothing is shown
            stream.empty()
            st.error(str(e), icon=":material/error:")
            return
        stream.empty()
        show_answer(answer, len(turns), index, settings,
                    status_md(history.review_status(settings, index, record.answer_id)))
    turns.append(answer)
    recorded.append(record.answer_id)
