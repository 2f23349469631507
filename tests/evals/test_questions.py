"""Loading, importing and validating question sets, and checking gold references against an index."""
from __future__ import annotations

import json

import pytest

from evals.questions import QuestionSetError, load_set, missing_gold, set_fingerprint, write_jsonl
from rag.types import Kind


def _write(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_jsonl_set_loads_with_defaults_and_filters(tmp_path):
    path = _write(tmp_path / "s.jsonl", [
        {"id": "a", "question": "Q?", "gold": ["12 CFR 1002.9(a)(1)(iii)"], "key_facts": ["30 days"],
         "filters": {"kinds": ["regulation"], "in_force_on": "2024-01-01"}},
        {"id": "b", "question": "证券公司的净资本不得低于多少？", "answerable": False, "language": "zh"},
    ])
    a, b = load_set(path)
    assert a.answerable and a.gold == ("12 CFR 1002.9(a)(1)(iii)",) and a.key_facts == ("30 days",)
    assert a.filters.kinds == (Kind.REGULATION,) and a.filters.in_force_on.year == 2024
    assert not b.answerable and b.gold == () and b.language == "zh"


def test_every_problem_is_reported_with_its_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "a", "question": "Q?", "gold": ["X"]}\nnot json\n', encoding="utf-8")
    with pytest.raises(QuestionSetError) as e:
        load_set(path)
    message = str(e.value)
    assert "line 2: not JSON" in message
    with pytest.raises(QuestionSetError) as e:
        load_set(_write(tmp_path / "b2.jsonl", [{"id": "a", "question": "Q?", "answerable": True},
                                               {"id": "b", "question": "Q?", "answerable": False, "gold": ["X"]},
                                               {"id": "c", "question": "Q?", "gold": ["X"], "colour": 1},
                                               {"id": "a", "question": "Q?", "gold": ["X"]}]))
    message = str(e.value)
    for expected in ("line 1: an answerable question needs gold", "line 2: an unanswerable question cannot",
                     "line 3: unknown field(s) ['colour']", "line 4: duplicate id 'a'"):
        assert expected in message


def test_csv_import_splits_lists_and_round_trips_to_jsonl(tmp_path):
    csv_path = tmp_path / "s.csv"
    csv_path.write_text(
        "id,question,gold,answerable,key_facts\n"
        'q1,"How long?","12 CFR 1002.9(a)(1)(i); 12 CFR 1002.9(a)(1)(iii)",,30 days | 90 days\n'
        "q2,证券公司的净资本不得低于多少？,,no,\n", encoding="utf-8")
    questions = load_set(csv_path)
    assert questions[0].gold == ("12 CFR 1002.9(a)(1)(i)", "12 CFR 1002.9(a)(1)(iii)")
    assert questions[0].key_facts == ("30 days", "90 days") and questions[0].answerable
    assert not questions[1].answerable
    write_jsonl(questions, tmp_path / "s.jsonl")
    again = load_set(tmp_path / "s.jsonl")
    assert again == questions and set_fingerprint(again) == set_fingerprint(questions)


def test_missing_gold_lists_unknown_references_with_near_matches(tmp_path):
    questions = load_set(_write(tmp_path / "s.jsonl", [
        {"id": "a", "question": "Q?", "gold": ["12 CFR 1002.9(a)(1)(iii)", "GDPR Art. 17"]},
        {"id": "b", "question": "Q?", "gold": ["12 CFR 1002.9(a)(9)", "uuid-1"]},
        {"id": "c", "question": "Q?", "gold": ["反洗钱法 第二十九条"]},
    ]))
    indexed = ["12 CFR 1002.9(a)(1)(iii)", "GDPR Art. 17(1)(b)", "12 CFR 1002.9(a)(2)", "反洗钱法 第二十九条（一）"]
    missing = missing_gold(questions, indexed, clause_ids={"uuid-1"})
    # an ancestor of an indexed clause exists; an id matches literally
    assert [(m.qid, m.gold) for m in missing] == [("b", "12 CFR 1002.9(a)(9)")]
    assert "12 CFR 1002.9(a)(2)" in missing[0].nearest
