"""The Library page: indexed documents, a clause browser, and uploads re-ingested by a subprocess."""
from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from datetime import date
from pathlib import Path

import streamlit as st

from ui import auth, library_versions, render, resources, uploads

RESULTS = "library_ingest_results"
LINKED = "library_linked_clause"  # set once a link (?clause=ID) opened this session on the clause browser
TABS = (":material/table_rows: Documents", ":material/account_tree: Browse clauses", ":material/history: Versions",
        ":material/upload: Add documents")


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _overview(index, settings) -> None:
    clauses = Counter(c.version_id for c in index.clauses)
    cols = st.columns(4)
    cols[0].metric("Documents", len(index.documents))
    cols[1].metric("Clauses", f"{len(index.clauses):,}")
    cols[2].metric("Pages", f"{sum(d.pages for d in index.documents.values()):,}")
    cols[3].metric("Index generation", index.generation)
    caption = f":material/hub: embedded with {render.md_escape(index.model_name)} ({index.dim} dimensions)"
    if settings.embed_model != index.model_name:  # a query-side tuned model searches the base model's index
        caption += f"; questions embedded with {render.md_escape(settings.embed_model)}"
    st.caption(caption)
    st.dataframe(
        render.document_rows(index.documents, clauses), hide_index=True, width="stretch",
        column_config={
            "Title": st.column_config.TextColumn(width="large"),
            "Language": st.column_config.TextColumn("Lang."),
            "Pages": st.column_config.NumberColumn(format="%d"),
            "Clauses": st.column_config.NumberColumn(format="%d"),
        },
    )


def _browser(index, settings) -> None:
    if not index.documents:
        return
    # By title, and an instrument's versions newest first: the one in force today leads, not the oldest.
    newest = sorted(index.documents.values(), key=lambda d: d.effective_from or date.min, reverse=True)
    docs = sorted(newest, key=lambda d: (d.title.lower(), d.doc_id))
    doc = st.selectbox(
        "Document", docs, key="lib_doc",
        format_func=lambda d: f"{d.title}  ·  {d.doc_id}  ·  {d.effective_from or 'undated'}  ·  {d.version_id[:8]}",
    )
    clauses = [c for c in index.clauses if c.version_id == doc.version_id]
    sections = render.sections_of(clauses)
    if not sections:
        st.caption("This document has no clauses.")
        return
    left, right = st.columns([1, 1], gap="large")
    with left:
        section = st.selectbox("Section", list(sections), key=f"lib_sec_{doc.version_id}")
        clause = st.radio(
            "Clauses", sections[section], format_func=render.clause_label, key=f"lib_cl_{doc.version_id}_{section}",
            label_visibility="collapsed",
        )
    with right, st.container(border=True, key="lib-clause"):
        st.markdown(f"#### {render.md_escape(clause.reference)}")
        trail = " › ".join(clause.headings)
        st.caption(f"{render.md_escape(trail)}{' · ' if trail else ''}{clause.page_span}"
                   f"{f' · part {clause.part}' if clause.part else ''}")
        parent = render.parent_of(clauses, clause)
        if parent is not None:
            # A list item reads as a fragment without the sentence it completes ("… shall notify … within:").
            lead = " ".join(parent.text.split())
            if parent.path and not lead.startswith(parent.path[-1]):
                lead = f"{parent.path[-1]} {lead}"
            lead = lead if len(lead) <= 300 else lead[:300].rsplit(" ", 1)[0] + " …"
            st.markdown(f":gray[{render.md_escape(lead)}]")
        st.markdown(render.md_paragraphs(clause.text))
        with st.expander("In context", icon=":material/article:"):
            text = resources.document_text(str(settings.data_dir), index.generation, doc.version_id, index)
            st.markdown(render.context_md(text, clause.char_span))


def _ingest(saved: list[uploads.Saved], rejected: list[uploads.FileResult], settings, index,
            effective_from=None) -> None:
    before = {d.sha256 for d in index.documents.values()} if index is not None else set()
    bar = st.progress(0.0, text=f"Starting the ingest of {_count(len(saved), 'file')} (loading the embedding model)…")

    def on_progress(done: int, total: int) -> None:
        bar.progress(done / max(total, 1), text=f"Ingested {done} of {_count(total, 'file')}")

    outcome = uploads.run_ingest([s.path for s in saved], settings.data_dir, on_progress=on_progress,
                                 effective_from=effective_from)
    bar.empty()
    after_index = resources.index(settings)
    after = {d.sha256 for d in after_index.documents.values()} if after_index is not None else set()
    st.session_state[RESULTS] = (rejected + uploads.per_file_results(saved, outcome, before, after), outcome)
    # The tabs above were drawn from the old snapshot: run the page again so all of it shows the new generation
    # (the results above survive in session state).
    st.rerun()


