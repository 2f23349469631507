"""Where a recorded answer stands in review, in the app's words: status badges, claims and the decision history
(pure functions of rag.records types, no streamlit; every name and comment escaped)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from rag.records.answers import AnswerRecord
from rag.records.reviews import Action, Decision, Outcome, Reason, State
from rag.records.stale import Stale
from ui.render import md_escape

STATE_LABEL = {
    State.PENDING: "Awaiting review",
    State.SECOND_REVIEW: "Awaiting a second review",
    State.DISPUTED: "Disputed: awaiting another reviewer",
    State.APPROVED: "Approved",
    State.APPROVED_WITH_CORRECTIONS: "Approved with corrections",
    State.REJECTED: "Rejected",
}
# colour and Material icon: both differ between states, so a state survives colour blindness
STATE_STYLE = {
    State.PENDING: ("gray", "hourglass_empty"),
    State.SECOND_REVIEW: ("blue", "hourglass_top"),
    State.DISPUTED: ("orange", "balance"),
    State.APPROVED: ("green", "verified"),
    State.APPROVED_WITH_CORRECTIONS: ("green", "rule"),
    State.REJECTED: ("red", "block"),
}
OUTCOME_LABEL = {
    Outcome.APPROVED: "Approved",
    Outcome.APPROVED_WITH_CORRECTIONS: "Approved with corrections",
    Outcome.REJECTED: "Rejected",
}
ACTION_LABEL = {Action.ACCEPT: "Accept", Action.REJECT: "Reject", Action.CORRECT: "Correct"}
REASON_LABEL = {
    Reason.WRONG_CLAUSE: "wrong clause",
    Reason.DOES_NOT_SUPPORT: "does not support the sentence",
    Reason.OUTDATED_VERSION: "outdated version",
    Reason.OTHER: "other",
}


def _utc(iso: str) -> datetime:
    return datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


def when(iso: str) -> str:
    """A record time as people read it: "2026-12-02 14:05 UTC" (records keep UTC; so does the display)."""
    return _utc(iso).strftime("%Y-%m-%d %H:%M UTC")


def clock(iso: str) -> str:
    return _utc(iso).strftime("%H:%M UTC")


@dataclass(frozen=True)
class ReviewStatus:
    state: State
    deciders: tuple[str, ...] = ()  # the reviewers whose latest decisions settle a final state
    decided_at: str = ""  # the latest of those decisions, ISO UTC
    stale: Stale | None = None  # the earliest change among the cited clauses, when any changed since

    @property
    def label(self) -> str:
        """ "Awaiting review", "Approved by rex 2026-12-02", "Rejected by rex and rosa 2026-12-03"."""
        label = STATE_LABEL[self.state]
        if self.state.open or not self.deciders:
            return label
        return f"{label} by {' and '.join(self.deciders)} {self.decided_at[:10]}"

    @property
    def stale_label(self) -> str:
        """ "Stale: cited clause amended, effective 2018-01-01", or "" while every cited clause still reads so."""
        text = str(self.stale) if self.stale else ""
        return text[:1].upper() + text[1:]


def status_of(decisions: list[Decision], required: int, state: State, stale: Stale | None = None) -> ReviewStatus:
    """The status of an answer in `state` (the record book's) after `decisions`: who settled it, and when."""
    latest: dict[str, Decision] = {}
    for d in sorted(decisions, key=lambda d: d.seq):
        latest.pop(d.reviewer, None)
        latest[d.reviewer] = d  # in order of each reviewer's latest decision, as rag.records.reviews.state_of counts
    deciding = list(latest.values())[-required:] if not state.open else []
    return ReviewStatus(state, tuple(d.reviewer for d in deciding), deciding[-1].decided_at if deciding else "", stale)


def badge(colour: str, icon: str, text: str) -> str:
    return f":{colour}-badge[:material/{icon}: {md_escape(text)}]"


def status_md(status: ReviewStatus) -> str:
    """The status badge, and beside it the stale flag when a cited clause has changed since the answer."""
    colour, icon = STATE_STYLE[status.state]
    parts = [badge(colour, icon, status.label)]
    if status.stale:
        parts.append(badge("orange", "history", status.stale_label))
    return " ".join(parts)


def claim_md(reviewer: str, until: str) -> str:
    return badge("violet", "lock_clock", f"being reviewed by {reviewer} until {clock(until)}")


def _reference(answer: AnswerRecord, clause_id: str) -> str:
    cited = answer.cited_clause(clause_id)
    return cited.reference if cited else clause_id


def ruling_md(answer: AnswerRecord, ruling) -> str:
    """One line of a decision: which citation, what the reviewer ruled, and their comment."""
    head = f"Sentence {ruling.sentence + 1}, {ruling.marker} {_reference(answer, ruling.clause_id)}: "
    if ruling.action is Action.ACCEPT:
        said = "accepted"
    elif ruling.action is Action.REJECT:
        said = f"rejected ({REASON_LABEL[ruling.reason]})" if ruling.reason else "rejected"
    else:
        fix = ruling.correction
        said = f"corrected to {fix.reference} (version {fix.version_id})" if fix else "corrected"
    comment = f" · “{ruling.comment}”" if ruling.comment else ""
    return md_escape(head + said + comment)


def decision_md(answer: AnswerRecord, decision: Decision) -> str:
    """A decision as the history shows it: who, what, when, their comment and every per-citation ruling."""
    colour, icon = STATE_STYLE[State(decision.outcome.value)]
    blocks = [f"{badge(colour, icon, OUTCOME_LABEL[decision.outcome])} **{md_escape(decision.reviewer)}** · "
              f"{md_escape(when(decision.decided_at))}"]
    if decision.comment:
        blocks.append("> " + md_escape(decision.comment))
    if decision.citations:
        blocks.append("\n".join(f"- {ruling_md(answer, r)}" for r in decision.citations))
    return "\n\n".join(blocks)
