"""`regcite review`: the queue with claims and stale flags, an answer as recorded, decisions that rule on every
citation by S:M, corrections by reference, the exported set `regcite eval run` reads, and statistics.

The index is a small rule in two versions (2011: 25 months; 2014: 36 months), ingested once per module with the
packaged embedder through `regcite ingest`; answers are asked as of 2012, so their citations are stale."""
from __future__ import annotations

import json
import shutil
from datetime import date
from types import SimpleNamespace

import pytest

from regcite import review_cmd, review_rulings
from regcite.cli import main
from tests.records.conftest import rule
from tests.test_users_cmd import add_people, cheap_hashing, cli, records_url  # noqa: F401 (fixtures)

RETENTION_Q = "How long must a creditor retain records of each application?"
NOTICE_Q = "When must a creditor notify an applicant of action taken?"
AS_OF = "2012-06-01"
STALE = "stale: cited clause amended, effective 2014-01-01"


@pytest.fixture(scope="module")
def rule_index(tmp_path_factory):
    """A data directory holding only the index of both versions of the rule."""
    root = tmp_path_factory.mktemp("rule")
    sources = root / "sources"
    sources.mkdir()
    (sources / "part900_2011.md").write_text(rule("2011-12-30"), encoding="utf-8")
    (sources / "part900_2014.md").write_text(rule("2014-01-01", "36 months"), encoding="utf-8")
    assert main(["--data-dir", str(root / "data"), "ingest", str(sources), "--no-progress"]) == 0
    return root / "data" / "index"


@pytest.fixture
def people(cli, rule_index):
    """The rule's index in this test's data directory, and ada, ann, rex and rosa."""
    shutil.copytree(rule_index, cli.data_dir / "index")
    add_people(cli)
    for name in ("ann", "rex", "rosa"):  # the rule is in the default collection, which askers read once granted
        assert cli.as_("ada", "users", "group-add", "staff", name)[0] == 0
    assert cli.as_("ada", "users", "grant", "staff", "default", "--group")[0] == 0
    return cli


def ask(cli, question: str = RETENTION_Q, user: str = "ann") -> str:
    code, out, err = cli.as_(user, "ask", question, "--as-of", AS_OF)
    assert code == 0, err
    last = out.rstrip().splitlines()[-1]
    assert last.startswith("recorded as answer ") and last.endswith(f" by {user}")
    return last.split()[3]


def test_an_answer_asked_as_a_user_is_queued_with_its_stale_flag(people):
    answer_id = ask(people)
    code, out, _ = people.as_("rex", "review", "list")
    assert code == 0 and out.splitlines()[0].startswith(f"{answer_id}  ")
    assert "  ann  pending  extractive  12 CFR 900  [" + STALE + "]" in out and RETENTION_Q in out
    code, out, _ = people.as_("rex", "review", "list", "--json")
    item, = json.loads(out)
    assert (item["answer_id"], item["user"], item["state"], item["stale"], item["claimed_by"]) == (
        answer_id, "ann", "pending", STALE, None)


def test_show_claims_the_answer_and_shows_each_citation_as_recorded(people):
    answer_id = ask(people)
    code, out, _ = people.as_("rex", "review", "show", answer_id[:8])
    assert code == 0 and "asked by ann at " in out and "pending; claimed by rex until " in out
    assert "sentence 1 [supported]: A creditor shall retain records of each application for 25 months." in out
    assert "  1:1  [1] 12 CFR 900.1(a), p. 1 — 12 CFR Part 900 — Sample Records Rule (supported" in out
    assert '"A creditor shall retain records of each application for 25 months."' in out
    assert f"changed since: {STALE}" in out and "no decisions yet" in out
    assert json.loads(people.as_("rosa", "review", "list", "--json")[1])[0]["claimed_by"] == "rex"
    code, _, err = people.as_("rosa", "review", "show", answer_id)  # still readable, not claimed
    assert code == 0 and "not claimed: rex is reviewing this answer" in err
    code, _, err = people.as_("rosa", "review", "decide", answer_id, "--outcome", "approved", "--accept-all")
    assert code == 2 and "rex is reviewing this answer" in err
    view = json.loads(people.as_("rex", "review", "show", answer_id, "--json", "--no-claim")[1])
    citation, = view["sentences"][0]["citations"]
    assert (citation["slot"], citation["reference"], citation["pages"], citation["stale"], view["intact"]) == (
        "1:1", "12 CFR 900.1(a)", "p. 1", STALE, True)


