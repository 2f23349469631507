"""Citation review in AppTest, over real records (SQLite in the test's data dir) of answers the real pipeline gave
from two versions of Part 900: the Ask page records, the queue, claims, rulings, decisions, History, the summary."""
from __future__ import annotations

import dataclasses
from datetime import date, datetime, timezone

import pytest
from streamlit.testing.v1 import AppTest

from rag.records.answers import ask_and_record, load_answer
from rag.records.users import Role, User, add_user
from rag.records.queue import history_of, list_answers
from rag.records.reviews import (Action, CitationDecision, Outcome, Reason, State, citation_slots, claim, claim_of,
                                 decide, decisions_of)
from rag.types import Filters
from tests.fakes import HashEmbedder
from tests.grants import let_read
from tests.ui.conftest import ingest_versions
from tests.ui.test_login import ADMIN, ASKER, REVIEWER, SECOND, log_in, open_app, people, records_env  # noqa: F401
from ui.render import md_escape

QUESTION = "How many days does a lender have to notify an applicant of action taken?"
FEE = "What fee may the notice carry?"
AMENDED = date(2017, 1, 1)  # answered from the 2016 version, whose 900.2(a) the 2022 version amended
CURRENT = date(2022, 6, 1)
TODAY = datetime.now(timezone.utc).date()  # records keep UTC, and the app shows their days in UTC
HOSTILE = "<script>alert(1)</script> <img src=x onerror=alert(1)>"
ESCAPED = md_escape(HOSTILE)  # what the page writes: Markdown that shows these characters and never parses them
DOC_ID = "Part 900"
STALE = ":orange-badge[:material/history: Stale\\: cited clause amended\\, effective 2022\\-01\\-01]"


@pytest.fixture
def part900(people, tmp_path, monkeypatch):
    """Users, and Part 900 in two versions ingested by the real pipeline (the app's embedder is the same stand-in)."""
    settings, book = people
    ingest_versions(settings, tmp_path / "files", monkeypatch)
    let_read(book, ASKER.name, REVIEWER.name, SECOND.name)  # Part 900 is in the default collection
    return settings, book


def ask(settings, book, user=ASKER, question=QUESTION, as_of=AMENDED):
    from rag.pipeline import open_pipeline

    pipeline = open_pipeline(settings, embedder=HashEmbedder(64))
    return ask_and_record(pipeline, book, user, question, Filters(as_of=as_of), entry="app")


def review_page(name: str) -> AppTest:
    at = log_in(open_app(), name)
    return at.switch_page("views/review.py").run()


def open_for_review(name: str, answer_id: str) -> AppTest:
    at = review_page(name)
    return at.button(key=f"queue-open-{answer_id}").click().run()


def main_text(at: AppTest) -> str:
    parts = [m.value for m in at.main.markdown] + [c.value for c in at.main.caption]
    parts += [w.value for w in at.main.warning] + [e.value for e in at.main.error] + [s.value for s in at.main.success]
    return "\n".join(parts)


def prefix(answer_id: str) -> str:
    return f"rv-{answer_id[:8]}"


def submit(at: AppTest, answer_id: str, outcome: Outcome | None, comment: str = "") -> AppTest:
    if outcome is not None:
        at.radio(key=f"{prefix(answer_id)}-outcome").set_value(outcome)
    at.text_area(key=f"{prefix(answer_id)}-comment").input(comment)
    return at.button(key=f"{prefix(answer_id)}-submit").click().run()


def decided_badge(colour: str, icon: str, label: str) -> str:
    """The status badge of an answer decided today by `label`'s reviewer(s), as the page writes it (escaped)."""
    return f":{colour}-badge[:material/{icon}: {md_escape(label + ' ' + TODAY.isoformat())}]"


def accept_all(record) -> list[CitationDecision]:
    return [CitationDecision(*slot, Action.ACCEPT) for slot in citation_slots(record)]


def test_the_ask_page_records_each_answer_as_the_logged_in_user_and_shows_its_status(part900):
    settings, book = part900
    at = log_in(open_app(), "ann")
    at.date_input(key="f_as_of").set_value(AMENDED).run()
    at.chat_input[0].set_value(QUESTION).run()

    assert not at.exception
    item, = history_of(book, "ann")  # recorded, asked by ann
    assert item.question == QUESTION and item.state is State.PENDING
    assert load_answer(book, item.answer_id).entry == "app"
    assert at.session_state["ask_recorded"] == [item.answer_id]
    shown = main_text(at)
    assert ":gray-badge[:material/hourglass_empty: Awaiting review]" in shown
    assert STALE in shown


