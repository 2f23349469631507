"""Dated evaluation over a real two-version index: gold changed by a later version, gold not in force on its
question's date, and runs that answer as of a date and refuse to resume with another."""
from __future__ import annotations

import json
from datetime import date

import pytest
from versioned import V2_DATE, HashEmbedder, QUESTIONS, ingest_two_versions, write_set

from evals.gold_dates import gold_not_in_force, stale_gold
from evals.questions import QuestionSetError, load_set
from evals.run import MANIFEST, RESULTS, build_answer_path, read_results, run_set
from rag.store import open_index
from rag.types import ChangeKind
from regcite.cli import main


@pytest.fixture
def index_settings(settings, tmp_path):
    ingest_two_versions(settings, tmp_path / "corpus")
    return settings


def _flags(stale) -> set[tuple[str, str, str, ChangeKind]]:
    return {(s.qid, s.gold, s.reference, s.kind) for s in stale}


def test_gold_changed_after_its_date_is_flagged_and_editorial_changes_are_not(index_settings, tmp_path):
    index = open_index(index_settings)
    questions = load_set(write_set(tmp_path / "s.jsonl"))
    stale = stale_gold(questions, index.documents, index.changes, index.clauses, date(2021, 6, 1))
    assert _flags(stale) == {
        ("days", "12 CFR 900.2(a)", "12 CFR 900.2(a)", ChangeKind.MODIFIED),
        # a gold section covers its paragraphs: both of its changes are the gold answer's to re-read
        ("notices", "12 CFR 900.2", "12 CFR 900.2(a)", ChangeKind.MODIFIED),
        ("notices", "12 CFR 900.2", "12 CFR 900.2(b)", ChangeKind.REMOVED),
        ("copy", "12 CFR 900.2(b)", "12 CFR 900.2(b)", ChangeKind.REMOVED),
    }  # "scope" (900.1(b)) only gained a comma
    new = {v.version_id for v in index.documents.values() if v.effective_from == V2_DATE}
    assert {s.by_version_id for s in stale} == new and {s.effective_from for s in stale} == {V2_DATE}
    assert {s.as_of for s in stale if s.qid == "copy"} == {date(2021, 1, 1)}  # its own date, not the default
    # As of today the newest version answers: nothing later changed it, but "copy" keeps its own 2021 date.
    assert _flags(stale_gold(questions, index.documents, index.changes, index.clauses, date.today())) == {
        ("copy", "12 CFR 900.2(b)", "12 CFR 900.2(b)", ChangeKind.REMOVED)}


def test_gold_removed_before_its_date_is_not_in_force(index_settings, tmp_path):
    index = open_index(index_settings)
    undated = [{k: v for k, v in q.items() if k != "as_of"} for q in QUESTIONS]
    questions = load_set(write_set(tmp_path / "s.jsonl", undated))
    assert [(g.qid, g.gold) for g in gold_not_in_force(questions, index.documents, index.clauses,
                                                       date(2025, 1, 1))] == [("copy", "12 CFR 900.2(b)")]
    assert gold_not_in_force(questions, index.documents, index.clauses, date(2021, 1, 1)) == []


def test_eval_check_prints_stale_gold_as_warnings(index_settings, tmp_path, capsys):
    qset = write_set(tmp_path / "s.jsonl")
    data = ["--data-dir", str(index_settings.data_dir)]
    assert main([*data, "eval", "check", str(qset), "--as-of", "2021-06-01"]) == 0
    out = capsys.readouterr().out
    assert "1 dated by the set or themselves, the others as of 2021-06-01" in out
    assert "every gold reference is in the index and in force on its question's date" in out
    assert "4 gold clause(s) changed by a later version (re-read these gold answers):" in out
    new = next(v for v in open_index(index_settings).documents.values() if v.effective_from == V2_DATE)
    assert (f"  days: 12 CFR 900.2(a) as of 2021-06-01: modified by version {new.version_id}, part900-2024.md, "
            f"effective 2024-01-01") in out
    assert f"  notices: 12 CFR 900.2 (12 CFR 900.2(b)) as of 2021-06-01: removed by version {new.version_id}" in out
    assert "  copy: 12 CFR 900.2(b) as of 2021-01-01: removed" in out and "scope:" not in out

    # The set's own date does what --as-of did; today (the default) leaves only the question dated 2021.
    dated = write_set(tmp_path / "dated.jsonl", header={"as_of": "2021-06-01"})
    assert main([*data, "eval", "check", str(dated)]) == 0
    assert "4 gold clause(s) changed" in capsys.readouterr().out
    assert main([*data, "eval", "check", str(qset)]) == 0
    out = capsys.readouterr().out
    assert "1 gold clause(s) changed" in out and "  copy: 12 CFR 900.2(b) as of 2021-01-01: removed" in out


