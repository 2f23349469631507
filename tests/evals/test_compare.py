"""Comparing two runs: per-metric deltas and the questions that changed outcome."""
from __future__ import annotations

import json

import pytest

from eval_fakes import answer, scripted

from evals.compare import compare_runs, format_comparison
from evals.questions import load_set
from evals.run import run_set


def test_compare_reports_deltas_and_changed_questions(tmp_path, settings):
    rows = [{"id": "a", "question": "A?", "gold": ["GDPR Art. 17(1)"]},
            {"id": "b", "question": "B?", "gold": ["GDPR Art. 6"]},
            {"id": "u", "question": "U?", "answerable": False}]
    qset = tmp_path / "s.jsonl"
    qset.write_text("".join(json.dumps(r) + "\n" for r in rows))
    questions = load_set(qset)
    before = {"a": answer("q", ["GDPR Art. 17(1)(b)"], ["GDPR Art. 17(1)(b)"], "x"),
              "b": answer("q", ["GDPR Art. 9"], [], "x"),
              "u": answer("q", [], [], "", abstained=True)}
    after = {"a": answer("q", ["GDPR Art. 9"], [], "x"),
             "b": answer("q", ["GDPR Art. 9", "GDPR Art. 6"], ["GDPR Art. 6"], "x"),
             "u": answer("q", ["GDPR Art. 9"], ["GDPR Art. 9"], "x")}
    run_set(questions, settings, tmp_path / "A", answer_path=scripted(before), progress=False)
    run_set(questions, settings, tmp_path / "B", answer_path=scripted(after), progress=False)

    c = compare_runs(tmp_path / "A", tmp_path / "B")
    deltas = {m.metric: m for m in c.metrics}
    assert deltas["recall@1"].a == 0.5 and deltas["recall@1"].b == 0.0 and deltas["recall@1"].delta == -0.5
    assert deltas["mrr"].delta == 0.5 * 0.5 - 0.5  # after: b at rank 2 only
    assert deltas["abstention_accuracy"].delta == pytest.approx(-1 / 3)
    changed = {(ch.qid, ch.aspect, ch.after) for ch in c.changes}
    assert changed == {("a", "clause_hit", False), ("a", "citation_recall", False), ("b", "clause_hit", True),
                       ("b", "citation_recall", True), ("u", "abstention_correct", False)}
    text = format_comparison(c)
    assert "u: no longer abstained exactly when unanswerable (worse)" in text
    assert "recall@1" in text and "-0.500" in text


def test_compare_names_each_run_date_and_warns_when_they_differ(tmp_path, settings, caplog):
    from datetime import date

    qset = tmp_path / "s.jsonl"
    qset.write_text(json.dumps({"id": "a", "question": "A?", "gold": ["GDPR Art. 6"]}) + "\n")
    questions = load_set(qset)
    script = {"a": answer("q", ["GDPR Art. 6"], ["GDPR Art. 6"], "x")}
    run_set(questions, settings, tmp_path / "A", answer_path=scripted(script), progress=False, as_of=date(2021, 1, 1))
    run_set(questions, settings, tmp_path / "B", answer_path=scripted(script), progress=False, as_of=date(2025, 1, 1))
    with caplog.at_level("WARNING"):
        c = compare_runs(tmp_path / "A", tmp_path / "B")
    assert (c.as_of_a, c.as_of_b) == ("2021-01-01", "2025-01-01")
    assert "answered as of different dates (2021-01-01, 2025-01-01)" in caplog.text
    text = format_comparison(c)
    assert f"A: {tmp_path / 'A'} (as of 2021-01-01)" in text and f"B: {tmp_path / 'B'} (as of 2025-01-01)" in text