def test_the_status_on_the_ask_page_is_read_fresh_from_the_book(part900):
    settings, book = part900
    at = log_in(open_app(), "ann")
    at.chat_input[0].set_value(FEE).run()
    answer_id, = at.session_state["ask_recorded"]
    decide(book, REVIEWER, answer_id, Outcome.APPROVED, accept_all(load_answer(book, answer_id)))
    at.run()
    shown = main_text(at)
    assert decided_badge("green", "verified", "Approved by rex") in shown
    assert "Stale" not in shown  # asked for 2022: the version in force still reads so


def test_the_queue_lists_waiting_answers_oldest_first_with_claims_and_stale_flags(part900):
    settings, book = part900
    first = ask(settings, book)
    second = ask(settings, book, ADMIN, FEE, CURRENT)
    claim(book, SECOND, first.answer_id)
    at = review_page("rex")

    assert not at.exception
    buttons = [b.key for b in at.button if (b.key or "").startswith("queue-open-")]
    assert buttons == [f"queue-open-{first.answer_id}", f"queue-open-{second.answer_id}"]  # oldest first
    shown = main_text(at)
    assert "2 answers waiting for review, oldest first" in shown
    assert ":violet-badge[:material/lock_clock: being reviewed by rosa until " in shown
    assert shown.count("Stale\\: cited clause amended") == 1  # only the answer asked for 2017
    assert "asked by ann · " in shown.replace("\\", "") and "asked by ada · " in shown.replace("\\", "")


@pytest.mark.parametrize("widget, key, value, expected", [
    ("selectbox", "q_asker", "ada", [1]),
    ("selectbox", "q_backend", "openai", []),
    ("selectbox", "q_doc", DOC_ID, [0, 1]),
    ("multiselect", "q_states", [State.APPROVED], [2]),
    ("date_input", "q_days", (date(2000, 1, 1), date(2000, 1, 2)), []),
    ("date_input", "q_days", (TODAY, TODAY), [0, 1]),
])
def test_the_queue_filters_by_asker_backend_document_state_and_date(part900, widget, key, value, expected):
    settings, book = part900
    asked = [ask(settings, book), ask(settings, book, ADMIN, FEE, CURRENT), ask(settings, book, SECOND, FEE, CURRENT)]
    decide(book, REVIEWER, asked[2].answer_id, Outcome.APPROVED, accept_all(asked[2]))
    at = review_page("rex")
    getattr(at, widget)(key=key).set_value(value).run()
    assert not at.exception
    shown = [b.key.removeprefix("queue-open-") for b in at.button if (b.key or "").startswith("queue-open-")]
    assert shown == [asked[i].answer_id for i in expected]


def test_opening_an_answer_claims_it_and_another_reviewer_sees_it_read_only(part900):
    settings, book = part900
    record = ask(settings, book)
    at = open_for_review("rex", record.answer_id)
    assert not at.exception
    assert claim_of(book, record.answer_id).reviewer == "rex"
    assert ":violet-badge[:material/lock_clock: claimed by you until " in main_text(at)
    assert at.button(key=f"{prefix(record.answer_id)}-submit")

    other = open_for_review("rosa", record.answer_id)
    assert not other.exception
    assert any(w.value.startswith("rex is reviewing this answer until ") for w in other.main.warning)
    assert not [b for b in other.button if (b.key or "").endswith("-submit")]
    assert not other.radio  # no rulings to give
    assert "A lender shall notify an applicant" in main_text(other)  # but the answer and its clauses are shown

    at.button(key="review_back").click().run()  # leaving undecided releases it
    assert claim_of(book, record.answer_id) is None


def test_logging_out_releases_the_answer_under_review(part900):
    settings, book = part900
    record = ask(settings, book)
    at = open_for_review("rex", record.answer_id)
    assert claim_of(book, record.answer_id).reviewer == "rex"
    at.button(key="log_out").click().run()
    assert claim_of(book, record.answer_id) is None and at.text_input(key="login_name")


