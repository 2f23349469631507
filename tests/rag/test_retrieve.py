"""Hybrid retrieval over a real store (SQLite + FAISS + bm25s): named clauses, filters, fusion modes, reranking.

Plumbing tests use a deterministic hashing embedder on a hand-built index; the tests marked slow use the packaged
embedder on the sample corpus, a real cross-encoder built offline, or both.
"""
from __future__ import annotations

import hashlib
import re
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from tests.fakes import hashed_word_vectors

from rag.config import load_settings
from rag.errors import ModelUnavailable
from rag.lexical import LexicalIndex
from rag.retrieve import Retriever, lexical_text
from rag.store import open_index
from rag.writer import open_writer
from rag.types import CharSpan, Clause, DocumentVersion, Filters, Kind, PageSpan, Status

ROOT = Path(__file__).resolve().parents[2]


class HashEmbedder:
    """Hashed word (and Han character) counts, L2-normalised: deterministic and instant; counts its calls."""

    name = "fake-hash-32"
    dim = 32

    def __init__(self):
        self.queries = 0

    def embed_documents(self, texts):
        return hashed_word_vectors(texts, self.dim, r"[a-z0-9]+|[\u4e00-\u9fff]")

    def embed_query(self, text):
        self.queries += 1
        return self.embed_documents([text])[0]


def _version(n: int, doc_id: str, title: str, jurisdiction: str, language: str = "en", kind: Kind = Kind.REGULATION,
             effective_from: date | None = None, effective_to: date | None = None,
             status: Status = Status.IN_FORCE) -> DocumentVersion:
    sha = hashlib.sha256(f"{doc_id}:{n}".encode()).hexdigest()
    return DocumentVersion(version_id=sha[:16], doc_id=doc_id, title=title, kind=kind, jurisdiction=jurisdiction,
                           language=language, source_path=f"/tmp/{n}.txt", sha256=sha, page_starts=(0, 1000, 2000),
                           effective_from=effective_from, effective_to=effective_to, status=status)


REGB = _version(1, "12 CFR 1002", "Equal Credit Opportunity Act (Regulation B)", "US", effective_from=date(2022, 1, 1))
REGB_2011 = _version(2, "12 CFR 1002", "Equal Credit Opportunity Act (Regulation B), 2011", "US",
                     effective_from=date(2011, 12, 30), effective_to=date(2022, 1, 1), status=Status.SUPERSEDED)
GDPR = _version(3, "GDPR", "General Data Protection Regulation", "EU")
MICA = _version(4, "MiCA", "Markets in Crypto-Assets Regulation", "EU")
AML = _version(5, "反洗钱法", "中华人民共和国反洗钱法", "CN", language="zh")
REPORT = _version(6, "adverse-action-review", "Adverse action notices: a compliance review", "", kind=Kind.REPORT)

