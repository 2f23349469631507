"""The whole answering path: relevance and abstention, fallback, and Reg B over a real index (store + embedder)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rag.answer import answer_question, relevance
from rag.prompt import ABSTAIN
from rag.config import load_settings
from rag.llm.extractive import ExtractiveBackend
from rag.llm.profiles import PROFILES
from rag.llm.scripted import ScriptedBackend
from rag.types import Filters, Hit, Verdict
from rag.verify import Verifier
from tests.conftest import shared_path
from tests.rag.answer_fixtures import AML, CLAUSES, REG_B, LexicalRetriever, hit

REG_B_Q = "How long does a creditor have to notify an applicant after taking adverse action on an existing account?"
OUT_OF_CORPUS = "证券公司的净资本不得低于多少？"


@pytest.fixture
def settings(tmp_path):
    return load_settings(env={}, overrides={"data_dir": tmp_path / "data"})


def ask(question, retriever, backend, settings, **options):
    """answer_question with a verifier that reads words and numbers only (no embedder, no NLI)."""
    return answer_question(question, retriever, backend, Verifier(), settings, **options)


def test_out_of_corpus_chinese_question_abstains_and_says_what_it_searched(settings):
    answer = ask(OUT_OF_CORPUS, LexicalRetriever(), ExtractiveBackend(), settings)
    assert answer.abstained and answer.sentences == ()
    assert answer.text.startswith(ABSTAIN)
    assert "Searched 2 documents (12 CFR 1002, 反洗钱法)" in answer.text


def test_abstention_names_the_filters_it_searched_with(settings):
    answer = ask("What is the capital of France?", LexicalRetriever(), ExtractiveBackend(), settings,
                             filters=Filters(jurisdictions=("US",)))
    assert answer.abstained and "Searched 1 document (12 CFR 1002) with filters jurisdiction=US." in answer.text


def test_a_clause_named_in_the_question_is_always_relevant(settings):
    named = Hit(CLAUSES[0][0], REG_B, 0.1, via="reference")
    assert relevance("完全无关的问题", [named], settings) == (True, 1.0)


def test_the_dense_score_does_not_count_for_chinese_with_the_english_embedder(settings):
    h = hit("反洗钱法 第二十九条", dense=0.9)
    assert not relevance(OUT_OF_CORPUS, [h], settings)[0]
    assert relevance("unrelated english words here", [hit("12 CFR 1002.9(a)(1)(iii)", dense=0.9)], settings)[0]


def test_abstain_below_setting_moves_the_floor(settings):
    hits = LexicalRetriever().retrieve(REG_B_Q)
    assert relevance(REG_B_Q, hits, settings)[0]
    assert not relevance(REG_B_Q, hits, settings.replace(abstain_below=0.99))[0]


def test_a_model_that_says_the_documents_do_not_say_abstains(settings):
    answer = ask(REG_B_Q, LexicalRetriever(), ScriptedBackend([ABSTAIN]), settings)
    assert answer.abstained and answer.text.startswith(ABSTAIN) and answer.backend == "scripted"


def test_reasoning_is_kept_apart_from_the_answer_text(settings):
    raw = "<think>SECRET-TRACE: maybe 45?</think>A creditor has 30 days after adverse action on an existing account [1]."
    backend = ScriptedBackend([raw], profile=PROFILES["deepseek-r1"])
    tokens: list[str] = []
    answer = ask(REG_B_Q, LexicalRetriever(), backend, settings, on_token=tokens.append)
    assert "SECRET" not in answer.text and "SECRET" not in "".join(tokens)
    assert "SECRET-TRACE" in answer.reasoning
    assert answer.sentences[0].verdict is Verdict.SUPPORTED


def test_a_wrong_number_from_the_model_is_flagged(settings):
    backend = ScriptedBackend(["A creditor has 45 days after taking adverse action on an existing account [1]."])
    answer = ask(REG_B_Q, LexicalRetriever(), backend, settings)
    sentence = answer.sentences[0]
    assert sentence.verdict is Verdict.UNSUPPORTED
    assert any(p.startswith("45 not in 12 CFR 1002.9(a)(1)") for p in sentence.problems)


def test_unavailable_backend_falls_back_with_a_visible_reason(settings):
    answer = ask(REG_B_Q, LexicalRetriever(), ScriptedBackend(error="connection refused"), settings)
    assert answer.backend == "extractive" and "connection refused" in answer.fallback_reason
    assert answer.citations[0].reference == "12 CFR 1002.9(a)(1)(iii)"


def test_filters_reach_the_retriever(settings):
    retriever = LexicalRetriever()
    answer = ask("客户身份资料应当保存多少年？", retriever, ExtractiveBackend(), settings,
                             filters=Filters(languages=("zh",)))
    assert retriever.calls[0][1] == Filters(languages=("zh",))
    assert not answer.abstained and "十年" in answer.text
    assert answer.citations[0].reference == "反洗钱法 第二十九条"


class DenseRetriever:
    """The smallest real retriever: the packaged embedder over the real FAISS index of a committed store."""

    def __init__(self, index, embedder):
        self.index, self.embedder = index, embedder

    def retrieve(self, question, filters=Filters(), k=None):
        allowed = np.array([filters.admits(self.index.document_of(c)) for c in self.index.clauses])
        results = self.index.search(self.embedder.embed_query(question)[None, :], k or 8, allowed)[0]
        return [Hit(self.index.clauses[i], self.index.document_of(self.index.clauses[i]), s, dense_score=s,
                    via="dense") for i, s in results]

    def parent_lead_in(self, child):
        return LexicalRetriever().parent_lead_in(child)

    def admitted_doc_ids(self, filters):
        return sorted({d.doc_id for d in self.index.documents.values() if filters.admits(d)})

    def unavailable_on(self, question, filters):
        from rag.versions import unavailable_on

        day = filters.as_of
        return [] if day is None else unavailable_on(self.index.documents, self.admitted_doc_ids(Filters()), day)


@pytest.mark.slow
def test_reg_b_end_to_end_over_a_real_store_and_the_packaged_embedder(settings):
    from rag.embed import load_embedder
    from rag.store import open_index
    from rag.writer import open_writer

    embedder = load_embedder(settings)
    with open_writer(settings, embedder.name, embedder.dim) as w:
        for doc in (REG_B, AML):
            clauses = [c for c, d in CLAUSES if d is doc]
            w.add_version(doc, "\n".join(c.text for c in clauses), clauses,
                          embedder.embed_documents([c.text for c in clauses]))
        w.commit()
    index = open_index(settings)
    retriever = DenseRetriever(index, embedder)
    answer = answer_question(REG_B_Q, retriever, ExtractiveBackend(), Verifier(embedder), settings)
    assert not answer.abstained and "30 days" in answer.sentences[0].text
    c = answer.sentences[0].citations[0]
    assert (c.reference, str(c.page_span), c.verdict) == ("12 CFR 1002.9(a)(1)(iii)", "p. 14", Verdict.SUPPORTED)
    assert answer_question(OUT_OF_CORPUS, retriever, ExtractiveBackend(), Verifier(embedder), settings).abstained


@pytest.mark.slow
def test_reg_b_over_the_shared_corpus_with_the_project_retriever(settings):
    """Acceptance 1 on the real Reg B PDF: needs the ingest clause parser and rag.retrieve from the other half."""
    pdf = shared_path("corpus/regulations/us-cfr/12cfr1002_2017-20417_20220101.pdf")
    from ingest.pipeline import ingest_paths
    from rag.pipeline import open_pipeline

    ingest_paths([str(pdf)], settings, progress=False)
    pipeline = open_pipeline(settings)
    answer = pipeline.answer(REG_B_Q)
    cited = [c for c in answer.citations if c.reference == "12 CFR 1002.9(a)(1)(iii)"]
    assert cited and "30 days" in answer.text, answer.text
    assert str(cited[0].page_span) == "p. 13"  # the printed page of § 1002.9(a)(1)(iii) in the 2022 PDF
    assert pipeline.answer(OUT_OF_CORPUS).abstained


@pytest.mark.slow
def test_a_chinese_question_naming_an_article_answers_from_it_over_the_sample_corpus(settings):
    """The packaged English embedder cannot read Chinese: the named article and BM25 must carry the question."""
    from ingest.pipeline import ingest_paths
    from rag.pipeline import open_pipeline

    root = Path(__file__).resolve().parents[2]
    ingest_paths([str(root / "corpus" / "regulations")], settings, progress=False)
    answer = open_pipeline(settings).answer("反洗钱法第二十九条规定了哪些情形？")
    assert not answer.abstained
    assert answer.hits[0].via == "reference" and answer.hits[0].clause.reference == "反洗钱法 第二十九条"
    references = [c.reference for c in answer.citations]
    assert references[0] == "反洗钱法 第二十九条" and "反洗钱法 第二十九条（一）" in references, answer.text
    lead_in = "有下列情形之一的，金融机构应当开展客户尽职调查"
    assert answer.text.count(lead_in) == 1, answer.text  # the items do not repeat the words that introduce them


def test_a_model_tuned_from_the_english_embedder_still_cannot_read_chinese(settings, tmp_path):
    tuned = tmp_path / "minilm-tuned"
    tuned.mkdir()
    (tuned / "regcite-tuning.json").write_text(json.dumps({"base_model": "all-MiniLM-L6-v2",
                                                           "hyperparameters": {"side": "query"}}))
    h = hit("12 CFR 1002.9(a)(1)(iii)", dense=0.9)
    assert not relevance(OUT_OF_CORPUS, [h], settings.replace(embed_model=str(tuned)))[0]
    # A model of another lineage is trusted with Chinese: its cosines may mean something there.
    assert relevance(OUT_OF_CORPUS, [h], settings.replace(embed_model="BAAI/bge-m3"))[0]