def test_each_citation_shows_the_clause_as_recorded_with_its_page_verdict_and_change(part900):
    settings, book = part900
    record = ask(settings, book)
    at = open_for_review("rex", record.answer_id)
    shown = main_text(at)
    assert "**Sentence 1**" in shown
    assert "**\\[1\\] § 900\\.2\\(a\\)** · Part 900 \\- Sample Notices" in shown
    assert ":green-badge[:material/check_circle: Supported]" in shown and ":material/description: p. 1]" in shown
    assert ":material/event: effective 2016-07-11 to 2022-01-01]" in shown
    assert STALE in shown
    # the 2016 text as recorded, the words the sentence shares highlighted
    assert ":orange-background[action taken within 30 days after receiving]" in shown


def test_a_reviewer_accepts_every_citation_and_approves(part900):
    settings, book = part900
    record = ask(settings, book)
    at = open_for_review("rex", record.answer_id)
    for k, _ in enumerate(citation_slots(record)):
        at.radio(key=f"{prefix(record.answer_id)}-c{k}-act").set_value(Action.ACCEPT)
        at.text_input(key=f"{prefix(record.answer_id)}-c{k}-note").input("the clause says 30 days")
    at = submit(at, record.answer_id, Outcome.APPROVED, "checked against the 2016 text")

    assert not at.exception and not at.main.error
    decision, = decisions_of(book, record.answer_id)
    assert decision.reviewer == "rex" and decision.outcome is Outcome.APPROVED
    assert decision.comment == "checked against the 2016 text"
    assert [(r.action, r.comment) for r in decision.citations] == [(Action.ACCEPT, "the clause says 30 days")]
    assert list_answers(book) == [] and claim_of(book, record.answer_id) is None
    shown = main_text(at)
    assert "Your decision is recorded" in shown
    assert decided_badge("green", "verified", "Approved by rex") in shown
    assert md_escape("Sentence 1, [1] § 900.2(a): accepted · “the clause says 30 days”") in shown
    at.button(key="review_back").click().run()
    assert "0 answers waiting for review" in main_text(at)


def test_a_reviewer_rejects_a_citation_with_a_reason(part900):
    settings, book = part900
    record = ask(settings, book)
    at = open_for_review("rex", record.answer_id)
    key = f"{prefix(record.answer_id)}-c0"
    at.radio(key=f"{key}-act").set_value(Action.REJECT).run()
    at.selectbox(key=f"{key}-why").set_value(Reason.OUTDATED_VERSION)
    at = submit(at, record.answer_id, Outcome.REJECTED, "cites the 2016 rule")

    assert not at.main.error
    decision, = decisions_of(book, record.answer_id)
    ruling, = decision.citations
    assert (decision.outcome, ruling.action, ruling.reason) == (Outcome.REJECTED, Action.REJECT,
                                                                 Reason.OUTDATED_VERSION)
    assert history_of(book, "ann")[0].state is State.REJECTED
    assert "rejected \\(outdated version\\)" in main_text(at)


def test_a_reviewer_corrects_a_citation_to_a_clause_found_by_search(part900):
    settings, book = part900
    record = ask(settings, book)
    at = open_for_review("rex", record.answer_id)
    key = f"{prefix(record.answer_id)}-c0"
    at.radio(key=f"{key}-act").set_value(Action.CORRECT).run()
    at.text_input(key=f"{key}-find").input("notice in writing fee").run()
    pick = at.selectbox(key=f"{key}-pick")
    assert pick.options and all(" · Part 900 - Sample Notices · " in o for o in pick.options)
    index = _index(settings)
    version_id = record.cited[0].version_id  # the right clause in the version the answer cited
    right = next(c for c in index.clauses if c.reference == "§ 900.2(b)" and c.version_id == version_id)
    pick.set_value(right.clause_id).run()
    assert "\\$5" in main_text(at)  # the chosen clause, as it reads in its version
    at = submit(at, record.answer_id, Outcome.APPROVED_WITH_CORRECTIONS)

    assert not at.main.error
    decision, = decisions_of(book, record.answer_id)
    fix = decision.citations[0].correction
    assert decision.citations[0].action is Action.CORRECT
    assert (fix.clause_id, fix.reference, fix.text) == (right.clause_id, "§ 900.2(b)", right.text)
    assert history_of(book, "ann")[0].state is State.APPROVED_WITH_CORRECTIONS
    assert f"corrected to § 900\\.2\\(b\\) \\(version {right.version_id}\\)" in main_text(at)


def _index(settings):
    from rag.store import open_index

    return open_index(settings)