def test_decide_accepts_rejects_with_a_reason_and_says_what_is_missing(people):
    retention, notice = ask(people), ask(people, NOTICE_Q)

    def decide(answer_id, *flags):
        return people.as_("rex", "review", "decide", answer_id, *flags)

    assert "has no citation [2]; the answer's citations: 1:1" in decide(retention, "--outcome", "approved",
                                                                          "--accept", "1:2")[2]
    code, _, err = decide(retention, "--outcome", "approved")
    assert code == 2 and "not yet ruled on: [1] of sentence 1" in err
    code, _, err = decide(retention, "--outcome", "rejected", "--reject", "1:1:because")
    assert code == 2 and "wrong_clause, does_not_support, outdated_version, other" in err
    code, _, err = decide(retention, "--outcome", "approved", "--reject", "1:1:does_not_support")
    assert code == 2 and "approved with corrections, or rejected" in err
    code, out, _ = decide(retention, "--outcome", "approved", "--accept", "1:1", "--comment", "fine")
    assert code == 0 and out.startswith("recorded decision ") and out.rstrip().endswith("now approved")
    code, out, _ = decide(notice, "--outcome", "rejected", "--reject", "1:1:outdated_version",
                          "--comment-on", "1:1=the 2014 text governs", "--json")
    decision = json.loads(out)
    assert code == 0 and decision["state"] == "rejected" and decision["citations"][0]["comment"] == \
        "the 2014 text governs"
    assert people.as_("rex", "review", "list")[1].strip() == "0 answer(s)"
    code, out, _ = people.as_("rosa", "review", "list", "--all", "--json")
    assert [(i["question"], i["state"]) for i in json.loads(out)] == [(RETENTION_Q, "approved"),
                                                                       (NOTICE_Q, "rejected")]
    assert len(json.loads(people.as_("rosa", "review", "list", "--state", "rejected", "--json")[1])) == 1
    assert json.loads(people.as_("rosa", "review", "list", "--all", "--asker", "ada", "--json")[1]) == []
    stats = json.loads(people.as_("rosa", "review", "stats", "--json")[1])
    assert stats["outcomes"] == {"approved": 1, "rejected": 1} and stats["reasons"] == {"outdated_version": 1}
    assert stats["by_document"]["12 CFR 900"] == {"accepted": 1, "total": 2, "share": 0.5}
    out = people.as_("rosa", "review", "stats")[1]
    assert "12 CFR 900: 1/2 (50%)" in out and "Cohen's kappa undefined" in out