# (document, path, reference, heading, text, page)
CORPUS = [
    (REGB, ("§ 1002.9", "(a)"), "12 CFR 1002.9(a)", "§ 1002.9 Notifications.",
     "Notification of action taken, ECOA notice, and statement of specific reasons.", 1),
    (REGB, ("§ 1002.9", "(a)", "(1)"), "12 CFR 1002.9(a)(1)", "§ 1002.9 Notifications.",
     "When notification is required. A creditor shall notify an applicant of action taken within:", 1),
    (REGB, ("§ 1002.9", "(a)", "(1)", "(i)"), "12 CFR 1002.9(a)(1)(i)", "§ 1002.9 Notifications.",
     "30 days after receiving a completed application concerning the creditor's approval of, counteroffer to, or "
     "adverse action on the application;", 1),
    (REGB, ("§ 1002.9", "(a)", "(1)", "(ii)"), "12 CFR 1002.9(a)(1)(ii)", "§ 1002.9 Notifications.",
     "30 days after taking adverse action on an incomplete application;", 1),
    (REGB, ("§ 1002.9", "(a)", "(1)", "(iii)"), "12 CFR 1002.9(a)(1)(iii)", "§ 1002.9 Notifications.",
     "30 days after taking adverse action on an existing account; or", 2),
    (REGB, ("§ 1002.9", "(a)", "(1)", "(iv)"), "12 CFR 1002.9(a)(1)(iv)", "§ 1002.9 Notifications.",
     "90 days after notifying the applicant of a counteroffer if the applicant does not accept the credit offered.", 2),
    (REGB, ("§ 1002.9", "(a)", "(2)"), "12 CFR 1002.9(a)(2)", "§ 1002.9 Notifications.",
     "Content of notification when adverse action is taken. A notification shall be in writing and shall contain "
     "the name and address of the creditor.", 2),
    (REGB, ("§ 1002.12", "(b)", "(1)"), "12 CFR 1002.12(b)(1)", "§ 1002.12 Record retention.",
     "For 25 months after the date that a creditor notifies an applicant of action taken, the creditor shall "
     "retain records of the application.", 3),
    (REGB, ("§ 1002.90",), "12 CFR 1002.90", "§ 1002.90 Reserved.",
     "This section is reserved; a creditor shall disregard it.", 3),
    (REGB_2011, ("§ 1002.12", "(b)", "(1)"), "12 CFR 1002.12(b)(1)", "§ 1002.12 Record retention.",
     "For 18 months after the date that a creditor notifies an applicant of action taken, the creditor shall "
     "retain records of the application.", 1),
    (GDPR, ("Art. 17", "(1)"), "GDPR Art. 17(1)", "Article 17 Right to erasure",
     "The data subject shall have the right to obtain from the controller the erasure of personal data where one "
     "of the following grounds applies:", 1),
    (GDPR, ("Art. 17", "(1)", "(a)"), "GDPR Art. 17(1)(a)", "Article 17 Right to erasure",
     "the personal data are no longer necessary; the controller shall erase them;", 1),
    (GDPR, ("Art. 17", "(1)", "(b)"), "GDPR Art. 17(1)(b)", "Article 17 Right to erasure",
     "the data subject withdraws consent on which the processing is based; the controller shall erase the data;", 1),
    (GDPR, ("Art. 33", "(1)"), "GDPR Art. 33(1)", "Article 33 Notification of a personal data breach",
     "In the case of a personal data breach, the controller shall notify the supervisory authority within 72 hours.", 2),
    (MICA, ("Art. 17", "(1)"), "MiCA Art. 17(1)", "Article 17 Requirements for credit institutions",
     "A credit institution shall notify the competent authority of its intention to offer crypto-assets.", 1),
    (MICA, ("Art. 17", "(2)"), "MiCA Art. 17(2)", "Article 17 Requirements for credit institutions",
     "The notification shall be made at least 40 working days before the services are first provided.", 1),
    (AML, ("第二十八条",), "反洗钱法 第二十八条", "第三章 反洗钱义务",
     "金融机构应当按照规定建立客户尽职调查制度。", 1),
    (AML, ("第二十九条",), "反洗钱法 第二十九条", "第三章 反洗钱义务",
     "有下列情形之一的，金融机构应当开展客户尽职调查：", 1),
    (AML, ("第二十九条", "（一）"), "反洗钱法 第二十九条（一）", "第三章 反洗钱义务",
     "与客户建立业务关系或者为客户提供规定金额以上的一次性金融服务；", 1),
    (AML, ("第二十九条", "（二）"), "反洗钱法 第二十九条（二）", "第三章 反洗钱义务",
     "有合理理由怀疑客户及其交易涉嫌洗钱活动；", 1),
    (AML, ("第三十条",), "反洗钱法 第三十条", "第三章 反洗钱义务",
     "在业务关系存续期间，金融机构应当持续关注并评估客户整体状况及交易情况。", 1),
    (REPORT, ("1 Summary",), "adverse-action-review, 1 Summary", "1 Summary",
     "Eleven notices were sent later than the 30 days a creditor has after adverse action on an existing account.", 1),
    (REPORT, ("2 Method",), "adverse-action-review, 2 Method", "2 Method",
     "We reviewed 120 notices that a creditor shall keep on file.", 1),
    (REPORT, ("3 Findings",), "adverse-action-review, 3 Findings", "3 Findings",
     "Four notices gave reasons that were not specific; a creditor shall state specific reasons.", 1),
]