@pytest.mark.parametrize("ruling, outcome, message", [
    (None, Outcome.APPROVED, "every citation needs a ruling; not yet ruled on: [1] of sentence 1"),
    (Action.REJECT, Outcome.REJECTED, "rejecting [1] of sentence 1 needs a reason"),
    (Action.CORRECT, Outcome.APPROVED_WITH_CORRECTIONS, "correcting [1] of sentence 1 needs the right clause"),
    (Action.REJECT, None, "Choose an outcome"),
    (Action.ACCEPT, Outcome.APPROVED_WITH_CORRECTIONS, "every citation was accepted: the outcome is approved"),
])
def test_a_decision_that_does_not_fit_is_refused_and_nothing_is_recorded(part900, ruling, outcome, message):
    settings, book = part900
    record = ask(settings, book)
    at = open_for_review("rex", record.answer_id)
    if ruling is not None:
        at.radio(key=f"{prefix(record.answer_id)}-c0-act").set_value(ruling).run()
    at = submit(at, record.answer_id, outcome)
    assert not at.exception
    assert any(message in e.value or md_escape(message) in e.value for e in at.main.error), at.main.error
    assert decisions_of(book, record.answer_id) == []
    assert at.button(key=f"{prefix(record.answer_id)}-submit")  # still under review


def test_a_reviewer_cannot_review_their_own_question(part900):
    settings, book = part900
    record = ask(settings, book, user=REVIEWER)
    at = open_for_review("rex", record.answer_id)
    assert any("You asked this question" in w.value for w in at.main.warning)
    assert not [b for b in at.button if (b.key or "").endswith("-submit")]
    assert claim_of(book, record.answer_id) is None


def test_history_lists_the_users_answers_and_reopens_one_as_recorded_with_its_decisions(part900):
    settings, book = part900
    old = ask(settings, book)
    new = ask(settings, book, question=FEE, as_of=CURRENT)
    ask(settings, book, user=ADMIN, question=FEE)  # someone else's: not in ann's history
    rulings = [CitationDecision(*slot, Action.REJECT, Reason.DOES_NOT_SUPPORT, comment=HOSTILE)
               for slot in citation_slots(old)]
    decide(book, REVIEWER, old.answer_id, Outcome.REJECTED, rulings, comment=HOSTILE)

    at = log_in(open_app(), "ann")
    at.switch_page("views/history.py").run()
    assert not at.exception
    opens = [b.key.removeprefix("hist-open-") for b in at.button if (b.key or "").startswith("hist-open-")]
    assert opens == [new.answer_id, old.answer_id]  # newest first, ann's only
    listed = main_text(at)
    assert decided_badge("red", "block", "Rejected by rex") in listed
    assert ":gray-badge[:material/hourglass_empty: Awaiting review]" in listed
    assert listed.count("Stale\\: cited clause amended") == 1

    at.button(key=f"hist-open-{old.answer_id}").click().run()
    shown = main_text(at)
    assert not at.exception
    assert "A lender shall notify an applicant of action taken within 30 days" in shown  # the answer as recorded
    assert "[1] § 900\\.2\\(a\\)" in [s.value for s in at.main.subheader]
    assert ":orange-background[action taken within 30 days after receiving]" in shown  # the clause as recorded
    assert f"> {ESCAPED}" in shown  # the reviewer's comment, literally
    assert "rejected \\(does not support the sentence\\)" in shown
    assert "<script>" not in shown and "<img" not in shown.replace("\\<img", "")
    at.button(key="hist_back").click().run()
    assert at.button(key=f"hist-open-{new.answer_id}")


def test_user_text_shows_literally_in_the_queue_and_the_review(part900):
    settings, book = part900
    asker = User("<img src=x onerror=alert(1)>", Role.ASKER)
    add_user(book, asker.name, asker.role, "correct horse battery", by=ADMIN)
    let_read(book, asker.name)
    record = ask(settings, book, user=asker, question=f"{QUESTION} {HOSTILE}")
    at = review_page("rex")
    listed = main_text(at)
    assert f"**{md_escape(record.question)}**" in listed
    assert md_escape(f"asked by {asker.name} · ") in listed
    at.button(key=f"queue-open-{record.answer_id}").click().run()
    shown = main_text(at)
    assert f"### {md_escape(record.question)}" in shown and ESCAPED in shown
    assert md_escape(f"Asked by {asker.name} · ") in shown
    assert "<" not in shown.replace("\\<", "")  # every angle bracket escaped


