"""The audit chain: `verify` holds on a real log and names the record after each kind of tampering."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from rag.records.answers import ask_and_record
from rag.records.chain import GENESIS, canonical_json, record_hash
from rag.records.users import add_user
from rag.records.verify_chain import verify_chain
from rag.types import Filters
from tests.records.conftest import ADMIN, AS_OF, PASSWORD

QUESTIONS = ("How long must a creditor retain records of each application?",
             "When must a creditor notify an applicant of action taken?",
             "Must notices of action taken be kept in writing?")


@pytest.fixture
def log(book, rule_pipeline):
    """Six records: a user added, then five answers."""
    add_user(book, "ada", ADMIN.role, PASSWORD, by=ADMIN)
    for q in QUESTIONS + QUESTIONS[:2]:
        ask_and_record(rule_pipeline, book, ADMIN, q, Filters(as_of=AS_OF), entry="cli")
    return book


def _sql(book, statement: str, **params) -> None:
    with book.db.writer.connect() as conn:
        with conn.begin():
            conn.execute(text(statement), params)


def _first_break(book):
    report = verify_chain(book.db, book.checkpoints)
    assert not report.holds
    return report.breaks[0]


def test_the_chain_holds_on_a_real_log_and_every_record_is_signed(log):
    report = verify_chain(log.db, log.checkpoints)
    assert report.holds, report.breaks
    assert (report.records, report.head_seq, report.checkpoints, report.unsigned_tail) == (6, 6, 6, 0)


def test_a_field_edited_with_plain_sql_names_the_record(log):
    with log.db.read() as conn:
        rid, body = conn.execute(text("SELECT record_id, body FROM records WHERE seq = 3")).one()
    edited = json.loads(body)
    edited["text"] = "A creditor may discard applications at once. [1]"
    _sql(log, "UPDATE records SET body = :b WHERE seq = 3", b=canonical_json(edited))
    broken = _first_break(log)
    assert (broken.seq, broken.record_id) == (3, rid) and "edited" in broken.what


@pytest.mark.parametrize("statements, seq, says", [
    (["DELETE FROM records WHERE seq = 4"], 4, "missing"),
    (["UPDATE records SET seq = -1 WHERE seq = 3", "UPDATE records SET seq = 3 WHERE seq = 4",
      "UPDATE records SET seq = 4 WHERE seq = -1"], 3, "out of order"),
    (["DELETE FROM records WHERE seq = 6",
      "UPDATE chain_head SET seq = 5, hash = (SELECT hash FROM records WHERE seq = 5)"], 6, "removed from the end"),
], ids=["a record deleted", "two records swapped", "the last record removed (caught by its checkpoint)"])
def test_a_record_deleted_swapped_or_cut_from_the_end_is_named(log, statements, seq, says):
    for statement in statements:
        _sql(log, statement)
    broken = _first_break(log)
    assert broken.seq == seq and says in broken.what


def test_a_forger_who_recomputes_the_whole_chain_is_caught_without_the_key(log):
    with log.db.read() as conn:
        rows = conn.execute(text("SELECT * FROM records ORDER BY seq")).all()
    previous = GENESIS
    for row in rows:  # rewrite record 2's body and re-hash everything from there, as a forger with the DB can
        body = row.body
        if row.seq == 2:
            edited = json.loads(body)
            edited["question"] = "Something else entirely?"
            body = canonical_json(edited)
        digest = record_hash(row.record_id, row.kind, row.at, row.user_name, row.subject, body, previous)
        _sql(log, "UPDATE records SET body = :b, prev_hash = :p, hash = :h WHERE seq = :s",
             b=body, p=previous, h=digest, s=row.seq)
        previous = digest
    _sql(log, "UPDATE chain_head SET hash = :h", h=previous)
    broken = _first_break(log)
    assert broken.seq == 2 and "checkpoint" in broken.what


def test_a_checkpoint_the_forger_wrote_has_a_bad_signature(log):
    lines = log.checkpoints.path.read_text().splitlines()
    forged = json.loads(lines[-1])
    forged["hash"] = "f" * 64
    log.checkpoints.path.write_text("\n".join(lines[:-1] + [json.dumps(forged)]) + "\n")
    broken = _first_break(log)
    assert broken.seq == 6 and "bad signature" in broken.what


def test_without_a_key_to_check_the_checkpoints_the_chain_does_not_pass(log, tmp_path):
    import dataclasses

    blind = dataclasses.replace(log.checkpoints, key_path=tmp_path / "nowhere.key")
    report = verify_chain(log.db, blind)
    assert not report.holds and "cannot check the signed checkpoints" in report.breaks[0].what


def test_verify_holds_on_a_chain_that_grows_while_it_is_read(log, rule_pipeline):
    import threading

    stop = threading.Event()

    def keep_asking():
        while not stop.is_set():
            ask_and_record(rule_pipeline, log, ADMIN, QUESTIONS[0], Filters(as_of=AS_OF), entry="cli")

    writer = threading.Thread(target=keep_asking)
    writer.start()
    try:
        reports = [verify_chain(log.db, log.checkpoints) for _ in range(15)]
    finally:
        stop.set()
        writer.join()
    assert [r.breaks for r in reports if not r.holds] == []
    assert reports[-1].records > 6  # it did grow meanwhile
