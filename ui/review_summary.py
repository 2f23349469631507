"""What the reviews add up to (rag.records.review_sets.review_stats): citation acceptance per document, backend and
model, why citations were rejected, and how far two reviewers agree."""
from __future__ import annotations

import streamlit as st

from rag.records.review_sets import Rate, review_stats
from rag.records.reviews import Outcome
from ui import resources
from ui.review_status import OUTCOME_LABEL, REASON_LABEL

_REASONS = {reason.value: label for reason, label in REASON_LABEL.items()}
_REASONS["corrected"] = "corrected to another clause"


def _rates(rates: dict[str, Rate], heading: str) -> list[dict]:
    return [{heading: name, "Accepted": r.accepted, "Citations": r.total, "Acceptance": 100 * r.share}
            for name, r in rates.items()]


def _table(rows: list[dict]) -> None:
    # a grid shows every cell as text: document names and model names are never markup
    st.dataframe(rows, hide_index=True, width="stretch", column_config={
        "Acceptance": st.column_config.ProgressColumn("Acceptance", format="%.0f%%", min_value=0, max_value=100)})


def show(settings) -> None:
    book = resources.book(settings)
    stats = review_stats(book)
    if not stats.decisions:
        st.info("No decisions yet: the summary fills in as reviewers decide.", icon=":material/monitoring:")
        return
    counts = st.columns(4)
    counts[0].metric("Decisions", f"{stats.decisions:,}")
    for column, outcome in zip(counts[1:], Outcome):
        column.metric(OUTCOME_LABEL[outcome], f"{stats.outcomes.get(outcome.value, 0):,}")
    st.markdown("#### Citations accepted")
    st.caption("Each reviewer's latest decision on an answer counts; a corrected citation counts as not accepted.")
    for rates, heading in ((stats.by_document, "Document"), (stats.by_backend, "Backend"), (stats.by_model, "Model")):
        _table(_rates(rates, heading))
    st.markdown("#### Why citations were not accepted")
    if stats.reasons:
        _table([{"Reason": _REASONS.get(k, k), "Citations": n} for k, n in stats.reasons.items()])
    else:
        st.caption("Every citation ruled on so far was accepted.")
    agreement = stats.agreement
    if book.reviews_required == 2 or agreement.answers:
        st.markdown("#### Agreement between reviewers")
        cols = st.columns(3)
        cols[0].metric("Answers reviewed twice", f"{agreement.answers:,}")
        cols[1].metric("Citations agreed", f"{100 * agreement.agreed_share:.0f}%" if agreement.citations else "–",
                       help=f"of {agreement.citations:,} citations both reviewers ruled on")
        cols[2].metric("Cohen's kappa", f"{agreement.kappa:.2f}" if agreement.kappa is not None else "undefined",
                       help="Agreement beyond chance over the per-citation rulings; undefined while every ruling "
                            "is the same")