def _build(data_dir: Path, embedder) -> None:
    settings = load_settings(env={}, overrides={"data_dir": data_dir})
    with open_writer(settings, embedder.name, embedder.dim) as w:
        for doc in dict.fromkeys(d for d, *_ in CORPUS):
            rows = [r for r in CORPUS if r[0] is doc]
            clauses = [Clause(clause_id=f"{doc.version_id}:{i}", version_id=doc.version_id, ordinal=i, path=path,
                              reference=ref, headings=(heading,), text=text,
                              char_span=CharSpan(i * 500, i * 500 + len(text)), page_span=PageSpan(page, page))
                       for i, (_, path, ref, heading, text, page) in enumerate(rows)]
            w.add_version(doc, "\n".join(c.text for c in clauses), clauses,
                          embedder.embed_documents([c.text for c in clauses]))
        w.commit()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("retrieve") / "data"
    _build(path, HashEmbedder())
    return path


@pytest.fixture(scope="module")
def index(data_dir):
    return open_index(load_settings(env={}, overrides={"data_dir": data_dir}))


@pytest.fixture
def make(index, data_dir):
    """make(**settings) -> a Retriever over the shared index with those settings and a fresh counting embedder."""
    def build(reranker_object=None, **overrides) -> Retriever:
        settings = load_settings(env={}, overrides={"data_dir": data_dir, **overrides})
        return Retriever(index, HashEmbedder(), settings, reranker=reranker_object)
    return build


def refs(hits) -> list[str]:
    return [h.clause.reference for h in hits]


# --- clauses named in the question -------------------------------------------------------------------------------

def test_a_named_clause_comes_first_with_its_subparagraphs_via_reference(make):
    hits = make().retrieve("What does 12 CFR 1002.9(a)(1) require?", k=8)
    assert refs(hits)[:5] == ["12 CFR 1002.9(a)(1)", "12 CFR 1002.9(a)(1)(i)", "12 CFR 1002.9(a)(1)(ii)",
                              "12 CFR 1002.9(a)(1)(iii)", "12 CFR 1002.9(a)(1)(iv)"]
    assert [h.via for h in hits[:5]] == ["reference"] * 5
    assert all(h.via != "reference" for h in hits[5:]) and len(hits) == 8
    assert hits[0].dense_score is not None  # computed for named clauses too, for relevance decisions


def test_named_clauses_leave_room_for_search_results(make):
    hits = make().retrieve("Explain § 1002.9 in full", k=4)
    assert [h.via for h in hits][:2] == ["reference", "reference"] and len(hits) == 4
    assert all(h.via != "reference" for h in hits[2:])  # limit k - 2


def test_a_section_named_does_not_pull_in_a_longer_number(make):
    hits = make().retrieve("What does § 1002.9 say?", k=8)
    named = [h for h in hits if h.via == "reference"]
    assert named and "12 CFR 1002.90" not in refs(named)


@pytest.mark.parametrize("question, expected", [
    ("What does GDPR Article 17 require?", {"GDPR"}),
    ("What does Article 17 of MiCA require?", {"MiCA"}),
    ("Under the General Data Protection Regulation, what does Art. 17(1) say?", {"GDPR"}),
    ("What does Article 17 require?", {"GDPR", "MiCA"}),
])
def test_the_same_article_number_in_two_documents_is_narrowed_by_the_document_named(make, question, expected):
    named = [h for h in make().retrieve(question, k=8) if h.via == "reference"]
    assert named and {h.document.doc_id for h in named} == expected


