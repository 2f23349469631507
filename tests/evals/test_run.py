"""The runner: run folder contents, scoring of a scripted run, repeats, and resuming after a real kill."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from eval_fakes import answer, scripted

from evals.questions import load_set
from evals.run import RESULTS, read_results, run_set
from rag.types import Verdict

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def qset(tmp_path):
    rows = [
        {"id": "hit", "question": "How long after adverse action?", "gold": ["12 CFR 1002.9(a)(1)"], "key_facts": ["30 days"]},
        {"id": "miss", "question": "Which form?", "gold": ["12 CFR 1002.13"], "key_facts": ["Form X"]},
        {"id": "none", "question": "证券公司的净资本不得低于多少？", "answerable": False},
        {"id": "wrong", "question": "Capital?", "answerable": False},
    ]
    path = tmp_path / "set.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _script():
    return {
        # child of the gold retrieved at rank 2 and cited; one supported and one unsupported sentence
        "hit": answer("q", ["12 CFR 1002.2", "12 CFR 1002.9(a)(1)(iii)"], ["12 CFR 1002.9(a)(1)(iii)"], "within 30 days"),
        "miss": answer("q", ["12 CFR 1002.2"], ["12 CFR 1002.2"], "nothing", verdict=Verdict.UNSUPPORTED),
        "none": answer("q", [], [], "The indexed documents do not say.", abstained=True),
        "wrong": answer("q", ["12 CFR 1002.2"], ["12 CFR 1002.2"], "It is 5%."),
    }


def test_run_folder_has_every_artifact_and_hand_computed_scores(qset, tmp_path, settings):
    out = tmp_path / "run"
    summary = run_set(load_set(qset), settings, out, answer_path=scripted(_script()), set_path=str(qset), progress=False)
    for name in ("results.jsonl", "summary.json", "report.md", "report.html", "run.trec", "qrels.trec", "run.json"):
        assert (out / name).stat().st_size > 0, name
    m = {k: v["mean"] for k, v in summary["metrics"].items()}
    assert m["recall@1"] == 0.0 and m["recall@3"] == pytest.approx(0.5) and m["mrr"] == pytest.approx(0.25)
    assert m["clause_hit_rate"] == pytest.approx(0.5)
    assert m["citation_precision"] == pytest.approx(0.5) and m["citation_recall"] == pytest.approx(0.5)
    assert m["supported_sentence_share"] == pytest.approx(2 / 3)  # hit + wrong supported, miss not
    assert m["abstention_accuracy"] == pytest.approx(3 / 4) and m["unanswerable_abstained"] == pytest.approx(0.5)
    assert m["key_fact_accuracy"] == pytest.approx(0.5)
    assert summary["complete"] and summary["generation"] == 7 and summary["backend"] == "extractive"
    assert summary["per_question"]["hit"]["clause_hit"] == 1.0
    assert "12_CFR_1002.9(a)(1)" in (out / "run.trec").read_text()
    page = (out / "report.html").read_text()
    assert "data:image/png;base64," in page and "abstention_accuracy" in page and "<script" not in page
    row = read_results(out / RESULTS)[0]
    assert row["hits"][1]["pages"] == "p. 14" and row["settings_sha"] and row["timings_ms"]["retrieve"] == 5.0


def test_repeats_use_successive_seeds_and_report_spread(qset, tmp_path, settings):
    summary = run_set(load_set(qset), settings, tmp_path / "r", repeats=3, seed=41,
                      answer_path=scripted(_script()), progress=False)
    rows = read_results(tmp_path / "r" / RESULTS)
    assert sorted({r["seed"] for r in rows}) == [41, 42, 43] and len(rows) == 12
    assert summary["metrics"]["mrr"]["n"] == 3 and summary["metrics"]["mrr"]["std"] == 0.0


def test_a_torn_last_line_is_cut_and_its_question_answered_again(qset, tmp_path, settings):
    out = tmp_path / "run"
    questions = load_set(qset)
    run_set(questions[:2], settings, tmp_path / "first", answer_path=scripted(_script()), progress=False)
    out.mkdir()
    first = (tmp_path / "first" / RESULTS).read_text().splitlines()[0]
    (out / RESULTS).write_text(first + "\n" + '{"qid": "miss", "rep', encoding="utf-8")
    calls: list[str] = []
    run_set(questions, settings, out, answer_path=scripted(_script(), calls=calls), progress=False)
    assert calls == ["miss", "none", "wrong"]
    assert [r["qid"] for r in read_results(out / RESULTS)] == ["hit", "miss", "none", "wrong"]


def test_resuming_with_another_question_set_is_refused(qset, tmp_path, settings):
    questions = load_set(qset)
    run_set(questions[:2], settings, tmp_path / "run", answer_path=scripted(_script()), progress=False)
    from evals.questions import QuestionSetError

    with pytest.raises(QuestionSetError, match="another question set"):
        run_set(questions, settings, tmp_path / "run", answer_path=scripted(_script()), progress=False)


def test_run_killed_mid_way_resumes_without_answering_twice(tmp_path, settings):
    rows = [{"id": f"q{i}", "question": f"Question {i}?", "gold": [f"12 CFR 1002.{i}"]} for i in range(8)]
    qset = tmp_path / "set.jsonl"
    qset.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(Path(__file__).parent / "slow_run.py"), str(qset), str(out), "0.4"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while len(read_results(out / RESULTS)) < 3:
            assert proc.poll() is None, proc.stdout.read().decode()
            assert time.monotonic() < deadline, "the run never wrote 3 results"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    done_before = [r["qid"] for r in read_results(out / RESULTS)]
    assert 3 <= len(done_before) < 8 and not (out / "summary.json").exists()

    calls: list[str] = []
    script = {f"q{i}": answer("q", [f"12 CFR 1002.{i}"], [f"12 CFR 1002.{i}"], "x") for i in range(8)}
    summary = run_set(load_set(qset), settings, out, answer_path=scripted(script, calls=calls), progress=False)
    assert calls == [f"q{i}" for i in range(len(done_before), 8)]
    assert sorted(r["qid"] for r in read_results(out / RESULTS)) == [f"q{i}" for i in range(8)]
    assert summary["complete"] and summary["metrics"]["recall@1"]["mean"] == 1.0


def test_eval_run_refuses_a_model_trained_on_the_set(qset, tmp_path, capsys, monkeypatch):
    from evals.overlap import write_trained_on
    from regcite.cli import main

    model = tmp_path / "tuned"
    model.mkdir()
    write_trained_on(model, [("elsewhere", "which FORM")])
    monkeypatch.setenv("REGCITE_EMBED_MODEL", str(model))
    out = tmp_path / "run"
    assert main(["--data-dir", str(tmp_path / "d"), "eval", "run", str(qset), "--out", str(out), "--no-progress"]) == 2
    assert "trained on 1 question(s)" in capsys.readouterr().err and not out.exists()
