"""Staleness: an amendment that changes a cited clause flags the reviewed answer, with the date; nothing is deleted."""
from __future__ import annotations

from datetime import date

from ingest.pipeline import ingest_paths
from rag.records.answers import ask_and_record, load_answer
from rag.records.queue import history_of
from rag.records.reviews import Action, CitationDecision, Outcome, State, citation_slots, decide
from rag.records.stale import first_stale, stale_citations
from rag.records.users import LOCAL_USER, Role, User, add_user
from rag.store import open_index
from rag.types import ChangeKind, Filters
from tests.fakes import HashEmbedder
from tests.grants import let_read
from tests.records.conftest import AS_OF, rule

ASKER = User("ann", Role.ASKER)
REVIEWER = User("rex", Role.REVIEWER)


def test_an_amended_cited_clause_makes_the_reviewed_answer_stale_with_the_date(book, rule_pipeline, record_settings,
                                                                               tmp_path):
    add_user(book, "ada", Role.ADMIN, "correct horse battery", by=LOCAL_USER)
    add_user(book, ASKER.name, ASKER.role, "correct horse battery", by=LOCAL_USER)
    let_read(book, ASKER.name)  # the rule is in the default collection
    recorded = ask_and_record(rule_pipeline, book, ASKER, "How long must a creditor retain records of each "
                              "application?", Filters(as_of=AS_OF), entry="cli")
    cited = {c.reference for c in recorded.cited}
    assert "12 CFR 900.1(a)" in cited
    decide(book, REVIEWER, recorded.answer_id, Outcome.APPROVED,
           [CitationDecision(*slot, Action.ACCEPT) for slot in citation_slots(recorded)])
    assert stale_citations(rule_pipeline.index, recorded) == {}

    unchanged_wording = tmp_path / "part900_2016.md"
    unchanged_wording.write_text(rule("2016-07-11", retention="24 months"), encoding="utf-8")
    ingest_paths([unchanged_wording], record_settings, progress=False, embedder=HashEmbedder())
    index = open_index(record_settings)

    flags = stale_citations(index, recorded)
    amended = next(c.clause_id for c in recorded.cited if c.reference == "12 CFR 900.1(a)")
    assert flags[amended].kind is ChangeKind.MODIFIED
    assert str(flags[amended]) == "stale: cited clause amended, effective 2016-07-11"
    assert str(first_stale(index, recorded)) == "stale: cited clause amended, effective 2016-07-11"
    assert all(c.clause_id not in flags for c in recorded.cited if c.reference.startswith("12 CFR 900.2"))
    # the record is untouched: the text the user saw is still there, and so is its review
    again = load_answer(book, recorded.answer_id)
    assert again == recorded and "25 months" in again.cited_clause(amended).text
    assert history_of(book, "ann")[0].state is State.APPROVED
    assert index.documents[recorded.cited[0].version_id].effective_to == date(2016, 7, 11)
