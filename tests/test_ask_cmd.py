"""`regcite ask`: streamed text then references, pages, verdicts, backend, model and timings; --json is the Answer;
every answer shown is recorded, as the local user or the one logged in."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from types import SimpleNamespace

import pytest

import rag.pipeline
from rag.answer import answer_question
from rag.errors import AuthError
from rag.llm import make_backend
from rag.records.answers import load_answer
from rag.records.book import open_book
from rag.records.users import LOCAL_USER, Role, add_user
from tests.grants import let_read
from rag.verify import Verifier
from regcite import ask_cmd
from tests.rag.answer_fixtures import LexicalRetriever

REG_B_Q = "How long does a creditor have to notify an applicant after taking adverse action on an existing account?"


class FixturePipeline:
    """The pipeline `ask` opens, over the hand-built fixture clauses, with the backend its settings name."""

    def __init__(self, settings, retriever):
        self.settings, self.retriever = settings, retriever
        self.backend, self.index = make_backend(settings), SimpleNamespace(generation=1)

    def answer(self, question, filters, on_token=None):
        return answer_question(question, self.retriever, self.backend, Verifier(), self.settings, filters, on_token)


def _run(argv, settings, monkeypatch, retriever=None):
    retriever = retriever or LexicalRetriever()
    monkeypatch.setattr(rag.pipeline, "open_pipeline", lambda s: FixturePipeline(s, retriever))
    parser = argparse.ArgumentParser()
    parser.add_argument("--user")  # the global option of regcite.cli
    ask_cmd.add_arguments("ask", parser)
    return ask_cmd.run("ask", parser.parse_args(argv), settings), retriever


@pytest.fixture
def book(settings):
    opened = open_book(settings)
    yield opened
    opened.db.dispose()


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


def test_ask_records_the_answer_it_shows_as_the_local_user(settings, book, monkeypatch, capsys):
    code, _ = _run([REG_B_Q], settings, monkeypatch)
    last = capsys.readouterr().out.rstrip().splitlines()[-1]
    assert code == 0 and last.startswith("recorded as answer ") and last.endswith(" by local")
    recorded = load_answer(book, last.split()[3])
    assert (recorded.user, recorded.entry, recorded.question) == ("local", "cli", REG_B_Q)
    assert recorded.cited[0].reference == "12 CFR 1002.9(a)(1)(iii)" and "30 days" in recorded.cited[0].text


def test_ask_as_a_user_records_their_name_and_json_says_it(settings, book, monkeypatch, capsys):
    ada = add_user(book, "ada", Role.ADMIN, "correct horse battery", by=LOCAL_USER)
    add_user(book, "ann", Role.ASKER, "ann's long password", by=ada)
    let_read(book, "ann")
    monkeypatch.setenv("REGCITE_PASSWORD", "ann's long password")
    code, _ = _run([REG_B_Q, "--json", "--user", "ann"], settings, monkeypatch)
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["user"] == "ann" and load_answer(book, data["answer_id"]).user == "ann"
    assert data["citations"][0]["reference"] == "12 CFR 1002.9(a)(1)(iii)"


def test_ask_refuses_an_anonymous_or_wrong_login_before_answering(settings, book, monkeypatch):
    add_user(book, "ada", Role.ADMIN, "correct horse battery", by=LOCAL_USER)
    with pytest.raises(AuthError, match="--user NAME"):
        _run([REG_B_Q], settings, monkeypatch)
    monkeypatch.setenv("REGCITE_PASSWORD", "not the password")
    retriever = LexicalRetriever()
    with pytest.raises(AuthError, match="wrong user name or password"):
        _run([REG_B_Q, "--user", "ada"], settings, monkeypatch, retriever)
    assert retriever.calls == []


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
