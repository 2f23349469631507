"""ObliQA adapter: uuid-keyed ingest into a real index, gold matching, mode settings."""
from __future__ import annotations

import json

import pytest

from evals.obliqa import evaluate_modes, ingest_corpus, load_dev_questions, mode_settings
from tests.conftest import shared_path

ROWS = {
    "1": [
        {"ID": "u-head", "DocumentID": 1, "PassageID": "1.", "Passage": ""},
        {"ID": "u-a", "DocumentID": 1, "PassageID": "1.1", "Passage": "A Relevant Person must keep records for six years."},
        {"ID": "u-b", "DocumentID": 1, "PassageID": "1.2", "Passage": "Customer due diligence applies to every client."},
    ],
    "2": [
        {"ID": "u-c", "DocumentID": 2, "PassageID": "1.1", "Passage": "Captive insurers must hold minimum capital."},
        {"ID": "u-d", "DocumentID": 2, "PassageID": "1.1", "Passage": "A second passage that reuses PassageID 1.1."},
    ],
}


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, rows in ROWS.items():
        (folder / f"{name}.json").write_text(json.dumps(rows), encoding="utf-8")
    (folder / "document_map.json").write_text(json.dumps({"1": ["AML_V1", "AML", "Anti-Money Laundering Rules"]}))
    questions = [
        {"QuestionID": "q1", "Question": "How long must records be kept?", "Group": 1,
         "Passages": [{"DocumentID": 1, "PassageID": "1.1", "Passage": "A Relevant Person must keep records  for six years."}]},
        {"QuestionID": "q2", "Question": "What capital must captive insurers hold?", "Group": 1,
         "Passages": [{"DocumentID": 2, "PassageID": "1.1", "Passage": "Captive insurers must hold minimum capital."}]},
    ]
    qfile = tmp_path / "dev.json"
    qfile.write_text(json.dumps(questions), encoding="utf-8")
    return folder, qfile


def test_gold_is_matched_on_document_passage_id_and_text(corpus):
    folder, qfile = corpus
    q1, q2 = load_dev_questions(qfile, folder)
    assert q1.gold == ("u-a",)  # whitespace differences do not break the match
    assert q2.gold == ("u-c",)  # PassageID 1.1 repeats in document 2; the text decides


def test_mode_settings_map_to_fusion_and_weights(settings):
    assert (mode_settings(settings, "dense").fusion, mode_settings(settings, "dense").dense_weight) == ("weighted", 1.0)
    assert mode_settings(settings, "bm25").dense_weight == 0.0
    assert mode_settings(settings, "weighted:0.4").dense_weight == 0.4
    assert mode_settings(settings, "rrf").fusion == "rrf"
    with pytest.raises(ValueError, match="unknown ObliQA mode"):
        mode_settings(settings, "colbert")


@pytest.mark.slow
def test_ingest_keeps_uuids_skips_empty_rows_and_is_idempotent(corpus, settings):
    from rag.store import open_index

    folder, qfile = corpus
    first = ingest_corpus(folder, settings, progress=False)
    assert first["rulebooks_added"] == 2 and first["passages_added"] == 4
    index = open_index(settings)
    assert sorted(c.clause_id for c in index.clauses) == ["u-a", "u-b", "u-c", "u-d"]
    assert index.clause("u-a").reference == "ObliQA 1 1.1"
    assert index.document_of(index.clause("u-a")).title == "Anti-Money Laundering Rules"
    # the stored text and spans agree, so a clause can be shown in context
    clause = index.clause("u-c")
    assert index.text_of(clause.version_id)[clause.char_span.start:clause.char_span.end] == clause.text
    # the real embedder ranks the right passage first for a paraphrase
    import numpy as np

    from rag.embed import load_embedder

    vector = load_embedder(settings).embed_query("How long do records have to be retained?")
    best = index.search(np.asarray([vector]), 1)[0][0][0]
    assert index.clauses[best].clause_id == "u-a"
    again = ingest_corpus(folder, settings, progress=False)
    assert again["rulebooks_added"] == 0 and open_index(settings).generation == index.generation


@pytest.mark.slow
def test_dev_questions_match_the_real_corpus():
    folder = shared_path("benchmarks/obliqa/StructuredRegulatoryDocuments")
    questions = load_dev_questions(shared_path("benchmarks/obliqa/ObliQA_dev.json"), folder)
    raw = json.loads(shared_path("benchmarks/obliqa/ObliQA_dev.json").read_text(encoding="utf-8"))
    assert len(questions) == len(raw) == 2788
    # every listed passage resolves to exactly one uuid, and none is an empty heading row (those are not indexed)
    assert sum(len(q.gold) for q in questions) == sum(len(q["Passages"]) for q in raw)
    empty = {r["ID"] for f in folder.glob("*.json") if f.stem.isdigit()
             for r in json.loads(f.read_text(encoding="utf-8")) if not r["Passage"].strip()}
    assert not empty & {g for q in questions for g in q.gold}


