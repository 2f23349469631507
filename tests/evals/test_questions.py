"""Loading, importing and validating question sets, and checking gold references against an index."""
from __future__ import annotations

import json
from datetime import date

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
    assert a.filters.kinds == (Kind.REGULATION,) and a.as_of == date(2024, 1, 1) and a.filters.as_of is None
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


def test_a_question_is_dated_by_as_of_or_its_filters_and_the_old_key_still_loads(tmp_path):
    path = _write(tmp_path / "s.jsonl", [
        {"id": "own", "question": "Q?", "gold": ["X"], "as_of": "2021-03-04"},
        {"id": "filter", "question": "Q?", "gold": ["X"], "filters": {"as_of": "2022-01-01", "doc_ids": ["D"]}},
        {"id": "old", "question": "Q?", "gold": ["X"], "filters": {"in_force_on": "2019-05-06"}},
        {"id": "undated", "question": "Q?", "gold": ["X"]},
    ])
    own, filt, old, undated = load_set(path)
    assert (own.as_of, filt.as_of, old.as_of, undated.as_of) == (date(2021, 3, 4), date(2022, 1, 1),
                                                                 date(2019, 5, 6), None)
    # the date is kept once, on the question; its filters take it (or the run's) when asked
    assert filt.filters.as_of is None and filt.filters.doc_ids == ("D",)
    assert filt.filters_on(date(2030, 1, 1)).as_of == date(2022, 1, 1)
    assert undated.filters_on(date(2030, 1, 1)).as_of == date(2030, 1, 1)
    write_jsonl([own, filt, old, undated], tmp_path / "canonical.jsonl")
    rows = [json.loads(line) for line in (tmp_path / "canonical.jsonl").read_text().splitlines()]
    assert [r.get("as_of") for r in rows] == ["2021-03-04", "2022-01-01", "2019-05-06", None]
    assert rows[1]["filters"] == {"doc_ids": ["D"]} and "filters" not in rows[2]
    assert load_set(tmp_path / "canonical.jsonl") == [own, filt, old, undated]


def test_a_date_changes_the_fingerprint_and_bad_or_conflicting_dates_are_reported(tmp_path):
    base = {"id": "a", "question": "Q?", "gold": ["X"]}
    undated = load_set(_write(tmp_path / "u.jsonl", [base]))
    dated = load_set(_write(tmp_path / "d.jsonl", [{**base, "as_of": "2021-01-01"}]))
    assert set_fingerprint(undated) != set_fingerprint(dated)
    with pytest.raises(QuestionSetError) as e:
        load_set(_write(tmp_path / "bad.jsonl", [
            {**base, "as_of": "1 Jan 2021"},
            {**base, "id": "b", "as_of": "2021-01-01", "filters": {"in_force_on": "2022-01-01"}},
        ]))
    assert "line 1: '1 Jan 2021' is not a date" in str(e.value)
    assert "line 2: conflicting dates as_of 2021-01-01, filters.in_force_on 2022-01-01" in str(e.value)


def test_a_set_header_dates_the_questions_without_a_date_of_their_own(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_text('// a comment first is fine\n{"set": {"as_of": "2021-06-01", "notes": "gold read in 2021"}}\n'
                    '{"id": "a", "question": "Q?", "gold": ["X"]}\n'
                    '{"id": "b", "question": "Q?", "gold": ["X"], "as_of": "2025-01-01"}\n', encoding="utf-8")
    a, b = load_set(path)
    assert a.as_of == date(2021, 6, 1) and b.as_of == date(2025, 1, 1)
    # written out, the header's date goes onto each question: the same set, the same fingerprint
    write_jsonl([a, b], tmp_path / "out.jsonl")
    assert set_fingerprint(load_set(tmp_path / "out.jsonl")) == set_fingerprint([a, b])
    with pytest.raises(QuestionSetError) as e:
        load_set(_write(tmp_path / "late.jsonl", [{"id": "a", "question": "Q?", "gold": ["X"]},
                                                  {"set": {"as_of": "2021-06-01"}}, {"set": {"colour": 1}}]))
    assert "line 2: a set header" in str(e.value) and "must be the first object" in str(e.value)
    assert "line 3: a set header" in str(e.value)
    with pytest.raises(QuestionSetError, match="line 1: a set header holds an object with as_of"):
        load_set(_write(tmp_path / "odd.jsonl", [{"set": {"date": "2021"}}, {"id": "a", "question": "Q?",
                                                                           "gold": ["X"]}]))


def test_csv_takes_an_as_of_column(tmp_path):
    csv_path = tmp_path / "s.csv"
    csv_path.write_text("id,question,gold,as_of\nq1,How long?,12 CFR 1002.9,2021-01-01\nq2,Which?,12 CFR 1002.2,\n",
                        encoding="utf-8")
    q1, q2 = load_set(csv_path)
    assert q1.as_of == date(2021, 1, 1) and q2.as_of is None
