"""Each metric on small hand-computed cases."""
from __future__ import annotations

import pytest

from evals.metrics import (
    abstention_scores,
    citation_scores,
    covers,
    key_fact_share,
    match_ranking,
    mean_and_spread,
    percentiles,
    retrieval_scores,
    supported_share,
    write_trec_qrels,
    write_trec_run,
)


@pytest.mark.parametrize(
    "gold, ref, expected",
    [
        ("12 CFR 1002.9(a)(1)", "12 CFR 1002.9(a)(1)", True),
        ("12 CFR 1002.9(a)(1)", "12 CFR 1002.9(a)(1)(iii)", True),  # child counts
        ("12 CFR 1002.9(a)(1)(iii)", "12 CFR 1002.9(a)(1)", False),  # parent does not
        ("12 CFR 1002.9", "12 CFR 1002.90(a)", False),  # a different section sharing a prefix
        ("GDPR Art. 1", "GDPR Art. 17", False),
        ("反洗钱法 第二十九条", "反洗钱法 第二十九条（一）", True),  # full-width bracket child
        ("反洗钱法 第二十九条", "反洗钱法  第二十九条", True),  # spacing is not significant
    ],
)
def test_covers_counts_the_gold_clause_and_its_children_only(gold, ref, expected):
    assert covers(gold, ref) is expected


def test_recall_mrr_and_map_on_a_hand_computed_ranking():
    scores = retrieval_scores({"q": ["X", "A", "Y", "B"]}, {"q": ["A", "B"]}, ks=(1, 3, 5))
    assert scores.per_query["q"] == pytest.approx(
        {"recall@1": 0.0, "recall@3": 0.5, "recall@5": 1.0, "mrr": 0.5, "map@10": (1 / 2 + 2 / 4) / 2}
    )


def test_children_of_one_gold_clause_are_one_hit_at_the_first_rank():
    ranking = ["12 CFR 1002.90", "12 CFR 1002.9(a)(1)(iii)", "12 CFR 1002.9(a)(1)(i)"]
    assert match_ranking(ranking, ["12 CFR 1002.9(a)(1)"]) == ["12 CFR 1002.90", "12 CFR 1002.9(a)(1)"]
    scores = retrieval_scores({"q": ranking}, {"q": ["12 CFR 1002.9(a)(1)"]}, ks=(1, 3))
    assert scores.mean == pytest.approx({"recall@1": 0.0, "recall@3": 1.0, "mrr": 0.5, "map@10": 0.5})


def test_queries_without_ranking_score_zero_and_queries_without_gold_are_ignored():
    scores = retrieval_scores({"a": ["A"], "unanswerable": ["Z"]}, {"a": ["A"], "b": ["B"], "unanswerable": []}, ks=(1,))
    assert scores.queries == 2
    assert scores.per_query["b"]["recall@1"] == 0.0
    assert scores.mean["recall@1"] == pytest.approx(0.5)


def test_exact_mode_compares_ids_literally():
    # uuids that share a prefix must not be treated as parent and child
    scores = retrieval_scores({"q": ["ab-1", "ab"]}, {"q": ["ab"]}, ks=(1,), exact=True)
    assert scores.mean["recall@1"] == 0.0 and scores.mean["mrr"] == 0.5


def test_trec_files_give_the_same_scores_through_trec_eval(tmp_path):
    import pytrec_eval

    rankings = {"q1": ["12 CFR 1002.9(a)(1)(iii)", "GDPR Art. 17"], "q2": ["X", "反洗钱法 第二十九条"]}
    qrels = {"q1": ["GDPR Art. 17", "12 CFR 1002.9(a)(1)"], "q2": ["反洗钱法 第二十九条"]}
    write_trec_run(tmp_path / "run.trec", rankings, qrels)
    write_trec_qrels(tmp_path / "qrels.trec", qrels)
    with open(tmp_path / "run.trec") as r, open(tmp_path / "qrels.trec") as q:
        run, qrel = pytrec_eval.parse_run(r), pytrec_eval.parse_qrel(q)
    assert all(" " not in doc for docs in run.values() for doc in docs)
    official = pytrec_eval.RelevanceEvaluator(qrel, {"map_cut.10"}).evaluate(run)
    ours = retrieval_scores(rankings, qrels)
    assert {q: v["map_cut_10"] for q, v in official.items()} == pytest.approx(
        {q: v["map@10"] for q, v in ours.per_query.items()}
    )
    assert ours.per_query["q2"]["map@10"] == pytest.approx(0.5)


def test_citation_precision_and_recall_count_children_and_dedupe():
    assert citation_scores(["A(1)", "X", "A(1)"], ["A", "B"]) == (pytest.approx(0.5), pytest.approx(0.5))
    assert citation_scores([], ["A"]) == (None, 0.0)


def test_supported_share():
    assert supported_share(["supported", "partial", "unsupported", "supported"]) == 0.5
    assert supported_share([]) is None


def test_abstention_accuracy_and_its_two_error_rates():
    s = abstention_scores([(True, False), (True, True), (False, True), (False, False), (False, True)])
    assert s.accuracy == pytest.approx(3 / 5)
    assert s.unanswerable_abstained == pytest.approx(2 / 3)
    assert s.answerable_abstained == pytest.approx(1 / 2)


def test_key_facts_fold_case_width_and_thousands_separators():
    answer = "The creditor must notify within 30 Days; penalties up to $1000 apply. 第二十九条"
    assert key_fact_share(answer, ["30 days", "$1,000", "60 days", "第二十九条"]) == pytest.approx(3 / 4)
    assert key_fact_share(answer, []) is None


def test_latency_percentiles_interpolate_linearly():
    p = percentiles([4, 1, 3, 2], qs=(50, 90))
    assert p == pytest.approx({"p50": 2.5, "p90": 3.7, "mean": 2.5, "max": 4})
    assert percentiles([]) == {}


def test_mean_and_spread_across_repeats():
    s = mean_and_spread([0.5, 0.7, 0.9])
    assert s["mean"] == pytest.approx(0.7) and s["std"] == pytest.approx(0.2) and s["n"] == 3
    assert mean_and_spread([0.4])["std"] == 0.0