def test_a_chinese_article_and_item_are_found_by_number(make):
    hits = make().retrieve("反洗钱法第二十九条（一）规定了什么？", k=5)
    assert hits[0].clause.reference == "反洗钱法 第二十九条（一）" and hits[0].via == "reference"
    whole = [h for h in make().retrieve("第29条", k=8) if h.via == "reference"]
    assert refs(whole) == ["反洗钱法 第二十九条", "反洗钱法 第二十九条（一）", "反洗钱法 第二十九条（二）"]


# --- filters -----------------------------------------------------------------------------------------------------

FUSIONS = {
    "rrf": {"fusion": "rrf"},
    "weighted": {"fusion": "weighted", "dense_weight": 0.65},
    "dense-only": {"fusion": "weighted", "dense_weight": 1.0},
    "bm25-only": {"fusion": "weighted", "dense_weight": 0.0},
}

FILTERS = [
    (Filters(doc_ids=("GDPR",)), "When shall a creditor notify an applicant?", 4),
    (Filters(jurisdictions=("EU",)), "When shall a creditor notify an applicant?", 6),
    (Filters(kinds=(Kind.REPORT,)), "When shall a creditor notify an applicant?", 3),
    (Filters(languages=("zh",)), "When shall a creditor notify the applicant of its 客户 records?", 4),
    (Filters(as_of=date(2015, 6, 1)), "When shall a creditor notify an applicant?", 6),
    (Filters(jurisdictions=("EU", "US"), kinds=(Kind.REGULATION,), as_of=date(2024, 1, 1)),
     "Which notices shall a creditor keep on file for 18 months?", 6),
]


@pytest.mark.parametrize("mode", FUSIONS)
@pytest.mark.parametrize("filters, question, k", FILTERS)
def test_selective_filters_apply_inside_each_search_and_still_return_k(make, index, mode, filters, question, k):
    # candidates == k: were the filter applied after the search, the few unfiltered candidates would be mostly
    # clauses the filter rejects, and fewer than k would come back.
    retriever = make(candidates=k, **FUSIONS[mode])
    unfiltered = retriever.retrieve(question, k=k)
    assert any(not filters.admits(h.document) for h in unfiltered)  # the filter is selective for this question
    hits = retriever.retrieve(question, filters, k=k)
    assert len(hits) == k
    assert all(filters.admits(h.document) for h in hits)


@pytest.mark.parametrize("mode", FUSIONS)
def test_filters_apply_to_named_clauses(make, mode):
    retriever = make(**FUSIONS[mode])
    question = "What does Article 17 require?"
    mica = [h for h in retriever.retrieve(question, Filters(doc_ids=("MiCA",)), k=6) if h.via == "reference"]
    assert refs(mica) == ["MiCA Art. 17(1)", "MiCA Art. 17(2)"]
    assert not [h for h in retriever.retrieve(question, Filters(jurisdictions=("US",)), k=6) if h.via == "reference"]


@pytest.mark.parametrize("day, words", [(date(2015, 6, 1), "18 months"), (date(2024, 1, 1), "25 months")])
def test_as_of_picks_the_version_of_a_named_clause(make, day, words):
    hits = make().retrieve("What does 12 CFR 1002.12(b)(1) require?", Filters(as_of=day), k=3)
    named = [h for h in hits if h.via == "reference"]
    assert len(named) == 1 and words in named[0].clause.text


def test_filters_that_admit_nothing_return_nothing(make):
    assert make().retrieve("When shall a creditor notify?", Filters(doc_ids=("no such document",))) == []
    assert make().retrieve("   ") == []