def test_eval_check_fails_on_gold_not_in_force_on_its_date(index_settings, tmp_path, capsys):
    qset = write_set(tmp_path / "s.jsonl", [{k: v for k, v in q.items() if k != "as_of"} for q in QUESTIONS])
    assert main(["--data-dir", str(index_settings.data_dir), "eval", "check", str(qset), "--as-of",
                 "2025-01-01"]) == 1
    out = capsys.readouterr().out
    assert "1 gold reference(s) in the index but in no version in force on their question's date:" in out
    assert "  copy: 12 CFR 900.2(b) (as of 2025-01-01)" in out and "missing from the index" not in out


def test_a_run_answers_each_question_from_the_version_of_its_date(index_settings, tmp_path):
    rows = [{"id": "old", "question": "Within how many days must a lender notify an applicant?",
             "gold": ["12 CFR 900.2(a)"], "key_facts": ["30 days"]},
            {"id": "new", "question": "Within how many days must a lender notify an applicant?",
             "gold": ["12 CFR 900.2(a)"], "key_facts": ["60 days"], "as_of": "2025-01-01"}]
    questions = load_set(write_set(tmp_path / "s.jsonl", rows))
    out = tmp_path / "run"
    path = build_answer_path(index_settings, embedder=HashEmbedder(64))
    summary = run_set(questions, index_settings, out, answer_path=path, progress=False, as_of=date(2021, 6, 1))
    versions = {v.version_id: v.effective_from for v in open_index(index_settings).documents.values()}
    by_qid = {r["qid"]: r for r in read_results(out / RESULTS)}
    assert by_qid["old"]["as_of"] == "2021-06-01" and by_qid["new"]["as_of"] == "2025-01-01"
    assert {versions[h["version_id"]] for h in by_qid["old"]["hits"]} == {date(2020, 1, 1)}
    assert {versions[h["version_id"]] for h in by_qid["new"]["hits"]} == {V2_DATE}
    assert summary["per_question"]["old"]["key_facts"] == 1.0 and summary["per_question"]["new"]["key_facts"] == 1.0
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["as_of"] == "2021-06-01" and manifest["dated_questions"] == 1
    assert summary["as_of"] == "2021-06-01" and "2021-06-01 (1 question(s) with a date of their own)" in (
        out / "report.md").read_text()


def test_a_run_resumes_on_its_own_date_and_refuses_another(tmp_path, settings):
    from eval_fakes import answer, scripted

    questions = load_set(write_set(tmp_path / "s.jsonl", QUESTIONS[:2]))
    script = {q.qid: answer("q", list(q.gold), list(q.gold), "x") for q in questions}
    out = tmp_path / "run"
    run_set(questions, settings, out, answer_path=scripted(script), progress=False, as_of=date(2021, 6, 1))
    results = out / RESULTS
    results.write_text(results.read_text().splitlines()[0] + "\n")  # as if killed after the first question
    # Resumed with no date: the folder's date, not today's, answers what is left.
    seen: list[date | None] = []
    path = scripted(script)
    recording = type(path)(answer=lambda q: seen.append(q.as_of) or path.answer(q), generation=path.generation)
    run_set(questions, settings, out, answer_path=recording, progress=False)
    assert seen == [date(2021, 6, 1)] and json.loads((out / MANIFEST).read_text())["as_of"] == "2021-06-01"
    assert [r["as_of"] for r in read_results(results)] == ["2021-06-01", "2021-06-01"]
    with pytest.raises(QuestionSetError, match=r"another as-of date \(2021-06-01 != 2025-01-01\)"):
        run_set(questions, settings, out, answer_path=scripted(script), progress=False, as_of=date(2025, 1, 1))
    # a folder written before runs were dated answered from every version: another run
    manifest = json.loads((out / MANIFEST).read_text())
    del manifest["as_of"]
    (out / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(QuestionSetError, match="another as-of date"):
        run_set(questions, settings, out, answer_path=scripted(script), progress=False)


def test_eval_run_as_of_reaches_the_pipeline(index_settings, tmp_path, capsys, monkeypatch):
    import rag.pipeline

    monkeypatch.setattr(rag.pipeline, "load_embedder", lambda settings: HashEmbedder(64))
    qset = write_set(tmp_path / "s.jsonl", QUESTIONS[:1])
    out = tmp_path / "run"
    args = ["--data-dir", str(index_settings.data_dir), "eval", "run", str(qset), "--out", str(out), "--no-progress"]
    assert main([*args, "--as-of", "2021-06-01"]) == 0
    assert f"run folder: {out} (as of 2021-06-01)" in capsys.readouterr().out
    row = read_results(out / RESULTS)[0]
    assert row["as_of"] == "2021-06-01" and {h["effective_from"] for h in row["hits"]} == {"2020-01-01"}
    assert main([*args, "--as-of", "2022-02-02"]) == 2
    assert "another as-of date" in capsys.readouterr().err