def test_a_correction_by_reference_is_the_clause_of_the_answers_date_and_the_gold_eval_runs_on(people, tmp_path):
    answer_id = ask(people)
    code, out, _ = people.as_("rex", "review", "search", "notify an applicant of action taken", "--as-of", AS_OF,
                              "-k", "1")
    assert code == 0 and " 12 CFR 900.2(a)  (" in out and "effective 2011-12-30 to 2014-01-01" in out
    found_id = out.split()[0]
    code, _, err = people.as_("rex", "review", "decide", answer_id, "--outcome", "approved_with_corrections",
                              "--correct", "1:1=12 CFR 999.9")
    assert code == 2 and "no clause id or reference '12 CFR 999.9'" in err
    code, out, _ = people.as_("rex", "review", "decide", answer_id, "--outcome", "approved_with_corrections",
                              "--correct", "1:1=12 cfr 900.2(a)", "--json")
    correction = json.loads(out)["citations"][0]["correction"]
    assert code == 0 and (correction["clause_id"], correction["reference"]) == (found_id, "12 CFR 900.2(a)")
    assert "30 days" in correction["text"]

    exported = tmp_path / "reviewed.jsonl"
    code, out, _ = people.as_("rex", "review", "export-set", "--out", str(exported))
    row, = [json.loads(line) for line in exported.read_text(encoding="utf-8").splitlines()]
    assert code == 0 and out.strip() == f"wrote 1 reviewed question(s) to {exported}"
    assert (row["question"], row["gold"], row["as_of"], row["answerable"]) == (
        RETENTION_Q, ["12 CFR 900.2(a)"], AS_OF, True)
    run = tmp_path / "run"
    code, out, err = people.as_("ada", "eval", "run", str(exported), "--out", str(run), "--no-progress")
    assert code == 0, err
    result, = [json.loads(line) for line in (run / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    assert (result["gold"], result["as_of"], result["error"]) == (["12 CFR 900.2(a)"], AS_OF, "")


@pytest.mark.parametrize("records_url", ["sqlite"], indirect=True)
def test_two_reviews_their_history_and_agreement_when_two_are_required(people, monkeypatch):
    monkeypatch.setenv("REGCITE_REVIEWS_REQUIRED", "2")
    retention, notice = ask(people), ask(people, NOTICE_Q)
    approve = ("--outcome", "approved", "--accept-all")
    assert people.as_("rex", "review", "decide", retention, *approve)[1].rstrip().endswith("now second_review")
    assert people.as_("rex", "review", "decide", notice, *approve)[0] == 0
    assert people.as_("rosa", "review", "decide", retention, *approve)[1].rstrip().endswith("now approved")
    code, out, _ = people.as_("rosa", "review", "decide", notice, "--outcome", "rejected", "--reject",
                              "1:1:wrong_clause", "--comment", "not this section")
    assert code == 0 and out.rstrip().endswith("now disputed")
    code, out, _ = people.as_("ada", "review", "show", notice)
    history = out[out.index("decisions:"):].splitlines()
    assert code == 0 and " rex: approved" in history[1] and history[2].strip() == "1:1 accept"
    assert history[3].endswith(" rosa: rejected — not this section") and history[4].strip() == "1:1 reject wrong_clause"
    agreement = json.loads(people.as_("ada", "review", "stats", "--json")[1])["agreement"]
    assert agreement == {"answers": 2, "citations": 2, "agreed_share": 0.5, "kappa": 0.0}
    assert "2 answer(s) reviewed twice, 2 citation(s) both ruled on, 50% agreed, Cohen's kappa 0.00" in \
        people.as_("ada", "review", "stats")[1]


def test_review_list_refuses_a_date_that_is_not_one(people):
    code, _, err = people.as_("rex", "review", "list", "--since", "last week")
    assert code == 2 and "--since: 'last week' is not a day (YYYY-MM-DD)" in err


def _clause(clause_id, reference, version_id):
    return SimpleNamespace(clause_id=clause_id, reference=reference, version_id=version_id)


class _Index:
    """Two instruments that share a reference, and a later version of one of them."""

    def __init__(self):
        def version(title, start, end):
            return SimpleNamespace(title=title, effective_from=start, answers_on=lambda d: start <= d < end)
        self.documents = {"a1": version("A", date(2011, 1, 1), date(2014, 1, 1)),
                          "a2": version("A", date(2014, 1, 1), date.max),
                          "b1": version("B", date(2011, 1, 1), date.max)}
        self.clauses = [_clause("a1:1", "§ 1(a)", "a1"), _clause("a2:1", "§ 1(a)", "a2"),
                        _clause("b1:1", "§ 1(a)", "b1"), _clause("a1:2", "§ 2", "a1")]

    def clause(self, clause_id):
        return {c.clause_id: c for c in self.clauses}[clause_id]  # a KeyError for an unknown id, as Index.clause

    def document_of(self, clause):
        return self.documents[clause.version_id]


@pytest.mark.parametrize("target, day, found", [
    ("a2:1", date(2012, 1, 1), "a2:1"),  # a clause id is taken as named, whatever the date
    (" §  2 ", date(2012, 1, 1), "a1:2"),
    ("§ 1(a)", date(2015, 1, 1), "a2:1"),  # B's clause was left out: A's 2014 version answers then
])
def test_a_correction_by_reference_is_the_one_clause_in_force_on_the_day(target, day, found):
    index = _Index()
    index.documents["b1"].answers_on = lambda d: d < date(2015, 1, 1)
    assert review_rulings.clause_named(index, target, day).clause_id == found


@pytest.mark.parametrize("target, day, message", [
    ("§ 2", date(2015, 1, 1), "'§ 2' is in no version in force on 2015-01-01; name one by clause id: a1:2 (A,"),
    ("§ 1(a)", date(2012, 1, 1), "'§ 1(a)' names 2 clauses in force on 2012-01-01; name one by clause id: a1:1 (A, "
                                 "effective 2011-01-01); b1:1 (B, effective 2011-01-01)"),
    ("§ 9", date(2012, 1, 1), "no clause id or reference '§ 9' in the index"),
])
def test_a_correction_that_names_no_single_clause_says_which_to_choose(target, day, message):
    import re

    from rag.errors import ReviewError

    with pytest.raises(ReviewError, match=re.escape(message)):
        review_rulings.clause_named(_Index(), target, day)


def test_the_choices_named_for_help_are_the_records_own():
    from rag.records.reviews import Outcome, Reason, State

    assert review_cmd.STATES == tuple(s.value for s in State)
    assert review_cmd.OUTCOMES == tuple(o.value for o in Outcome)
    assert review_cmd.REASONS == tuple(r.value for r in Reason)