@pytest.mark.slow
def test_evaluate_modes_scores_through_the_retriever(corpus, settings):
    folder, qfile = corpus
    ingest_corpus(folder, settings, progress=False)
    results = evaluate_modes(load_dev_questions(qfile, folder), settings, ["default", "bm25"], progress=False)
    assert results["bm25"]["recall@10"] == 1.0  # 4 passages, k=10: every gold passage is retrieved
    assert 0.5 <= results["default"]["map@10"] <= 1.0


def _tuned_folder(tmp_path, trained: list[tuple[str, str]]):
    """A model folder as `regcite tune-embedder` leaves it, reduced to its record of training questions."""
    from evals.overlap import write_trained_on

    folder = tmp_path / "tuned-model"
    folder.mkdir()
    write_trained_on(folder, trained)
    return folder


def test_eval_obliqa_refuses_a_model_trained_on_the_questions_before_ingesting(corpus, tmp_path, capsys, monkeypatch):
    from regcite.cli import main

    folder, qfile = corpus
    model = _tuned_folder(tmp_path, [("other-id", "how long must RECORDS be kept")])  # q1, by its text
    monkeypatch.setenv("REGCITE_EMBED_MODEL", str(model))
    data = tmp_path / "obliqa-data"
    code = main(["--data-dir", str(tmp_path / "d"), "eval", "obliqa", "--corpus", str(folder), "--questions",
                 str(qfile), "--data-dir", str(data), "--no-progress"])
    assert code == 2
    assert "was trained on 1 question(s)" in capsys.readouterr().err
    assert not data.exists()  # refused before anything was embedded


def test_split_trained_keeps_only_questions_the_model_never_saw(tmp_path):
    from evals.overlap import split_trained

    model = _tuned_folder(tmp_path, [("q1", "ignored"), ("x", "What capital must captive insurers hold?")])
    items = [("q1", "How long must records be kept?"), ("q2", "what capital must captive insurers hold"),
             ("q3", "Who applies customer due diligence?")]
    kept, seen = split_trained(model, items)
    assert [q for q, _ in kept] == ["q3"] and [q for q, _ in seen] == ["q1", "q2"]
    assert split_trained(tmp_path / "not-a-tuned-model", items) == (items, [])


def test_eval_obliqa_skip_trained_with_nothing_left_says_so(corpus, tmp_path, capsys, monkeypatch):
    from regcite.cli import main

    folder, qfile = corpus
    model = _tuned_folder(tmp_path, [("q1", "x"), ("q2", "y")])
    monkeypatch.setenv("REGCITE_EMBED_MODEL", str(model))
    code = main(["--data-dir", str(tmp_path / "d"), "eval", "obliqa", "--corpus", str(folder), "--questions",
                 str(qfile), "--data-dir", str(tmp_path / "o"), "--skip-trained", "--no-progress"])
    assert code == 2
    err = capsys.readouterr().err
    assert "skipping 2 question(s)" in err and "no question of" in err


def test_eval_obliqa_scores_each_backend_on_the_same_embeddings_and_prints_the_parity(corpus, tmp_path, capsys,
                                                                                      monkeypatch):
    pytest.importorskip("pymilvus", reason="the milvus extra (pip install -e '.[milvus]')")
    from rag.config import load_settings
    from rag.embed import load_embedder
    from regcite.cli import main

    embedded = []
    embedder_type = type(load_embedder(load_settings(env={}, overrides={"data_dir": tmp_path / "probe"})))
    real = embedder_type.embed_documents
    monkeypatch.setattr(embedder_type, "embed_documents",
                        lambda self, texts: embedded.append(len(texts)) or real(self, texts))
    folder, qfile = corpus
    results = tmp_path / "parity.json"
    code = main(["--data-dir", str(tmp_path / "d"), "eval", "obliqa", "--corpus", str(folder), "--questions",
                 str(qfile), "--data-dir", str(tmp_path / "obliqa"), "--backends", "faiss,milvus", "--modes",
                 "default", "--results", str(results), "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "faiss   default" in out and "milvus  default" in out
    assert "parity milvus - faiss: Recall@10 +0.0000, MAP@10 +0.0000 (within 0.01)" in out
    assert sum(embedded) == 4  # the second engine's ingest reused the first one's stored embeddings
    record = json.loads(results.read_text())
    assert set(record["backends"]) == {"faiss", "milvus"} and record["largest_difference"] == 0.0
    assert (tmp_path / "obliqa-milvus" / "milvus.db").exists() and (tmp_path / "obliqa-faiss" / "index").exists()