def test_the_allowed_mask_matches_the_filters(make, index):
    retriever = make()
    assert retriever.allowed(Filters()) is None
    mask = retriever.allowed(Filters(jurisdictions=("CN",)))
    assert mask.tolist() == [index.documents[c.version_id].jurisdiction == "CN" for c in index.clauses]


# --- fusion --------------------------------------------------------------------------------------------------------

QUESTION = "How many days does a creditor have to notify after adverse action on an existing account?"


def _rankings(retriever: Retriever, question: str):
    n = retriever.settings.candidates
    dense = retriever.index.search(HashEmbedder().embed_query(question), n)[0]
    lexical = LexicalIndex([lexical_text(c) for c in retriever.index.clauses]).top(question, n)
    return dense, lexical


def test_dense_only_ranks_by_inner_product_and_never_runs_bm25(make):
    retriever = make(**FUSIONS["dense-only"])
    hits = retriever.retrieve(QUESTION, k=6)
    dense, _ = _rankings(retriever, QUESTION)
    assert [retriever.index.position(h.clause.clause_id) for h in hits] == [p for p, _ in dense[:6]]
    assert {h.via for h in hits} == {"dense"} and all(h.lexical_score is None for h in hits)
    assert [h.score for h in hits] == pytest.approx([s for _, s in dense[:6]])


def test_bm25_only_ranks_by_bm25_and_never_embeds_the_question(make):
    retriever = make(**FUSIONS["bm25-only"])
    hits = retriever.retrieve(QUESTION, k=6)
    _, lexical = _rankings(retriever, QUESTION)
    assert [retriever.index.position(h.clause.clause_id) for h in hits] == [p for p, _ in lexical[:6]]
    assert {h.via for h in hits} == {"lexical"} and all(h.dense_score is None for h in hits)
    assert retriever.embedder.queries == 0


def test_rrf_sums_reciprocal_ranks_of_both_lists(make):
    retriever = make(fusion="rrf", rrf_k=60)
    dense, lexical = _rankings(retriever, QUESTION)
    expected: dict[int, float] = {}
    for ranking in (dense, lexical):
        for rank, (p, _) in enumerate(ranking, start=1):
            expected[p] = expected.get(p, 0.0) + 1 / (60 + rank)
    order = sorted(expected, key=lambda p: (-expected[p], p))[:8]
    hits = retriever.retrieve(QUESTION, k=8)
    assert [retriever.index.position(h.clause.clause_id) for h in hits] == order
    assert [h.score for h in hits] == pytest.approx([expected[p] for p in order])
    both = {p for p, _ in dense} & {p for p, _ in lexical}
    assert all(h.via == ("hybrid" if retriever.index.position(h.clause.clause_id) in both else h.via) for h in hits)
    assert hits[0].dense_score is not None and hits[0].lexical_score is not None


def test_weighted_fusion_mixes_z_scores_by_dense_weight(make):
    w = 0.65
    retriever = make(fusion="weighted", dense_weight=w)
    dense, lexical = _rankings(retriever, QUESTION)

    def z(ranking):
        values = np.array([s for _, s in ranking])
        zs = (values - values.mean()) / values.std()
        return {p: v for (p, _), v in zip(ranking, zs)}, zs.min()

    (zd, floor_d), (zl, floor_l) = z(dense), z(lexical)
    expected = {p: w * zd.get(p, floor_d) + (1 - w) * zl.get(p, floor_l) for p in set(zd) | set(zl)}
    order = sorted(expected, key=lambda p: (-expected[p], p))[:8]
    hits = retriever.retrieve(QUESTION, k=8)
    assert [retriever.index.position(h.clause.clause_id) for h in hits] == order
    assert [h.score for h in hits] == pytest.approx([expected[p] for p in order], rel=1e-5)


def test_the_fusion_modes_disagree_somewhere(make):
    orders = {mode: refs(make(**FUSIONS[mode]).retrieve(QUESTION, k=8)) for mode in FUSIONS}
    assert orders["dense-only"] != orders["bm25-only"]
    assert len({tuple(o) for o in orders.values()}) >= 3


