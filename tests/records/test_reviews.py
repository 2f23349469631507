"""Reviews: a ruling on every citation, outcomes that fit them, claims that keep reviewers apart, two-review
agreement, the queue's filters, and what reviews feed back (a question set, statistics)."""
from __future__ import annotations

import pytest

from rag.errors import PermissionDenied, ReviewError
from rag.records.answers import ask_and_record, load_answer
from rag.records.queue import QueueFilter, history_of, list_answers
from rag.records.review_sets import review_set_rows, review_stats
from rag.records.reviews import (Action, CitationDecision, Correction, Outcome, Reason, State, citation_slots, claim,
                                 claim_of, decide, decisions_of, release)
from rag.records.users import Role, User, add_user
from tests.grants import let_read
from rag.types import Filters
from tests.records.conftest import ADMIN, AS_OF, PASSWORD

ASKER = User("ann", Role.ASKER)
REVIEWER = User("rex", Role.REVIEWER)
SECOND = User("rosa", Role.REVIEWER)


@pytest.fixture
def people(book):
    add_user(book, ADMIN.name, Role.ADMIN, PASSWORD, by=ADMIN)
    for u in (ASKER, REVIEWER, SECOND):
        add_user(book, u.name, u.role, PASSWORD, by=ADMIN)
    let_read(book, ASKER.name, REVIEWER.name, SECOND.name)  # the rule is in the default collection
    return book


def _ask(pipeline, book, question="How long must a creditor retain records of each application?", user=ASKER):
    return ask_and_record(pipeline, book, user, question, Filters(as_of=AS_OF), entry="cli")


def _accept_all(answer):
    return [CitationDecision(s, m, cid, Action.ACCEPT) for s, m, cid in citation_slots(answer)]


def test_an_answer_is_recorded_with_its_cited_text_and_hashes(people, rule_pipeline):
    recorded = _ask(rule_pipeline, people)
    again = load_answer(people, recorded.answer_id)
    assert again == recorded and again.user == "ann" and again.entry == "cli"
    assert again.cited and "25 months" in again.cited[0].text
    assert len(again.prompt_sha256) == 64 and all(len(r.text_sha256) == 64 for r in again.retrieved)
    assert again.filters.as_of == AS_OF and again.generation == rule_pipeline.index.generation


def test_every_citation_needs_a_ruling_and_the_outcome_must_fit(people, rule_pipeline):
    answer = _ask(rule_pipeline, people)
    slots = citation_slots(answer)
    assert slots
    with pytest.raises(ReviewError, match="not yet ruled on"):
        decide(people, REVIEWER, answer.answer_id, Outcome.APPROVED, [])
    rejected = [CitationDecision(*slots[0], Action.REJECT)] + _accept_all(answer)[1:]
    with pytest.raises(ReviewError, match="needs a reason"):
        decide(people, REVIEWER, answer.answer_id, Outcome.REJECTED, rejected)
    rejected[0] = CitationDecision(*slots[0], Action.REJECT, Reason.DOES_NOT_SUPPORT)
    with pytest.raises(ReviewError, match="approved with corrections"):
        decide(people, REVIEWER, answer.answer_id, Outcome.APPROVED, rejected)
    with pytest.raises(PermissionDenied):
        decide(people, ASKER, answer.answer_id, Outcome.APPROVED, _accept_all(answer))
    decision = decide(people, REVIEWER, answer.answer_id, Outcome.REJECTED, rejected, "wrong part")
    assert decisions_of(people, answer.answer_id) == [decision]
    assert list_answers(people) == []  # decided: out of the queue
    assert history_of(people, "ann")[0].state is State.REJECTED


