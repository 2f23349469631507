"""`regcite ask`: streamed text then references, pages, verdicts, backend, model and timings; --json is the Answer."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

import rag.pipeline
from rag.answer import answer_question
from rag.config import load_settings
from rag.llm import make_backend
from rag.verify import Verifier
from regcite import ask_cmd
from tests.rag.answer_fixtures import LexicalRetriever

REG_B_Q = "How long does a creditor have to notify an applicant after taking adverse action on an existing account?"


class FixturePipeline:
    """The pipeline `ask` opens, over the hand-built fixture clauses, with the backend its settings name."""

    def __init__(self, settings, retriever):
        self.settings, self.retriever = settings, retriever

    def answer(self, question, filters, on_token=None):
        return answer_question(question, self.retriever, make_backend(self.settings), Verifier(), self.settings,
                               filters, on_token)


def _run(argv, settings, monkeypatch, retriever=None):
    retriever = retriever or LexicalRetriever()
    monkeypatch.setattr(rag.pipeline, "open_pipeline", lambda s: FixturePipeline(s, retriever))
    parser = argparse.ArgumentParser()
    ask_cmd.add_arguments("ask", parser)
    return ask_cmd.run("ask", parser.parse_args(argv), settings), retriever


@pytest.fixture
def settings(tmp_path):
    return load_settings(env={}, overrides={"data_dir": tmp_path / "data"})


def test_ask_prints_answer_references_pages_verdicts_backend_and_timings(settings, monkeypatch, capsys):
    code, _ = _run([REG_B_Q], settings, monkeypatch)
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("A creditor shall notify") and "30 days" in out.split("\n")[0]
    assert "[1] 12 CFR 1002.9(a)(1)(iii), p. 14 — Equal Credit Opportunity Act (Regulation B) (supported" in out
    assert "backend extractive, model extractive; retrieve" in out and "total" in out


def test_ask_json_is_the_full_answer(settings, monkeypatch, capsys):
    code, _ = _run([REG_B_Q, "--json"], settings, monkeypatch)
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["abstained"] is False and data["backend"] == "extractive"
    citation = data["sentences"][0]["citations"][0]
    assert citation["reference"] == "12 CFR 1002.9(a)(1)(iii)" and citation["page_span"] == {"first": 14, "last": 14}
    assert citation["verdict"] == "supported" and data["citations"][0] == citation
    assert (data["hits"][0]["rank"], data["hits"][0]["kind"], data["hits"][0]["clause_id"]) == (
        1, "regulation", citation["clause_id"])


def test_ask_filters_reach_the_retriever(settings, monkeypatch, capsys):
    _, retriever = _run(["客户身份资料应当保存多少年？", "--doc", "反洗钱法", "--jurisdiction", "CN", "--kind", "regulation",
                         "--lang", "zh", "-k", "3"], settings, monkeypatch)
    _, filters, k = retriever.calls[0]
    assert (filters.doc_ids, filters.jurisdictions, [x.value for x in filters.kinds], filters.languages, k) == \
        (("反洗钱法",), ("CN",), ["regulation"], ("zh",), 3)
    assert "十年" in capsys.readouterr().out


def test_ask_against_a_dead_server_shows_the_fallback(settings, monkeypatch, capsys):
    code, _ = _run([REG_B_Q, "--backend", "openai", "--model", "m", "--base-url", "http://127.0.0.1:9/v1"],
                   settings.replace(llm_retries=0), monkeypatch)
    out = capsys.readouterr().out
    assert code == 0 and "fallback: openai backend unavailable (http://127.0.0.1:9/v1" in out
    assert "backend extractive" in out


def test_ask_out_of_corpus_abstains(settings, monkeypatch, capsys):
    _run(["证券公司的净资本不得低于多少？"], settings, monkeypatch)
    out = capsys.readouterr().out
    assert out.startswith("The indexed documents do not say.") and "abstained" in out


def test_ask_module_imports_nothing_heavy():
    code = ("import sys, argparse, regcite.ask_cmd as m; m.add_arguments('ask', argparse.ArgumentParser()); "
            "print(sorted({'torch','transformers','openai','faiss','sentence_transformers','rag.answer'} & "
            "set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
