"""Issue 13, acceptance 1, end to end with the real packaged embedder over the sample corpus: ann asks on the
command line, bob in the app, rex reviews both on the command line (accepting, rejecting with a reason, and
correcting with a clause found by search), exports the reviewed set, and `regcite eval run` scores it with the
corrected clause as the gold."""
from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from tests.test_users_cmd import PASSWORDS, cheap_hashing, cli, records_url  # noqa: F401 (fixtures)
from tests.ui.conftest import ROOT

CORPUS = ROOT / "corpus" / "regulations"
ANN_Q = "How long does a creditor have to notify an applicant after taking adverse action on an existing account?"
BOB_Q = "When must a controller erase personal data without undue delay?"
PEOPLE = (("ann", "asker"), ("bob", "asker"), ("rex", "reviewer"))
PASSWORDS = PASSWORDS | {"bob": "bob's long password"}


def _ask_in_the_app(monkeypatch, data_dir, question: str) -> None:
    import streamlit as st

    monkeypatch.setenv("REGCITE_DATA_DIR", str(data_dir))
    st.cache_resource.clear()
    st.cache_data.clear()
    at = AppTest.from_file(str(ROOT / "ui" / "app.py"), default_timeout=180).run()
    at.text_input(key="login_name").input("bob")
    at.text_input(key="login_password").input(PASSWORDS["bob"])
    next(b for b in at.button if b.label == "Log in").click()
    at.run()
    assert not at.exception and at.chat_input
    at.chat_input[0].set_value(question).run()
    assert not at.exception and not at.error
    st.cache_resource.clear()


def _answer_ids(cli) -> dict[str, str]:
    code, out, err = cli.as_("rex", "review", "list", "--json")
    assert code == 0, err
    return {item["user"]: item["answer_id"] for item in json.loads(out)}


@pytest.mark.slow
@pytest.mark.parametrize("records_url", ["sqlite", "postgresql"], indirect=True)
def test_two_askers_one_reviewer_and_the_reviewed_set_scored_with_the_correction_as_gold(cli, monkeypatch, tmp_path):
    assert cli("ingest", str(CORPUS), "--no-progress")[0] == 0
    assert cli("users", "add", "ada", "--role", "admin", stdin=PASSWORDS["ada"] + "\n")[0] == 0
    for name, role in PEOPLE:
        code, _, err = cli.as_("ada", "users", "add", name, "--role", role, stdin=PASSWORDS[name] + "\n")
        assert code == 0, err
        assert cli.as_("ada", "users", "group-add", "staff", name)[0] == 0
    assert cli.as_("ada", "users", "grant", "staff", "default", "--group")[0] == 0  # access is by grant only

    code, out, err = cli.as_("ann", "ask", ANN_Q, "--json")
    assert code == 0, err
    ann = json.loads(out)
    assert ann["user"] == "ann" and ann["citations"]
    _ask_in_the_app(monkeypatch, cli.data_dir, BOB_Q)
    ids = _answer_ids(cli)
    assert set(ids) == {"ann", "bob"} and ids["ann"] == ann["answer_id"]
    code, out, _ = cli.as_("ann", "review", "list")
    assert code == 4  # an asker may not open the queue

    # rex: ann's answer keeps its first citation and rejects any other; bob's first citation is corrected to a clause
    # that search finds and the answer did not cite
    code, out, _ = cli.as_("rex", "review", "show", ids["ann"], "--json")
    shown = json.loads(out)
    slots = [c["slot"] for s in shown["sentences"] for c in s["citations"]]
    rulings = ["--accept", slots[0]] + [flag for slot in slots[1:] for flag in ("--reject", f"{slot}:does_not_support")]
    outcome = "approved" if len(slots) == 1 else "approved_with_corrections"
    code, _, err = cli.as_("rex", "review", "decide", ids["ann"], "--outcome", outcome, *rulings,
                           "--comment", "the 30 days are right")
    assert code == 0, err

    code, out, _ = cli.as_("rex", "review", "show", ids["bob"], "--json")
    shown = json.loads(out)
    assert (shown["user"], shown["entry"], shown["question"]) == ("bob", "app", BOB_Q)
    cited = {c["clause_id"] for s in shown["sentences"] for c in s["citations"]}
    first = shown["sentences"][0]["citations"][0]["slot"]
    code, out, _ = cli.as_("rex", "review", "search", "right to obtain erasure without undue delay grounds", "-k", "8")
    found = [line.split()[0] for line in out.splitlines() if line and not line.startswith(" ")]
    right = next(clause_id for clause_id in found if clause_id not in cited)
    code, out, err = cli.as_("rex", "review", "decide", ids["bob"], "--outcome", "approved_with_corrections",
                             "--accept-all", "--correct", f"{first}={right}", "--json")
    assert code == 0, err
    corrected = json.loads(out)["citations"][0]["correction"]["reference"]

    exported = tmp_path / "reviewed.jsonl"
    assert cli.as_("rex", "review", "export-set", "--out", str(exported))[0] == 0
    rows = {row["question"]: row for row in map(json.loads, exported.read_text(encoding="utf-8").splitlines())}
    assert rows[BOB_Q]["gold"][0] == corrected
    assert rows[ANN_Q]["gold"] == [ann["citations"][0]["reference"]]

    run = tmp_path / "run"
    code, _, err = cli.as_("rex", "eval", "run", str(exported), "--out", str(run), "--no-progress")
    assert code == 0, err
    results = {r["question"]: r for r in map(json.loads, (run / "results.jsonl").read_text().splitlines())}
    assert results[BOB_Q]["gold"][0] == corrected and not results[BOB_Q]["error"]
    code, out, _ = cli("audit", "verify")
    assert code == 0 and out.strip().endswith("the chain holds")
