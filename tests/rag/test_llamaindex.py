"""LlamaIndex adapters over the sample corpus: nodes carry clause provenance; the query engine answers as regcite does."""
from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from llama_index.core.schema import MetadataMode

from ingest.pipeline import ingest_paths
from rag.config import load_settings
from rag.llamaindex import RegciteQueryEngine, RegciteRetriever, hit_metadata
from rag.pipeline import Pipeline, open_pipeline
from rag.types import CharSpan, Clause, DocumentVersion, Filters, Hit, Kind, PageSpan

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = [ROOT / "corpus" / "regulations", ROOT / "corpus" / "reports"]
QUESTION = "How long does a creditor have to notify an applicant after taking adverse action on an existing account?"


class HashEmbedder:
    """Hashed word (and Han character) counts, L2-normalised: deterministic and instant."""

    name = "fake-hash-64"
    dim = 64

    def embed_documents(self, texts):
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"[a-z0-9]+|[\u4e00-\u9fff]", text.lower()):
                out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1.0
        out[:, 0] += 1e-3
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def embed_query(self, text):
        return self.embed_documents([text])[0]


def _pipeline(data_dir: Path, embedder) -> Pipeline:
    settings = load_settings(env={}, overrides={"data_dir": data_dir})
    ingest_paths(SAMPLE, settings, progress=False, embedder=embedder)
    return open_pipeline(settings, embedder=embedder)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory) -> Pipeline:
    return _pipeline(tmp_path_factory.mktemp("li") / "data", HashEmbedder())


@pytest.fixture(scope="module")
def retriever(pipeline):
    return pipeline.retriever


def test_nodes_are_the_retrievers_hits_with_their_provenance(retriever):
    hits = retriever.retrieve(QUESTION)
    nodes = RegciteRetriever(retriever).retrieve(QUESTION)
    assert [n.node.node_id for n in nodes] == [h.clause.clause_id for h in hits]
    assert [n.score for n in nodes] == [h.score for h in hits]
    for node, hit in zip(nodes, hits):
        m = node.node.metadata
        assert node.node.get_content() == hit.clause.text
        assert (m["reference"], m["document_title"], m["doc_id"], m["version_id"]) == (
            hit.clause.reference, hit.document.title, hit.document.doc_id, hit.clause.version_id)
        assert (m["page_first"], m["page_last"], m["pages"]) == (
            hit.clause.page_span.first, hit.clause.page_span.last, str(hit.clause.page_span))
        assert (m["kind"], m["jurisdiction"], m["language"]) == (
            hit.document.kind.value, hit.document.jurisdiction, hit.document.language)
        assert m["headings"] == " > ".join(hit.clause.headings)
        assert (m["via"], m["dense_score"], m["lexical_score"]) == (hit.via, hit.dense_score, hit.lexical_score)


def test_a_page_span_prints_as_a_citation_would():
    doc = DocumentVersion("v", "D", "Doc", Kind.REGULATION, "US", "en", "/x.pdf", "0" * 64, (0, 10, 20))
    clause = Clause("v:0", "v", 0, ("§ 1.1",), "D 1.1", ("Part 1", "§ 1.1 Scope."), "text", CharSpan(0, 4),
                    PageSpan(13, 14))
    m = hit_metadata(Hit(clause, doc, 0.5, None, 2.0, "lexical"))
    assert (m["pages"], m["headings"], m["dense_score"], m["lexical_score"]) == ("pp. 13-14", "Part 1 > § 1.1 Scope.", None, 2.0)


def test_the_llm_sees_reference_title_and_pages_but_not_ids_or_scores(retriever):
    node = RegciteRetriever(retriever).retrieve(QUESTION)[0].node
    shown = node.get_content(metadata_mode=MetadataMode.LLM)
    assert f"reference: {node.metadata['reference']}" in shown and "pages: p. " in shown
    assert node.metadata["version_id"] not in shown and "dense_score" not in shown
    assert node.get_content(metadata_mode=MetadataMode.EMBED) == shown


