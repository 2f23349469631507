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