# --- parents -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("child, parent", [
    ("12 CFR 1002.9(a)(1)(iii)", "12 CFR 1002.9(a)(1)"),
    ("12 CFR 1002.9(a)(1)", "12 CFR 1002.9(a)"),
    ("GDPR Art. 17(1)(b)", "GDPR Art. 17(1)"),
    ("反洗钱法 第二十九条（二）", "反洗钱法 第二十九条"),
    ("12 CFR 1002.9(a)", None),  # its parent "§ 1002.9" is not a clause here
    ("GDPR Art. 17(1)", None),
    ("adverse-action-review, 1 Summary", None),
])
def test_parent_lead_in_is_the_clause_one_step_up_in_the_same_document(make, index, child, parent):
    clause = next(c for c in index.clauses if c.reference == child and c.version_id != REGB_2011.version_id)
    found = make().parent_lead_in(clause)
    assert (found.reference if found else None) == parent
    if found:
        assert found.version_id == clause.version_id


def test_bm25_is_loaded_once_per_snapshot_never_rebuilt_and_let_go_with_it(data_dir, monkeypatch):
    import gc

    import rag.lexical as lexical
    import rag.retrieve as retrieve
    from rag.stores.faiss_store import FaissReader

    built, loaded = [], []

    class CountingLexicalIndex(lexical.LexicalIndex):
        def __init__(self, texts, *args, **kwargs):
            built.append(len(texts))
            super().__init__(texts, *args, **kwargs)

    real = FaissReader.saved_lexical
    monkeypatch.setattr(lexical, "LexicalIndex", CountingLexicalIndex)
    monkeypatch.setattr(FaissReader, "saved_lexical", lambda self: loaded.append(self.state.generation) or real(self))
    settings = load_settings(env={}, overrides={"data_dir": data_dir})
    snapshot = open_index(settings)
    first, second = Retriever(snapshot, HashEmbedder(), settings), Retriever(snapshot, HashEmbedder(), settings)
    first.retrieve(QUESTION)
    second.retrieve("another question about records")
    assert loaded == [snapshot.generation] and built == []  # two retrievers, one load of what the writer saved
    Retriever(open_index(settings), HashEmbedder(), settings).retrieve(QUESTION)
    assert len(loaded) == 2 and built == []  # another snapshot loads its own
    held = len(retrieve._STRUCTURES)
    del first, second, snapshot
    gc.collect()
    assert len(retrieve._STRUCTURES) < held  # nothing keeps a dropped snapshot alive


def test_a_generation_without_a_saved_bm25_index_builds_one_with_the_same_ranking(data_dir, tmp_path):
    import shutil

    from rag.store import lexical_dir

    shutil.copytree(data_dir, tmp_path / "data")
    settings = load_settings(env={}, overrides={"data_dir": tmp_path / "data"})
    snapshot = open_index(settings)
    saved = Retriever(snapshot, HashEmbedder(), settings.replace(dense_weight=0.0)).retrieve(QUESTION, k=5)
    shutil.rmtree(lexical_dir(snapshot.index_dir, snapshot.generation))  # as a store from before issue 16
    again = open_index(settings)
    assert again.saved_lexical() is None
    rebuilt = Retriever(again, HashEmbedder(), settings.replace(dense_weight=0.0)).retrieve(QUESTION, k=5)
    assert [(h.clause.clause_id, round(h.score, 5)) for h in rebuilt] == [
        (h.clause.clause_id, round(h.score, 5)) for h in saved]


# --- the packaged embedder on the sample corpus ------------------------------------------------------------------

@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    from ingest.pipeline import ingest_paths
    from rag.embed import load_embedder

    settings = load_settings(env={}, overrides={"data_dir": tmp_path_factory.mktemp("sample") / "data"})
    embedder = load_embedder(settings)
    ingest_paths([ROOT / "corpus" / "regulations", ROOT / "corpus" / "reports"], settings, progress=False,
                 embedder=embedder)
    return Retriever(open_index(settings), embedder, settings)