def test_with_two_reviews_required_the_first_reviewer_waits_for_a_second(part900, monkeypatch):
    settings, book = part900
    monkeypatch.setenv("REGCITE_REVIEWS_REQUIRED", "2")
    two = dataclasses.replace(book, reviews_required=2)
    record = ask(settings, two)
    decide(two, REVIEWER, record.answer_id, Outcome.APPROVED, accept_all(record), comment=HOSTILE)

    first = open_for_review("rex", record.answer_id)
    assert any("it waits for a second reviewer" in w.value for w in first.main.warning)
    assert not [b for b in first.button if (b.key or "").endswith("-submit")]

    second = open_for_review("rosa", record.answer_id)
    shown = main_text(second)
    assert ":blue-badge[:material/hourglass_top: Awaiting a second review]" in shown
    assert f"> {ESCAPED}" in shown  # the first reviewer's decision, comment and all, shown literally
    for k, _ in enumerate(citation_slots(record)):
        second.radio(key=f"{prefix(record.answer_id)}-c{k}-act").set_value(Action.ACCEPT)
    second = submit(second, record.answer_id, Outcome.APPROVED)
    assert not second.main.error
    assert decided_badge("green", "verified", "Approved by rex and rosa") in main_text(second)


def test_the_summary_shows_acceptance_reasons_and_agreement_of_two_reviewers(part900, monkeypatch):
    settings, book = part900
    monkeypatch.setenv("REGCITE_REVIEWS_REQUIRED", "2")
    two = dataclasses.replace(book, reviews_required=2)
    first, second = ask(settings, two), ask(settings, two, question=FEE, as_of=CURRENT)
    for reviewer in (REVIEWER, SECOND):
        decide(two, reviewer, first.answer_id, Outcome.APPROVED, accept_all(first))
    decide(two, REVIEWER, second.answer_id, Outcome.REJECTED,
           [CitationDecision(*s, Action.REJECT, Reason.WRONG_CLAUSE) for s in citation_slots(second)])
    decide(two, SECOND, second.answer_id, Outcome.APPROVED, accept_all(second))

    at = review_page("ada")
    assert not at.exception
    metrics = {m.label: m.value for m in at.main.metric}
    assert metrics["Decisions"] == "4" and metrics["Approved"] == "3" and metrics["Rejected"] == "1"
    assert metrics["Answers reviewed twice"] == "2" and metrics["Citations agreed"] == "50%"
    assert metrics["Cohen's kappa"] == "0.00"
    tables = [d.value for d in at.main.dataframe]
    assert tables[0].to_dict("records") == [{"Document": DOC_ID, "Accepted": 3, "Citations": 4, "Acceptance": 75.0}]
    assert tables[3].to_dict("records") == [{"Reason": "wrong clause", "Citations": 1}]
    disputed, = list_answers(two)  # the two reviewers differ on the second answer: it waits for a third
    assert disputed.answer_id == second.answer_id and disputed.state is State.DISPUTED


def test_an_abstention_is_reviewed_by_its_outcome_alone(part900):
    settings, book = part900
    record = ask(settings, book, as_of=date(2005, 1, 1))  # before the first version: nothing was in force
    assert record.abstained and not citation_slots(record)
    at = open_for_review("rex", record.answer_id)
    assert any("no version in force" in w.value for w in at.main.warning)
    assert not [r for r in at.radio if r.key.endswith("-act")]
    at = submit(at, record.answer_id, Outcome.APPROVED, "right to abstain")
    assert not at.main.error
    assert history_of(book, "ann")[0].state is State.APPROVED


def test_the_correction_search_can_reach_every_version(part900):
    settings, book = part900
    record = ask(settings, book)  # cites the 2016 version
    at = open_for_review("rex", record.answer_id)
    key = f"{prefix(record.answer_id)}-c0"
    at.radio(key=f"{key}-act").set_value(Action.CORRECT).run()
    at.text_input(key=f"{key}-find").input("notify an applicant within days").run()
    labels = lambda: at.selectbox(key=f"{key}-pick").options  # noqa: E731
    assert any("within 30 days" in o for o in labels()) and not any("within 14 days" in o for o in labels())
    at.toggle(key=f"{key}-everyv").set_value(True).run()  # the 2022 version too, named by its date
    assert any("(version of 2022-01-01) · A lender shall notify an applicant of action taken within 14 days" in o
               for o in labels())
