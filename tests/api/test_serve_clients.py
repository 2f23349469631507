"""`regcite serve` as a real process on loopback, used by the official openai client and LlamaIndex's OpenAILike:
the Reg B adverse-action question comes back citing 12 CFR 1002.9(a)(1)(iii) with its page, and is recorded."""
from __future__ import annotations

import json
import subprocess

import httpx
import pytest

from tests.api.conftest import (ADVERSE_ACTION, ADVERSE_ACTION_PAGE, REG_B_QUESTION, ROOT, recorded_answers,
                                serve_command, server_settings, start_server, stop_server)

pytestmark = pytest.mark.e2e  # real servers (loopback only: the network guard would allow them anyway)


def _openai(server):
    from openai import OpenAI

    return OpenAI(base_url=server.v1, api_key="no-key-needed-without-users", max_retries=0, timeout=60)


def _adverse_action_citation(regcite: dict) -> dict:
    cited = [c for c in regcite["citations"] if c["reference"] == ADVERSE_ACTION]
    assert cited, regcite["citations"]
    return cited[0]


def test_openai_client_chat_completion_cites_the_clause_with_its_page(served):
    completion = _openai(served).chat.completions.create(
        model="regcite", messages=[{"role": "system", "content": "You are helpful."},
                                   {"role": "user", "content": REG_B_QUESTION}])
    text = completion.choices[0].message.content
    assert completion.choices[0].finish_reason == "stop"
    assert "30 days" in text and "[1]" in text
    assert f"**{ADVERSE_ACTION}**, p. {ADVERSE_ACTION_PAGE}" in text.split("**Sources**")[1]
    extra = completion.model_extra["regcite"]
    citation = _adverse_action_citation(extra)
    assert citation["page_span"] == {"first": ADVERSE_ACTION_PAGE, "last": ADVERSE_ACTION_PAGE}
    assert citation["verdict"] == "supported" and citation["effective_from"] == "2022-01-01"
    records = recorded_answers(served.settings)
    assert [(r.answer_id, r.question, r.user) for r in records] == [(extra["answer_id"], REG_B_QUESTION, "local")]


def test_openai_client_streams_chunks_ending_with_the_verified_answer_and_citations(served):
    stream = _openai(served).chat.completions.create(
        model="regcite", stream=True, messages=[{"role": "user", "content": REG_B_QUESTION}])
    chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" for c in chunks) and len({c.id for c in chunks}) == 1
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop" and all(c.choices[0].finish_reason is None for c in chunks[:-1])
    assert "30 days" in text and f"**{ADVERSE_ACTION}**, p. {ADVERSE_ACTION_PAGE}" in text
    regcite = last.model_extra["regcite"]
    assert regcite["text"] in text  # the verified answer, markers and all, is what the client ends up showing
    assert _adverse_action_citation(regcite)["pages"] == f"p. {ADVERSE_ACTION_PAGE}"
    assert [r.answer_id for r in recorded_answers(served.settings)] == [regcite["answer_id"]]


def test_llamaindex_openailike_chat_and_stream_chat(served):
    from llama_index.core.llms import ChatMessage
    from llama_index.llms.openai_like import OpenAILike

    llm = OpenAILike(model="regcite", api_base=served.v1, api_key="none", is_chat_model=True, max_retries=0,
                     timeout=60)
    reply = llm.chat([ChatMessage(role="user", content=REG_B_QUESTION)])
    assert "30 days" in reply.message.content
    assert f"**{ADVERSE_ACTION}**, p. {ADVERSE_ACTION_PAGE}" in reply.message.content
    streamed = list(llm.stream_chat([ChatMessage(role="user", content=REG_B_QUESTION)]))
    final = streamed[-1].message.content  # LlamaIndex accumulates the deltas
    assert len(streamed) > 1 and f"**{ADVERSE_ACTION}**, p. {ADVERSE_ACTION_PAGE}" in final
    assert [r.user for r in recorded_answers(served.settings)] == ["local", "local"]


def test_ask_streams_tokens_then_the_recorded_answer(served):
    events = []
    with httpx.stream("POST", f"{served.v1}/ask", json={"question": REG_B_QUESTION, "stream": True},
                      timeout=60) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        name = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line[len("event: "):]
            elif line.startswith("data: "):
                events.append((name, json.loads(line[len("data: "):])))
    names = [n for n, _ in events]
    assert names[-1] == "answer" and set(names[:-1]) == {"token"}
    answer = events[-1][1]
    assert "".join(d["text"] for n, d in events if n == "token").strip() == answer["text"]
    assert _adverse_action_citation(answer)["page_span"]["first"] == ADVERSE_ACTION_PAGE
    assert answer["entry"] == "api" and answer["state"] == "pending"
    shown = httpx.get(f"{served.v1}/answers/{answer['answer_id']}", timeout=10).json()
    assert shown["text"] == answer["text"] and shown["citations"] == answer["citations"]


def test_a_dead_llm_server_is_stated_and_answered_extractively(sample_data_dir, tmp_path):
    settings = server_settings(sample_data_dir, tmp_path, llm_backend="openai", llm_model="m",
                               llm_base_url="http://127.0.0.1:9/v1", llm_retries=0, llm_timeout_s=2.0)
    server = start_server(settings, tmp_path / "serve.log")
    try:
        health = httpx.get(f"{server.v1}/health", timeout=10).json()
        assert health["status"] == "degraded" and health["backend"]["reachable"] is False
        answer = httpx.post(f"{server.v1}/ask", json={"question": REG_B_QUESTION}, timeout=60).json()
        assert answer["backend"] == "extractive"
        assert answer["fallback_reason"].startswith("openai backend unavailable (http://127.0.0.1:9/v1")
        content = _openai(server).chat.completions.create(
            model="regcite", messages=[{"role": "user", "content": REG_B_QUESTION}]).choices[0].message.content
        assert content.startswith("_fallback: openai backend unavailable") and ADVERSE_ACTION in content
    finally:
        stop_server(server)


def test_without_an_index_answers_are_503_and_health_says_so(tmp_path):
    server = start_server(server_settings(tmp_path / "empty", tmp_path), tmp_path / "serve.log")
    try:
        health = httpx.get(f"{server.v1}/health", timeout=10).json()
        assert health["index_generation"] is None and health["status"] == "degraded"
        response = httpx.post(f"{server.v1}/ask", json={"question": REG_B_QUESTION}, timeout=30)
        assert response.status_code == 503 and response.json()["error"]["code"] == "index_missing"
        assert "regcite ingest" in response.json()["error"]["message"]
        assert httpx.get(f"{server.v1}/documents", timeout=10).status_code == 503
        assert recorded_answers(server.settings) == []
    finally:
        stop_server(server)
    out = server.output()
    assert "no users are defined: requests need no key and act as the local user" in out


def test_without_users_serve_refuses_a_non_loopback_host(sample_data_dir, tmp_path):
    argv, env = serve_command(server_settings(sample_data_dir, tmp_path), "0.0.0.0", 9)
    done = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "listens on loopback only (127.0.0.1, ::1), not 0.0.0.0" in done.stderr
    assert "regcite users add NAME --role admin" in done.stderr