def test_metadata_is_flat_so_any_llamaindex_store_takes_the_nodes(retriever):
    from llama_index.core.vector_stores.utils import node_to_metadata_dict

    for n in RegciteRetriever(retriever).retrieve("GDPR Article 17(1)(b)"):
        node_to_metadata_dict(n.node, flat_metadata=True)  # raises on nested values


def test_a_named_clause_comes_first_and_filters_apply(retriever):
    nodes = RegciteRetriever(retriever).retrieve("What does GDPR Article 17(1)(b) say?")
    assert nodes[0].node.metadata["reference"] == "GDPR Art. 17(1)(b)" and nodes[0].node.metadata["via"] == "reference"
    only_us = RegciteRetriever(retriever, filters=Filters(jurisdictions=("US",)), k=3)
    nodes = only_us.retrieve(QUESTION)
    assert len(nodes) == 3 and {n.node.metadata["jurisdiction"] for n in nodes} == {"US"}


def test_the_query_engine_answers_exactly_as_the_pipeline(pipeline):
    expected = pipeline.answer(QUESTION)
    response = RegciteQueryEngine(pipeline).query(QUESTION)
    assert not expected.abstained and expected.citations
    assert response.response == expected.text and str(response) == expected.text
    answer = response.metadata["answer"]
    assert answer.text == expected.text and answer.citations == expected.citations
    assert (response.metadata["abstained"], response.metadata["backend"], response.metadata["model"]) == (
        False, "extractive", "extractive")
    cited = list(dict.fromkeys(c.clause_id for c in expected.citations))
    assert [n.node.node_id for n in response.source_nodes] == cited
    for node in response.source_nodes:
        m = node.node.metadata
        citation = next(c for c in expected.citations if c.clause_id == node.node.node_id)
        assert (m["marker"], m["reference"], m["pages"], m["quote"]) == (
            citation.marker, citation.reference, str(citation.page_span), citation.quote)
        assert m["verdict"] in ("supported", "partial", "unsupported") and 0.0 <= m["support"] <= 1.0
        assert node.score == m["support"]
        assert re.search(re.escape(m["marker"]), response.response)


def test_the_query_engine_applies_filters_and_reports_an_abstention(pipeline):
    engine = RegciteQueryEngine(pipeline, filters=Filters(languages=("zh",)))
    response = engine.query(QUESTION)
    assert response.metadata["abstained"] is True and response.source_nodes == []
    assert response.response == response.metadata["answer"].text and "lang=zh" in response.response
    assert all(h.document.language == "zh" for h in response.metadata["answer"].hits)


def test_the_query_engine_answers_under_the_pipelines_settings(pipeline):
    narrow = pipeline.with_settings(pipeline.settings.replace(top_k=2))
    answer = RegciteQueryEngine(narrow).query(QUESTION).metadata["answer"]
    assert len(answer.hits) == 2 and answer.hits == pipeline.answer(QUESTION).hits[:2]


def test_importing_rag_does_not_import_llama_index():
    code = ("import sys, rag, rag.retrieve, rag.answer, rag.lexical, rag.references, rag.rerank, rag.store\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('llama_index', 'torch', 'sentence_transformers')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@pytest.mark.slow
def test_the_query_engine_matches_the_pipeline_with_the_packaged_embedder(tmp_path):
    from rag.embed import load_embedder

    settings = load_settings(env={}, overrides={"data_dir": tmp_path / "data"})
    pipeline = _pipeline(tmp_path / "data", load_embedder(settings))
    for question in (QUESTION, "反洗钱法第二十九条规定了哪些情形？"):
        expected = pipeline.answer(question)
        response = RegciteQueryEngine(pipeline).query(question)
        assert response.response == expected.text and not expected.abstained
        assert [n.node.metadata["marker"] for n in response.source_nodes] == list(
            dict.fromkeys(c.marker for c in expected.citations))
