"""The Library's Versions tab: an instrument's chain of versions and what changed between two of them."""
from __future__ import annotations

from collections import Counter

import streamlit as st

from rag.versions import chain
from ui import resources, versions_view

PAGE = 25  # changes drawn per page: a rewrite has hundreds, and each is a redline


def _instrument(index) -> str:
    titles: dict[str, str] = {}
    for d in index.documents.values():
        titles.setdefault(d.doc_id, d.title)
    n = Counter(d.doc_id for d in index.documents.values())
    ids = sorted(titles, key=lambda k: (titles[k].lower(), k))
    default = next((i for i, k in enumerate(ids) if n[k] > 1), 0)  # one with versions to compare, if any
    return st.selectbox("Instrument", ids, index=default, key="ver_doc",
                        format_func=lambda k: f"{titles[k]}  ·  {k}  ·  {n[k]} version{'' if n[k] == 1 else 's'}")


def tab(index, settings) -> None:
    if not index.documents:
        return
    doc_id = _instrument(index)
    versions = chain(index.documents, doc_id)
    st.dataframe(
        versions_view.chain_rows(versions, Counter(c.version_id for c in index.clauses)), hide_index=True,
        width="stretch",
    )
    dated = versions_view.comparable(versions)
    if len(dated) < 2:
        st.caption("Changes are shown between two dated versions of an instrument; this one has "
                   f"{len(dated) or 'no'} dated version{'' if len(dated) == 1 else 's'}. Give a version its date with "
                   "`regcite ingest --effective-from` or a manifest.")
        return
    st.markdown("#### Changes")
    left, right = st.columns(2)
    older = left.selectbox("From", dated, index=len(dated) - 2, format_func=versions_view.version_label,
                           key=f"ver_from_{doc_id}")
    newer = right.selectbox("To", dated, index=len(dated) - 1, format_func=versions_view.version_label,
                            key=f"ver_to_{doc_id}")
    i, j = dated.index(older), dated.index(newer)
    if i == j:
        st.info("Pick two different versions to compare.", icon=":material/info:")
        return
    if i > j:
        i, j = j, i
        st.caption("Shown from the older version to the newer.")
    run = tuple(v.version_id for v in dated[i:j + 1])
    diff = resources.version_diff(str(settings.data_dir), index.generation, run, index)
    _show(diff)


def _show(diff: versions_view.Diff) -> None:
    counts = versions_view.counts(diff.changes)
    for col, (label, n) in zip(st.columns(len(counts)), counts.items()):
        col.metric(label, n)
    composed = (f" Composed from the {diff.steps} stored alignments of the consecutive versions between them: each "
                "clause is followed through every version." if diff.steps > 1 else "")
    st.caption(f"{diff.unchanged:,} reference{'' if diff.unchanged == 1 else 's'} unchanged. Editorial changes "
               f"(whitespace, punctuation, typography only) are folded away unless shown.{composed}")
    editorial = st.toggle(f"Show editorial changes ({counts['Editorial']})", key=f"ver_ed_{diff.older}_{diff.newer}",
                          disabled=not counts["Editorial"])
    shown = [c for c in diff.changes if editorial or not c.editorial]
    if not shown:
        st.success("No substantive changes between these versions.", icon=":material/check_circle:")
        return
    pages = -(-len(shown) // PAGE)
    page = 1
    if pages > 1:
        page = st.number_input(f"Page (of {pages}, {PAGE} changes each)", 1, pages, 1,
                               key=f"ver_pg_{diff.older}_{diff.newer}_{editorial}", width=220)
    for n, change in enumerate(shown[(page - 1) * PAGE:page * PAGE]):
        # The key gives each change a CSS class (st-key-change-N) that the browser test finds.
        with st.container(border=True, key=f"change-{n}"):
            st.markdown(versions_view.header_md(change))
            st.markdown(change.body_md)
    st.caption(f"{len(shown):,} change{'' if len(shown) == 1 else 's'} shown. Each reference links to its clause "
               "in the clause browser (in a new browser tab).")
