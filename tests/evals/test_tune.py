"""Embedder fine-tuning: the overlap guard, pair mining, k-fold splits, and real tiny training runs."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from evals.crossval import kfold
from evals.obliqa import DevQuestion
from evals.card import CARD_JSON, model_folder
from evals.mining import TrainingSet, TrainQuestion, mine_pairs, questions_from_obliqa
from evals.overlap import (TRAINED_ON, ScoringSet, TrainingOverlap, check_model_not_trained_on, check_no_overlap,
                           normalize_question)
from evals.training import TuneConfig
from evals.tune import TuneJob, tune
from rag.types import CharSpan, Clause, DocumentVersion, Kind, PageSpan

# Invented form codes: the untuned model cannot know which rule each names, so only training can rank them right.
PAIRS = [
    ("t1", "Which duty does Form QX-17 impose?", "A Relevant Person must keep records of every transaction for six years."),
    ("t2", "Which duty does Form BZ-42 impose?", "Captive insurers must hold minimum capital of ten million dirhams."),
    ("t3", "Which duty does Form KM-08 impose?", "Customer due diligence must be completed before opening an account."),
    ("t4", "Which duty does Form RV-33 impose?", "Suspicious transactions must be reported to the FIU without delay."),
    ("t5", "Which duty does Form PL-91 impose?", "Client money must be held in a segregated bank account."),
    ("t6", "Which duty does Form DW-56 impose?", "The board must approve the annual risk appetite statement."),
]
DISTRACTORS = [
    "A fund manager must publish a prospectus before marketing units.",
    "Insurance intermediaries must hold professional indemnity cover.",
    "An authorised person must notify the regulator of a change in control.",
]
UNRELATED = (ScoringSet("unrelated", (("s1", "What is a PFP?"),)),)


def test_overlap_by_id_is_refused():
    with pytest.raises(TrainingOverlap, match=r"1 training question.*q7 \(same id\)"):
        check_no_overlap([("q7", "What is a PFP?"), ("q8", "Who approves?")], [("q7", "Something else")], "dev-fold-1")


def test_overlap_by_normalised_text_is_refused_across_ids():
    with pytest.raises(TrainingOverlap, match="same text as s1"):
        check_no_overlap([("t1", "What  is a ＰＦＰ Client?")], [("s1", "what is a PFP client")])


def test_disjoint_sets_pass_the_guard():
    check_no_overlap([("t1", "What is a PFP client?")], [("s1", "What is a PFP operator?")])


def test_normalize_question_folds_width_case_and_punctuation():
    assert normalize_question("  Was ist  ein ＰＦＰ-Client?? ") == "was ist ein pfp client"


def test_mined_negatives_skip_gold_ids_and_gold_texts():
    texts = {"g": "gold text", "dup": "gold  text", "n1": "wrong one", "n2": "wrong two"}
    q = TrainQuestion("q", "question?", ("g",), ("gold text",))
    pairs = mine_pairs([q], lambda qs: [["g", "dup", "n1", "n2"] for _ in qs], texts.__getitem__, negatives=2)
    assert [(p.positive, p.negative) for p in pairs] == [("gold text", "wrong one"), ("gold text", "wrong two")]


def test_mining_keeps_a_pair_without_negative_when_the_ranker_finds_only_gold():
    q = TrainQuestion("q", "question?", ("g",), ("gold text",))
    pairs = mine_pairs([q], lambda qs: [["g"] for _ in qs], {"g": "gold text"}.__getitem__)
    assert [(p.anchor, p.positive, p.negative) for p in pairs] == [("question?", "gold text", "")]


def test_obliqa_questions_keep_only_gold_with_text():
    dev = [DevQuestion("a", "Q a?", ("u1", "u2"), 1), DevQuestion("b", "Q b?", ("missing",), 1)]
    got = questions_from_obliqa(dev, {"u1": "text one", "u2": " "})
    assert got == [TrainQuestion("a", "Q a?", ("u1",), ("text one",))]


def test_kfold_partitions_questions_and_keeps_same_text_in_one_fold():
    qs = [DevQuestion(f"q{i}", f"question {i % 17}", ("g",), 1) for i in range(40)]  # texts repeat
    folds = kfold(qs, 5, seed=3)
    assert len(folds) == 5
    tests = [t for _, t in folds]
    assert sorted(q.question_id for t in tests for q in t) == sorted(q.question_id for q in qs)
    for train, test in folds:
        check_no_overlap([(q.question_id, q.question) for q in train], [(q.question_id, q.question) for q in test])
    assert kfold(qs, 5, seed=3) == folds and kfold(qs, 5, seed=4) != folds


def test_model_folder_name_is_versioned_by_base_date_and_fingerprint(tmp_path):
    from datetime import datetime, timezone

    path = model_folder(tmp_path, "/x/all-MiniLM-L6-v2", "ab12cd34", datetime(2026, 11, 23, tzinfo=timezone.utc))
    assert path == tmp_path / "all-MiniLM-L6-v2-tuned-20261123-ab12cd34"


def test_tune_refuses_before_training_when_questions_overlap_the_scoring_set(tmp_path):
    questions = tuple(TrainQuestion(qid, q, (qid,), (p,)) for qid, q, p in PAIRS)
    job = TuneJob((TrainingSet("train", questions),), "all-MiniLM-L6-v2", models_dir=tmp_path,
                  scoring=(ScoringSet("held-out", (("other", PAIRS[2][1].upper()),)),))
    with pytest.raises(TrainingOverlap, match="held-out"):
        tune(job, progress=False)
    assert not any(tmp_path.iterdir())  # nothing was trained or written


# ---- real model, real FAISS index ------------------------------------------------------------------------------

def _index_of_passages(settings):
    """The gold passages and distractors in a real committed index, embedded by the packaged model."""
    from rag.embed import load_embedder
    from rag.store import open_index
    from rag.writer import open_writer

    texts = [p for _, _, p in PAIRS] + DISTRACTORS
    ids = [qid for qid, _, _ in PAIRS] + [f"d{i}" for i in range(len(DISTRACTORS))]
    version = DocumentVersion("v" * 16, "Test rules", "Test rules", Kind.REGULATION, "AE", "en", "rules.json",
                              "0" * 64, (0,))
    clauses, cursor = [], 0
    for i, (cid, text) in enumerate(zip(ids, texts)):
        clauses.append(Clause(cid, version.version_id, i, (cid,), f"Rule {cid}", (), text,
                              CharSpan(cursor, cursor + len(text)), PageSpan(1, 1)))
        cursor += len(text) + 1
    embedder = load_embedder(settings)
    with open_writer(settings, embedder.name, embedder.dim) as w:
        w.add_version(version, "\n".join(texts), clauses, embedder.embed_documents(texts))
        w.commit()
    return open_index(settings), embedder


def _gold_reciprocal_ranks(model_source: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(reciprocal rank of each question's own passage among the 9 texts, document vectors, query vectors)."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(model_source, device="cpu", local_files_only=True)
    docs = model.encode_document([p for _, _, p in PAIRS] + DISTRACTORS, normalize_embeddings=True)
    queries = model.encode_query([q for _, q, _ in PAIRS], normalize_embeddings=True)
    scores = queries @ docs.T
    ranks = np.array([1 + int((scores[i] > scores[i, i]).sum()) for i in range(len(PAIRS))])
    return 1.0 / ranks, docs, queries


@pytest.mark.slow
def test_query_side_training_moves_questions_keeps_documents_and_improves_ranking(settings, tmp_path):
    from evals.training import base_source
    from rag.embed import load_embedder
    from rag.store import open_index

    index, embedder = _index_of_passages(settings)
    questions = tuple(TrainQuestion(qid, q, (qid,), (p,)) for qid, q, p in PAIRS)
    config = TuneConfig(epochs=6, batch_size=2, learning_rate=1e-4, warmup_ratio=0.0, seed=7)
    result = tune(TuneJob((TrainingSet("tiny", questions),), "all-MiniLM-L6-v2", config, UNRELATED,
                          models_dir=tmp_path / "models", device="cpu"), index, progress=False)

    before, docs_before, queries_before = _gold_reciprocal_ranks(base_source("all-MiniLM-L6-v2"))
    after, docs_after, queries_after = _gold_reciprocal_ranks(str(result.model_dir))
    np.testing.assert_allclose(docs_after, docs_before, atol=1e-6)  # documents: the base model's vectors
    assert not np.allclose(queries_after, queries_before, atol=1e-3)  # questions: the trained encoder
    assert after.mean() > before.mean() + 0.25, (before, after)
    assert (after == 1.0).sum() >= (before == 1.0).sum() + 2, (before, after)

    card = json.loads((result.model_dir / CARD_JSON).read_text())
    assert card["hyperparameters"]["side"] == "query" and card["document_model"] == "all-MiniLM-L6-v2"
    assert card["metrics"]["corpus_vectors"] == len(PAIRS) + len(DISTRACTORS) and card["seed"] == 7
    assert "query encoder only" in (result.model_dir / "README.md").read_text()

    # Named in settings, it serves the index built with the base model as it is: nothing to re-embed.
    tuned_settings = settings.replace(embed_model=str(result.model_dir))
    tuned = load_embedder(tuned_settings)
    assert tuned.name == "all-MiniLM-L6-v2" and tuned.configured == str(result.model_dir) and tuned.dim == 384
    open_index(tuned_settings).check_model(tuned.name)
    np.testing.assert_allclose(tuned.embed_query(PAIRS[0][1]), queries_after[0], atol=1e-5)
    # the tuned folder (a Router) embeds with torch, the base with the default ONNX export: one vector space
    assert tuned.backend == "torch"
    cosine = float(tuned.embed_documents([PAIRS[0][2]])[0] @ embedder.embed_documents([PAIRS[0][2]])[0])
    assert cosine > 0.999, cosine


@pytest.mark.slow
def test_full_training_run_changes_the_embedder_and_improves_ranking_of_its_pairs(settings, tmp_path):
    from evals.mining import dense_ranker
    from evals.training import base_source
    from rag.embed import load_embedder
    from rag.errors import ModelMismatch

    index, embedder = _index_of_passages(settings)
    questions = tuple(TrainQuestion(qid, q, (qid,), (p,)) for qid, q, p in PAIRS)
    config = TuneConfig(side="both", epochs=6, batch_size=2, learning_rate=1e-4, warmup_ratio=0.0, scale=20.0, seed=7)
    job = TuneJob((TrainingSet("tiny", questions),), "all-MiniLM-L6-v2", config, UNRELATED,
                  models_dir=tmp_path / "models", device="cpu")
    result = tune(job, index, dense_ranker(index, embedder, k=5), progress=False)

    before, docs_before, _ = _gold_reciprocal_ranks(base_source("all-MiniLM-L6-v2"))
    after, docs_after, _ = _gold_reciprocal_ranks(str(result.model_dir))
    assert not np.allclose(docs_before, docs_after, atol=1e-3)  # the weights moved
    # Its documents changed, so the base model's index refuses it.
    with pytest.raises(ModelMismatch):
        index.check_model(load_embedder(settings.replace(embed_model=str(result.model_dir))).name)
    # Reciprocal rank of each question's own passage among the 9 texts: 0.20 on average before (none first).
    assert after.mean() > before.mean() + 0.25, (before, after)
    assert (after == 1.0).sum() >= (before == 1.0).sum() + 2, (before, after)

    card = json.loads((result.model_dir / CARD_JSON).read_text())
    assert card["base_model"] == "all-MiniLM-L6-v2" and card["seed"] == 7
    assert card["training_data"][0]["questions"] == 6 and card["pairs_with_negative"] == 6
    assert card["excluded_scoring_sets"][0]["name"] == "unrelated"
    assert "full fine-tuning" in (result.model_dir / "README.md").read_text()
    assert result.model_dir.name.startswith("all-MiniLM-L6-v2-tuned-")

    # The folder is a model settings can name; scorers can prove it never saw their questions.
    from rag.embed import load_embedder

    tuned = load_embedder(settings.replace(embed_model=str(result.model_dir)))
    assert tuned.dim == 384 and tuned.embed_query(PAIRS[0][1]).shape == (384,)
    check_model_not_trained_on(result.model_dir, [("s1", "What is a PFP?")])
    with pytest.raises(TrainingOverlap):
        check_model_not_trained_on(result.model_dir, [("new-id", PAIRS[3][1].lower())])
    assert len((result.model_dir / TRAINED_ON).read_text().splitlines()) == 6


@pytest.mark.slow
def test_training_is_deterministic_given_the_seed(settings, tmp_path):
    index = _index_of_passages(settings)[0]
    questions = tuple(TrainQuestion(qid, q, (qid,), (p,)) for qid, q, p in PAIRS)
    config = TuneConfig(epochs=2, batch_size=3, learning_rate=1e-4, seed=11)
    runs = []
    for name in ("a", "b"):
        job = TuneJob((TrainingSet("tiny", questions),), "all-MiniLM-L6-v2", config, out_dir=tmp_path / name,
                      device="cpu")
        result = tune(job, index, progress=False)
        runs.append(_gold_reciprocal_ranks(str(result.model_dir))[2])
    np.testing.assert_allclose(runs[0], runs[1], atol=1e-6)


@pytest.mark.slow
def test_lora_training_merges_into_a_plain_model_folder(tmp_path):
    from evals.training import base_source

    pytest.importorskip("peft", reason="LoRA is optional: pip install peft")
    questions = tuple(TrainQuestion(qid, q, (qid,), (p,)) for qid, q, p in PAIRS)
    config = TuneConfig(side="both", epochs=4, batch_size=6, learning_rate=5e-4, scale=20.0, seed=1, lora=True,
                        lora_r=8, lora_alpha=16)
    result = tune(TuneJob((TrainingSet("tiny", questions),), "all-MiniLM-L6-v2", config, models_dir=tmp_path,
                          device="cpu"), progress=False)
    assert not (result.model_dir / "adapter_config.json").exists()  # merged: loads without peft
    before, docs_before, _ = _gold_reciprocal_ranks(base_source("all-MiniLM-L6-v2"))
    after, docs_after, _ = _gold_reciprocal_ranks(str(result.model_dir))
    assert not np.allclose(docs_before, docs_after, atol=1e-4)
    assert after.mean() > before.mean()


# ---- the command ----------------------------------------------------------------------------------------------

@pytest.fixture
def obliqa_folder(tmp_path):
    """A tiny benchmark folder in the ObliQA layout: one rulebook, the six invented questions, the distractors."""
    folder = tmp_path / "obliqa"
    docs = folder / "StructuredRegulatoryDocuments"
    docs.mkdir(parents=True)
    rows = [{"ID": qid, "DocumentID": 1, "PassageID": f"1.{i}", "Passage": p} for i, (qid, _, p) in enumerate(PAIRS)]
    rows += [{"ID": f"d{i}", "DocumentID": 1, "PassageID": f"2.{i}", "Passage": d} for i, d in enumerate(DISTRACTORS)]
    (docs / "1.json").write_text(json.dumps(rows), encoding="utf-8")
    questions = [{"QuestionID": f"q-{qid}", "Question": q, "Group": 1,
                  "Passages": [{"DocumentID": 1, "PassageID": f"1.{i}", "Passage": p}]}
                 for i, (qid, q, p) in enumerate(PAIRS)]
    (folder / "ObliQA_dev.json").write_text(json.dumps(questions), encoding="utf-8")
    return folder


def test_command_refuses_training_on_questions_of_the_scoring_set(obliqa_folder, tmp_path, capsys):
    from regcite.cli import main

    scoring = tmp_path / "scoring.json"
    scoring.write_text(json.dumps([{"QuestionID": "elsewhere-1", "Question": PAIRS[4][1].lower() + " "}]))
    code = main(["--data-dir", str(tmp_path / "data"), "tune-embedder", "--obliqa", str(obliqa_folder),
                 "--exclude-set", str(scoring), "--no-progress"])
    assert code == 2
    assert "refusing to train" in capsys.readouterr().err
    assert not (tmp_path / "data").exists()  # refused before ingesting, mining or training


def test_command_reads_the_obliqa_split_it_is_given(obliqa_folder, tmp_path, capsys):
    from regcite.cli import main

    # A training split with one question of its own; scoring on the dev split must still refuse the shared ones.
    train = tmp_path / "ObliQA_train.json"
    dev = json.loads((obliqa_folder / "ObliQA_dev.json").read_text(encoding="utf-8"))
    train.write_text(json.dumps(dev[:1]), encoding="utf-8")
    code = main(["--data-dir", str(tmp_path / "data"), "tune-embedder", "--obliqa", str(obliqa_folder),
                 "--obliqa-questions", str(train), "--exclude-set", str(obliqa_folder / "ObliQA_dev.json"),
                 "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "refusing to train" in err
    assert "1 training question(s)" in err  # read from the given split, not the six of the dev split

    code = main(["--data-dir", str(tmp_path / "data"), "tune-embedder", "--obliqa", str(obliqa_folder),
                 "--obliqa-questions", str(tmp_path / "missing.json"), "--no-progress"])
    assert code == 2 and "no ObliQA questions file" in capsys.readouterr().err
    assert main(["--data-dir", str(tmp_path / "data"), "tune-embedder", "--obliqa-questions", str(train)]) == 2
    assert "needs --obliqa" in capsys.readouterr().err
    assert not (tmp_path / "data").exists()


def test_holdout_needs_the_query_side_and_a_fraction(obliqa_folder, tmp_path, capsys):
    from regcite.cli import main

    for extra in (["--side", "both", "--holdout", "0.2"], ["--holdout", "1.5"]):
        assert main(["--data-dir", str(tmp_path / "data"), "tune-embedder", "--obliqa", str(obliqa_folder),
                     *extra, "--no-progress"]) == 2
        assert "--holdout takes a fraction" in capsys.readouterr().err
    assert not (tmp_path / "data").exists()


def test_command_needs_training_data(capsys):
    from regcite.cli import main

    assert main(["tune-embedder"]) == 2
    assert "--set" in capsys.readouterr().err


@pytest.mark.slow
def test_command_trains_on_an_obliqa_folder_and_prints_the_model_folder(obliqa_folder, tmp_path, capsys):
    from regcite.cli import main

    data = tmp_path / "data"
    code = main(["--data-dir", str(data), "tune-embedder", "--obliqa", str(obliqa_folder), "--mine-with", "dense",
                 "--epochs", "1", "--batch-size", "4", "--seed", "3", "--no-progress"])
    assert code == 0
    out = capsys.readouterr().out
    model_dir = Path(out.split("tuned model: ")[1].split()[0])
    assert model_dir.parent == data / "models" and model_dir.name.startswith("all-MiniLM-L6-v2-tuned-")
    card = json.loads((model_dir / CARD_JSON).read_text())
    assert card["questions"] == 6 and card["hyperparameters"]["seed"] == 3
    assert card["hyperparameters"]["side"] == "query" and card["metrics"]["corpus_vectors"] == 9
    assert card["hyperparameters"]["epochs"] == 1 and card["hyperparameters"]["scale"] == 50.0  # the side's default
    assert (data / "obliqa" / "index" / "catalog.sqlite").exists()  # the corpus came from an ObliQA index
    assert "nothing to re-embed" in out

    code = main(["--data-dir", str(data), "tune-embedder", "--obliqa", str(obliqa_folder), "--side", "both",
                 "--mine-with", "dense", "--batch-size", "4", "--seed", "3", "--no-progress"])
    assert code == 0
    out = capsys.readouterr().out
    card = json.loads((Path(out.split("tuned model: ")[1].split()[0]) / CARD_JSON).read_text())
    assert card["pairs_with_negative"] == 6 and card["hyperparameters"]["side"] == "both"  # negatives were mined
    assert card["hyperparameters"]["learning_rate"] == 5e-5 and "re-ingest" in out

    # --holdout keeps half the questions out of training and scores base and tuned model on them.
    code = main(["--data-dir", str(data), "tune-embedder", "--obliqa", str(obliqa_folder), "--holdout", "0.5",
                 "--epochs", "6", "--batch-size", "2", "--seed", "3", "--no-progress"])
    assert code == 0
    out = capsys.readouterr().out
    model_dir = Path(out.split("tuned model: ")[1].split()[0])
    card = json.loads((model_dir / CARD_JSON).read_text())
    held = card["metrics"]["holdout"]
    trained = {json.loads(line)["id"] for line in (model_dir / TRAINED_ON).read_text().splitlines()}
    assert card["questions"] + held["questions"] == 6 and len(trained) == card["questions"]
    assert card["excluded_scoring_sets"][-1]["name"] == "held-out questions"
    assert set(held["scores"]) == {"base", "tuned"} and held["best_dense_weight"] in (0.3, 0.4, 0.5, 0.6, 0.7)
    assert all(0.0 <= v["recall@10"] <= 1.0 for v in held["scores"]["tuned"].values())
    assert "held-out questions it was not trained on" in (model_dir / "README.md").read_text()
    assert "REGCITE_DENSE_WEIGHT=" in out


@pytest.mark.slow
def test_crossval_scores_every_series_per_fold_and_resumes(obliqa_folder, settings, tmp_path):
    from evals.crossval import SERIES, CrossvalPlan, format_summary, run_crossval

    plan = CrossvalPlan(folds=2, mine_with="dense", seed=1)
    config = TuneConfig(epochs=2, batch_size=3, learning_rate=1e-4, seed=1)
    result = run_crossval(obliqa_folder, settings, tmp_path / "cv", plan, config, progress=False)
    assert [f["train_questions"] + f["test_questions"] for f in result["folds"]] == [6, 6]
    for series in SERIES:
        for metric in ("recall@10", "map@10"):
            assert 0.0 <= result["summary"][series][metric]["mean"] <= 1.0 and result["summary"][series][metric]["n"] == 2
    assert "| tuned hybrid - untuned hybrid |" in format_summary(result)
    # Query side: the tuned model shares the untuned index, so scoring it re-embedded nothing.
    assert [f["reembedded_passages"] for f in result["folds"]] == [0, 0]
    stamp = (tmp_path / "cv" / "fold-1" / "result.json").stat().st_mtime_ns
    again = run_crossval(obliqa_folder, settings, tmp_path / "cv", plan, config, progress=False)
    assert again["folds"] == result["folds"]
    assert (tmp_path / "cv" / "fold-1" / "result.json").stat().st_mtime_ns == stamp  # finished folds are reused

    # Choosing the dense weight on an inner split adds a series to finished folds without retraining them.
    from evals.crossval import CHOSEN

    model_stamp = (tmp_path / "cv" / "fold-1" / "model" / "modules.json").stat().st_mtime_ns
    plan = CrossvalPlan(folds=2, mine_with="dense", seed=1, choose_weight=True, weights=(0.2, 0.8))
    chosen = run_crossval(obliqa_folder, settings, tmp_path / "cv", plan, config, progress=False)
    assert (tmp_path / "cv" / "fold-1" / "model" / "modules.json").stat().st_mtime_ns == model_stamp
    for fold, before in zip(chosen["folds"], result["folds"]):
        assert fold["chosen"]["dense_weight"] in (0.2, 0.8) and fold["tuned"] == before["tuned"]
        assert fold["chosen"]["inner_train_questions"] + fold["chosen"]["inner_val_questions"] == fold["train_questions"]
        # The inner model never saw the held-out fold, nor the inner part it chose the weight on.
        assert (tmp_path / "cv" / f"fold-{fold['fold']}" / "inner-model" / TRAINED_ON).exists()
    assert chosen["summary"][CHOSEN]["recall@10"]["n"] == 2 and f"| {CHOSEN} - untuned hybrid |" in format_summary(chosen)


@pytest.mark.slow
def test_a_tuned_model_named_in_settings_serves_ingest_ask_and_the_app(obliqa_folder, tmp_path, capsys, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from regcite.cli import main

    root = Path(__file__).resolve().parents[2]
    assert main(["--data-dir", str(tmp_path / "train"), "tune-embedder", "--obliqa", str(obliqa_folder),
                 "--mine-with", "dense", "--batch-size", "4", "--seed", "1", "--out", str(tmp_path / "tuned"),
                 "--no-progress"]) == 0
    capsys.readouterr()
    data = tmp_path / "data"
    monkeypatch.setenv("REGCITE_DATA_DIR", str(data))
    assert main(["ingest", str(root / "corpus" / "regulations"), "--no-progress"]) == 0
    capsys.readouterr()
    # Switching the index built with the base model to the query-side model re-embeds nothing.
    monkeypatch.setenv("REGCITE_EMBED_MODEL", str(tmp_path / "tuned"))
    assert main(["ingest", str(root / "corpus" / "regulations"), "--no-progress"]) == 0
    assert "(0 embedded)" in capsys.readouterr().out
    question = "How long does a creditor have to notify an applicant after taking adverse action on an existing account?"
    assert main(["ask", question, "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    cited = [c["reference"] for s in answer["sentences"] for c in s["citations"]]
    assert "12 CFR 1002.9(a)(1)(iii)" in cited

    at = AppTest.from_file(str(root / "ui" / "app.py"), default_timeout=120).run()
    at.chat_input[0].set_value(question).run()
    assert not at.exception
    assert at.subheader[0].value == "[1] 12 CFR 1002\\.9\\(a\\)\\(1\\)\\(iii\\)"

    # A fully tuned model changes the documents' vectors: the index refuses it until re-ingested.
    monkeypatch.delenv("REGCITE_EMBED_MODEL")  # tuning starts from the base model
    assert main(["--data-dir", str(tmp_path / "train"), "tune-embedder", "--obliqa", str(obliqa_folder),
                 "--side", "both", "--mine-with", "dense", "--batch-size", "4", "--seed", "1",
                 "--out", str(tmp_path / "tuned-both"), "--no-progress"]) == 0
    capsys.readouterr()
    monkeypatch.setenv("REGCITE_EMBED_MODEL", str(tmp_path / "tuned-both"))
    assert main(["ask", question]) != 0
    assert "tuned-both" in capsys.readouterr().err


def test_tuning_refuses_a_query_side_model_as_its_base(tmp_path):
    from rag.errors import ConfigError

    tuned = tmp_path / "tuned"
    tuned.mkdir()
    (tuned / CARD_JSON).write_text(json.dumps({"base_model": "all-MiniLM-L6-v2", "document_model": "all-MiniLM-L6-v2",
                                               "hyperparameters": {"side": "query"}}))
    questions = tuple(TrainQuestion(qid, q, (qid,), (p,)) for qid, q, p in PAIRS)
    with pytest.raises(ConfigError, match="tune from its base model"):
        tune(TuneJob((TrainingSet("tiny", questions),), str(tuned), models_dir=tmp_path))


def test_side_defaults_and_overrides():
    from evals.training import tune_config
    from rag.errors import ConfigError

    assert (tune_config().epochs, tune_config().scale) == (4, 50.0)
    both = tune_config("both", epochs=None, learning_rate=2e-5)
    assert (both.side, both.epochs, both.learning_rate, both.scale) == ("both", 1, 2e-5, 20.0)
    with pytest.raises(ConfigError, match="side must be"):
        tune_config("documents")