@pytest.mark.slow
@pytest.mark.parametrize("question", ["哪些情形下金融机构应当开展客户尽职调查？", "金融机构什么时候要做客户尽职调查"])
def test_a_chinese_question_finds_article_29_with_the_packaged_english_embedder(sample, question):
    hits = sample.retrieve(question, k=5)
    assert not any(h.via == "reference" for h in hits)
    assert hits[0].clause.reference.startswith("反洗钱法 第二十九条")


@pytest.mark.slow
@pytest.mark.parametrize("question, first", [
    ("How long does a creditor have to notify an applicant after taking adverse action on an existing account?",
     "12 CFR 1002.9(a)(1)(iii)"),
    ("What does § 1002.9(a)(2) require?", "12 CFR 1002.9(a)(2)"),
    ("When must a processor tell the controller about a personal data breach?", "GDPR Art. 33(2)"),
])
def test_the_sample_corpus_finds_the_clause_that_answers_among_the_first_three(sample, question, first):
    assert first in refs(sample.retrieve(question, k=5)[:3])


# --- reranking ---------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cross_encoder(tmp_path_factory) -> Path:
    """A tiny random BERT cross-encoder with one relevance logit (no reranker ships offline)."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    folder = tmp_path_factory.mktemp("cross-encoder")
    words = sorted({w.lower() for _, _, _, _, text, _ in CORPUS for w in re.findall(r"[A-Za-z]+", text)}
                   | set(re.findall(r"[a-z]+", QUESTION.lower())))
    (folder / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]) + "\n")
    BertTokenizerFast(vocab_file=str(folder / "vocab.txt")).save_pretrained(folder)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(words) + 5, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, num_labels=1)
    BertForSequenceClassification(config).save_pretrained(folder)
    return folder


@pytest.mark.slow
def test_a_cross_encoder_reorders_the_fused_candidates(make, cross_encoder):
    from rag.rerank import Reranker

    plain = make(candidates=10)
    reranker = Reranker(str(cross_encoder))
    reranked = make(candidates=10, reranker_object=reranker)
    before = plain.retrieve(QUESTION, k=10)
    after = reranked.retrieve(QUESTION, k=10)
    assert {h.via for h in after} == {"rerank"}
    assert {h.clause.clause_id for h in after} == {h.clause.clause_id for h in before}  # same pool, new order
    expected = reranker.scores(QUESTION, [h.clause.text for h in before])
    by_id = {h.clause.clause_id: s for h, s in zip(before, expected)}
    assert [h.score for h in after] == pytest.approx(sorted(by_id.values(), reverse=True))
    assert [h.score for h in after] == pytest.approx([by_id[h.clause.clause_id] for h in after])
    assert refs(after) != refs(before)


@pytest.mark.slow
def test_a_configured_reranker_is_built_from_settings_and_keeps_named_clauses_first(make, cross_encoder):
    retriever = make(reranker=str(cross_encoder))
    assert retriever.reranker is not None and retriever.reranker.name == str(cross_encoder)
    hits = retriever.retrieve("What does GDPR Article 17(1) say about erasure?", k=6)
    assert [h.via for h in hits] == ["reference"] * 3 + ["rerank"] * 3
    assert refs(hits)[0] == "GDPR Art. 17(1)"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["/nonexistent/cross-encoder", "no-such-org/no-such-reranker"])
def test_a_missing_reranker_model_says_how_to_fix_it(make, name):
    retriever = make(reranker=name)  # constructing loads nothing
    with pytest.raises(ModelUnavailable, match=r"(?s)cannot load reranker .*REGCITE_RERANKER.*empty string"):
        retriever.retrieve(QUESTION)