def test_a_claim_keeps_a_second_reviewer_off_until_released(people, rule_pipeline):
    answer = _ask(rule_pipeline, people)
    claim(people, REVIEWER, answer.answer_id)
    with pytest.raises(ReviewError, match="rex is reviewing"):
        claim(people, SECOND, answer.answer_id)
    with pytest.raises(ReviewError, match="rex is reviewing"):
        decide(people, SECOND, answer.answer_id, Outcome.APPROVED, _accept_all(answer))
    assert list_answers(people)[0].claimed_by == "rex"
    release(people, REVIEWER, answer.answer_id)
    assert claim_of(people, answer.answer_id) is None
    assert claim(people, SECOND, answer.answer_id).reviewer == "rosa"


def test_two_reviews_when_required_and_their_agreement(people, rule_pipeline):
    import dataclasses

    book = dataclasses.replace(people, reviews_required=2)
    answer = _ask(rule_pipeline, book)
    decide(book, REVIEWER, answer.answer_id, Outcome.APPROVED, _accept_all(answer))
    assert list_answers(book)[0].state is State.SECOND_REVIEW
    decide(book, SECOND, answer.answer_id, Outcome.APPROVED, _accept_all(answer))
    assert history_of(book, "ann")[0].state is State.APPROVED
    stats = review_stats(book)
    assert stats.agreement.answers == 1 and stats.agreement.agreed_share == 1.0


def test_a_correction_becomes_the_gold_clause_of_the_exported_set(people, rule_pipeline):
    answer = _ask(rule_pipeline, people)
    index = rule_pipeline.index
    right = next(c for c in index.clauses if c.reference.endswith("900.2(a)"))
    rulings = [CitationDecision(*slot, Action.CORRECT, correction=Correction.of(right, index.document_of(right)))
               for slot in citation_slots(answer)]
    decide(people, REVIEWER, answer.answer_id, Outcome.APPROVED_WITH_CORRECTIONS, rulings)
    row, = review_set_rows(people)
    assert row["gold"] == ["12 CFR 900.2(a)"] and row["as_of"] == AS_OF.isoformat() and row["answerable"]
    stats = review_stats(people)
    assert stats.reasons == {"corrected": len(rulings)} and stats.by_backend["extractive"].share == 0.0


def test_the_queue_filters_by_asker_backend_document_and_date(people, rule_pipeline):
    first = _ask(rule_pipeline, people)
    _ask(rule_pipeline, people, "When must a creditor notify an applicant of action taken?", user=ADMIN)
    assert [i.answer_id for i in list_answers(people)][0] == first.answer_id  # oldest first
    assert [i.user for i in list_answers(people, QueueFilter(asker="ada"))] == ["ada"]
    assert len(list_answers(people, QueueFilter(doc_id="12 CFR 900"))) == 2
    assert list_answers(people, QueueFilter(doc_id="12 CFR 90")) == []
    assert list_answers(people, QueueFilter(backend="openai")) == []
    assert list_answers(people, QueueFilter(until="2000-01-01")) == []
    assert len(list_answers(people, QueueFilter(since=first.asked_at[:10], until=first.asked_at[:10]))) == 2


def test_a_complete_review_is_not_reopened_and_a_first_reviewer_cannot_give_the_second(people, rule_pipeline):
    import dataclasses

    answer = _ask(rule_pipeline, people)
    decide(people, REVIEWER, answer.answer_id, Outcome.APPROVED, _accept_all(answer))
    with pytest.raises(ReviewError, match="review is complete"):
        claim(people, SECOND, answer.answer_id)
    with pytest.raises(ReviewError, match="review is complete"):
        decide(people, SECOND, answer.answer_id, Outcome.APPROVED, _accept_all(answer))
    assert len(decisions_of(people, answer.answer_id)) == 1

    twice = dataclasses.replace(people, reviews_required=2)
    other = _ask(rule_pipeline, twice, "When must a creditor notify an applicant of action taken?")
    decide(twice, REVIEWER, other.answer_id, Outcome.APPROVED, _accept_all(other))
    with pytest.raises(ReviewError, match="second reviewer must give"):
        decide(twice, REVIEWER, other.answer_id, Outcome.APPROVED, _accept_all(other))