def _results() -> None:
    if RESULTS not in st.session_state:
        return
    results, outcome = st.session_state[RESULTS]
    report = outcome.report
    if report is None:
        st.error(f"The ingest did not complete: {render.md_escape(outcome.error)}", icon=":material/error:")
    else:
        bad = sum(r.is_problem for r in results)
        text = (f"Ingest finished in {report.seconds:.1f} s: {report.added} added, {report.replaced} replaced, "
                f"{report.unchanged} unchanged, {len(report.skipped)} skipped; {_count(report.clauses, 'clause')}, "
                f"index generation {report.generation}.")
        (st.warning if bad else st.success)(text, icon=":material/warning:" if bad else ":material/check_circle:")
    st.dataframe([r.row() for r in results], hide_index=True, width="stretch",
                 column_config={"Detail": st.column_config.TextColumn(width="large")})
    # The reasons in full, as text: a grid cell cuts them off.
    for r in results:
        if r.is_problem:
            st.markdown(f":orange[:material/warning:] **{render.md_escape(r.file)}** {r.result}: "
                        f"{render.md_escape(r.detail)}")


def _add(settings, index) -> None:
    st.caption(f"PDF, HTML, Markdown or text; up to {settings.upload_max_files} files of up to "
               f"{settings.upload_max_mb} MB each. Files are saved under safe "
               f"names in {render.md_escape(str(settings.uploads_dir))} and never executed or rendered as HTML. An "
               "amendment with a new effective date is kept as a new version beside the old one; a file with the "
               "same instrument, date and format as a stored version replaces it as a correction.")
    files = st.file_uploader(
        "Upload documents", type=list(uploads.ALLOWED_SUFFIXES), accept_multiple_files=True, key="lib_upload",
    )
    effective_from = st.date_input(
        "Effective from", value=None, key="lib_effective_from", format="YYYY-MM-DD",
        help="The date these files take effect, when the documents do not state it (or state it wrongly). Leave "
             "empty to use the date each document states; a version with no date cannot be placed among the "
             "dated versions of its instrument.")
    left, right = st.columns(2)
    go = left.button("Ingest uploaded files", type="primary", icon=":material/upload_file:", disabled=not files,
                     width="stretch")
    sources = sorted({d.source_path for d in index.documents.values()}) if index is not None else []
    recheck = right.button("Re-check all indexed files", icon=":material/sync:", disabled=not sources,
                           help="Re-ingest every indexed document's file: changed files replace their old version",
                           width="stretch")
    if go and files:
        saved, rejected = uploads.save_uploads([(f.name, f.getvalue()) for f in files], settings.uploads_dir,
                                               settings.upload_max_mb, settings.upload_max_files)
        if saved:
            _ingest(saved, rejected, settings, index, effective_from)
        else:
            st.session_state[RESULTS] = (rejected, uploads.IngestOutcome(None, "nothing to ingest"))
    if recheck and sources:
        _ingest([uploads.saved_of(Path(p)) for p in sources if Path(p).is_file()], [], settings, index)
    _results()
    with st.expander("Ingest history", icon=":material/history:"):
        from rag.store import ingest_runs

        runs = ingest_runs(settings)
        st.dataframe(
            [{"Finished": r.finished, "Generation": r.generation,
              **{k.capitalize(): v for k, v in asdict(r.counts).items()}, "Skipped": len(r.skipped)} for r in runs],
            hide_index=True, width="stretch",
        )


def _open_linked_clause(index) -> None:
    """A link from the Versions tab (?clause=ID) selects that clause in the clause browser, once."""
    clause_id = st.query_params.get("clause")
    if not clause_id:
        return
    del st.query_params["clause"]  # consumed: the selection is the user's again from here on
    try:
        clause = index.clause(clause_id)
    except KeyError:
        st.toast("That clause is no longer in the index (its document was re-ingested).", icon=":material/info:")
        return
    section = clause.path[0] if clause.path else "(document)"  # as render.sections_of groups them
    st.session_state["lib_doc"] = index.documents[clause.version_id]
    st.session_state[f"lib_sec_{clause.version_id}"] = section
    st.session_state[f"lib_cl_{clause.version_id}_{section}"] = clause
    st.session_state[LINKED] = True


def page() -> None:
    settings = resources.settings()
    user = auth.current_user(settings)
    reach = resources.access(settings, user)
    index = resources.reader_index(settings, user)  # only the collections this user may read
    st.markdown("## Library")
    st.caption(f":material/folder: {render.md_escape(str(settings.index_dir))}")
    if index is not None:
        _open_linked_clause(index)
    # The default stays put for the session: a tab bar whose default changed would jump back to it.
    default = TABS[1] if st.session_state.get(LINKED) else None
    tab_docs, tab_browse, tab_versions, tab_add = st.tabs(TABS, default=default)
    with tab_docs:
        if index is None:
            st.info("Nothing is indexed yet: add documents in the *Add documents* tab.", icon=":material/info:")
        else:
            _overview(index, settings)
    with tab_browse:
        if index is not None:
            _browser(index, settings)
    with tab_versions:
        if index is not None:
            library_versions.tab(index, settings)
    with tab_add:
        if reach.everything:
            _add(settings, index)
        else:  # uploads land in a collection and the ingest history names every file: an admin's work
            st.info("Adding documents is for admins: they choose the collection a document goes in and who may "
                    "read it.", icon=":material/lock:")
