"""`regcite audit`: verify holds on a real log and exits 1 naming the record edited with plain SQL; export writes
the records between two dates as JSONL or CSV; public-key prints the key to pin, and a pinned key is enforced."""
from __future__ import annotations

import csv
import io
import json
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest

from rag.records.audit_export import CSV_COLUMNS
from tests.test_review_cmd import ask, people, rule_index  # noqa: F401 (fixtures)
from tests.test_users_cmd import cheap_hashing, cli, records_url  # noqa: F401 (fixtures)

TODAY = datetime.now(timezone.utc).date()


@pytest.fixture
def log(people):
    """Eleven records: four users added, three put in a group and the group granted `default` (tests.test_review_cmd),
    an answer (seq 9), a decision, another answer."""
    first = ask(people)
    assert people.as_("rex", "review", "decide", first, "--outcome", "approved", "--accept-all")[0] == 0
    ask(people, "When must a creditor notify an applicant of action taken?")
    return people


@pytest.mark.parametrize("records_url", ["sqlite"], indirect=True)
def test_verify_holds_then_names_the_record_edited_with_plain_sql(log):
    code, out, _ = log("audit", "verify")
    assert code == 0 and out.rstrip().endswith("the chain holds")
    assert "11 records in sqlite:///" in out and "head seq 11" in out
    assert "11 signed checkpoints in " in out and "; 0 record(s) after the last one" in out
    with sqlite3.connect(log.data_dir / "records.db") as db:
        record_id, body = db.execute("SELECT record_id, body FROM records WHERE seq = 9").fetchone()
        edited = json.loads(body)
        edited["text"] = "A creditor may discard applications at once. [1]"
        db.execute("UPDATE records SET body = ? WHERE seq = 9", (json.dumps(edited),))
    db.close()
    code, out, _ = log("audit", "verify")
    assert code == 1 and out.splitlines()[-1] == (
        f"the chain is broken: 1 break(s); the first: record 9 ({record_id}): was edited: its content no longer "
        "matches its hash")
    code, out, _ = log("audit", "verify", "--json")
    report = json.loads(out)
    assert code == 1 and report["holds"] is False and report["breaks"][0]["seq"] == 9
    code, out, _ = log.as_("rex", "review", "show", record_id, "--no-claim")
    assert code == 0 and "EDITED: run regcite audit verify" in out.splitlines()[0]


def test_export_writes_the_records_between_two_dates_as_jsonl_or_csv(log, tmp_path):
    code, out, err = log.as_("ada", "audit", "export")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and err.strip() == "exported 11 record(s)"
    assert [r["seq"] for r in rows] == list(range(1, 12)) and rows[8]["kind"] == "answer"
    assert rows[9]["subject"] == rows[8]["record_id"] and rows[9]["prev_hash"] == rows[8]["hash"]
    assert rows[8]["body"]["question"].startswith("How long must a creditor retain")

    yesterday, tomorrow = (TODAY + timedelta(days=d) for d in (-1, 1))
    out_file = tmp_path / "audit.csv"
    code, _, err = log.as_("ada", "audit", "export", "--format", "csv", "--from", TODAY.isoformat(), "--to",
                           TODAY.isoformat(), "--out", str(out_file))
    table = list(csv.reader(io.StringIO(out_file.read_text(encoding="utf-8"))))
    assert code == 0 and err.strip() == f"exported 11 record(s) to {out_file}"
    assert tuple(table[0]) == CSV_COLUMNS and [r[0] for r in table[1:]] == [str(n) for n in range(1, 12)]
    assert json.loads(table[9][-1]) == rows[8]["body"]  # the body exactly as hashed
    for since, until in ((tomorrow, ""), ("", yesterday)):
        flags = [f for flag, day in (("--from", since), ("--to", until)) if day for f in (flag, day.isoformat())]
        code, out, err = log.as_("ada", "audit", "export", *flags)
        assert (code, out, err.strip()) == (0, "", "exported 0 record(s)")
    decided_at = rows[9]["at"]
    code, out, _ = log.as_("ada", "audit", "export", "--from", decided_at, "--to", decided_at)
    assert [json.loads(line)["kind"] for line in out.splitlines()] == ["decision"]  # a UTC time, to the microsecond


@pytest.mark.parametrize("records_url", ["sqlite"], indirect=True)
def test_export_is_for_admins_and_wants_real_dates(log):
    code, _, err = log.as_("rex", "audit", "export")
    assert code == 4 and "only admins export records" in err
    code, _, err = log.as_("ada", "audit", "export", "--from", "yesterday")
    assert code == 2 and "--from: 'yesterday' is not a day" in err


@pytest.mark.parametrize("records_url", ["sqlite"], indirect=True)
def test_the_public_key_printed_is_pinned_and_a_foreign_key_is_refused(log, monkeypatch):
    import base64

    code, out, _ = log("audit", "public-key")
    key = out.strip()
    assert code == 0 and len(base64.b64decode(key)) == 32
    monkeypatch.setenv("REGCITE_AUDIT_PUBLIC_KEY", key)
    assert log("audit", "verify")[0] == 0
    monkeypatch.setenv("REGCITE_AUDIT_PUBLIC_KEY", base64.b64encode(bytes(32)).decode())
    code, out, _ = log("audit", "verify")
    assert code == 1 and "bad signature" in out.splitlines()[-1] and "11 break(s)" in out


@pytest.mark.parametrize("records_url", ["sqlite"], indirect=True)
def test_verify_without_key_or_checkpoints_fails_since_hashes_alone_prove_nothing(log, monkeypatch, tmp_path):
    monkeypatch.setenv("REGCITE_AUDIT_KEY_FILE", str(tmp_path / "elsewhere" / "audit.key"))
    monkeypatch.setenv("REGCITE_AUDIT_CHECKPOINTS", str(tmp_path / "elsewhere" / "checkpoints.jsonl"))
    code, out, _ = log("audit", "verify")
    assert code == 1 and "0 signed checkpoints" in out and "(key none); 11 record(s) after the last one" in out
    assert "cannot check the signed checkpoints" in out.splitlines()[-1]
    assert not (tmp_path / "elsewhere").exists()  # verifying creates no key
