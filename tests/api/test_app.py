"""The application in-process (FastAPI's TestClient) over three dated versions of a small rule: listings, clauses,
diffs, structured errors, reviews, the OpenAI reply's text, and a server that stays responsive while it answers."""
from __future__ import annotations

import threading
import time

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.openai_compat import ChatMessage, last_question, stream_tail
from rag.config import load_settings
from rag.llm.scripted import ScriptedBackend
from rag.records.answers import load_answer
from rag.records.book import open_book
from tests.fakes import HashEmbedder
from tests.test_diff_cmd import VERSIONS

DOC = "12 CFR 1099"
QUESTION = "How many days does a creditor have to notify an applicant of action taken?"


@pytest.fixture(scope="module")
def rule_dir(tmp_path_factory):
    from ingest.pipeline import ingest_paths

    folder = tmp_path_factory.mktemp("rule")
    for year, text in VERSIONS.items():
        (folder / f"12cfr1099_{year}.md").write_text(text, encoding="utf-8")
    data = tmp_path_factory.mktemp("data")
    settings = load_settings(env={}, overrides={"data_dir": data})
    assert ingest_paths([folder], settings, progress=False, embedder=HashEmbedder()).added == 3
    return data


def _client(rule_dir, tmp_path, backend=None):
    from rag.pipeline import open_pipeline

    settings = load_settings(env={}, overrides={
        "data_dir": rule_dir, "database_url": f"sqlite:///{tmp_path / 'records.db'}",
        "audit_checkpoints": str(tmp_path / "checkpoints.jsonl"), "audit_key_file": str(tmp_path / "audit.key")})
    pipeline = open_pipeline(settings, embedder=HashEmbedder(), backend=backend)
    book = open_book(settings)
    return TestClient(create_app(settings, book=book, pipeline=pipeline)), book


@pytest.fixture
def client(rule_dir, tmp_path):
    client, book = _client(rule_dir, tmp_path)
    with client:
        yield client, book
    book.db.dispose()


def test_documents_versions_and_clauses_list_what_is_indexed(client):
    http, _ = client
    documents = http.get("/v1/documents").json()
    assert [d["doc_id"] for d in documents["documents"]] == [DOC]
    versions = http.get(f"/v1/documents/{DOC}/versions").json()["versions"]
    assert [(v["effective_from"], v["status"]) for v in versions] == [
        ("2020-01-01", "superseded"), ("2021-01-01", "superseded"), ("2022-01-01", "in_force")]
    hit = http.get("/v1/search", params={"q": "notify an applicant within days", "k": 2}).json()["hits"][0]
    clause = http.get(f"/v1/clauses/{hit['clause_id']}").json()
    assert clause["reference"] == hit["reference"] and clause["version_id"] == versions[-1]["version_id"]
    assert clause["text"] == hit["text"] and clause["pages"] == "p. 1"


def test_diff_between_the_latest_two_and_between_dates(client):
    http, _ = client
    latest = http.get("/v1/diff", params={"doc_id": DOC}).json()
    assert (latest["from_version"]["effective_from"], latest["to_version"]["effective_from"]) == ("2021-01-01",
                                                                                                  "2022-01-01")
    assert latest["summary"] == {"added": 1, "removed": 0, "modified": 1, "moved": 0, "editorial": 0}
    older = http.get("/v1/diff", params={"doc_id": DOC, "from": "2020-06-30", "to": "2021-01-01"}).json()
    assert ("modified", "12 CFR 1099.1(b)", True) in {(c["kind"], c["to_ref"], c["editorial"])
                                                      for c in older["changes"]}


@pytest.mark.parametrize("method, path, params, status, code, says", [
    ("get", "/v1/clauses/nope:1", None, 404, "not_found", "no clause 'nope:1'"),
    ("get", "/v1/answers/nope", None, 404, "not_found", "no recorded answer 'nope'"),
    ("get", "/v1/documents/12 CFR 9999/versions", None, 404, "not_found", "GET /v1/documents lists them"),
    ("get", "/v1/diff", {"doc_id": DOC, "from": "2022-01-01", "to": "2021-01-01"}, 422, "bad_input", "must be older"),
    ("get", "/v1/diff", {"doc_id": DOC, "from": "2019-13-01"}, 422, "bad_input", "is not a date"),
    ("get", "/v1/search", {"q": "x", "doc_id": "12 CFR 9999"}, 422, "bad_input", "no indexed document '12 CFR 9999'"),
    ("get", "/v1/search", {"q": "x", "k": 0}, 422, "bad_input", "query.k"),
    ("get", "/v1/nowhere", None, 404, "not_found", "no such path /v1/nowhere"),
])
def test_errors_are_json_with_a_code_a_message_and_the_right_status(client, method, path, params, status, code, says):
    http, _ = client
    response = getattr(http, method)(path, params=params)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and says in error["message"]


def test_bad_ask_input_is_422_and_records_nothing(client):
    from rag.records.queue import QueueFilter, list_answers

    http, book = client
    for body in ({"question": ""}, {"question": "  "}, {"question": QUESTION, "k": 0},
                 {"question": QUESTION, "as_of": "2021-02-30"}, {"question": QUESTION, "colour": "red"},
                 {"question": QUESTION, "filters": {"doc_ids": ["12 CFR 9999"]}}):
        response = http.post("/v1/ask", json=body)
        assert response.status_code == 422 and response.json()["error"]["code"] == "bad_input", body
    assert list_answers(book, QueueFilter(states=())) == []


def test_an_answer_as_of_a_date_is_recorded_with_it_and_shown_again(client):
    http, book = client
    answer = http.post("/v1/ask", json={"question": QUESTION, "as_of": "2020-06-30", "k": 3}).json()
    assert answer["as_of"] == "2020-06-30" and "30 days" in answer["text"] and len(answer["retrieved"]) <= 3
    assert answer["citations"][0]["effective_from"] == "2020-01-01"
    recorded = load_answer(book, answer["answer_id"])
    assert (recorded.entry, recorded.user, recorded.filters.as_of.isoformat()) == ("api", "local", "2020-06-30")
    assert http.get(f"/v1/answers/{answer['answer_id']}").json() == answer


def test_review_rulings_are_checked_against_the_answers_citations(client):
    http, _ = client
    answer = http.post("/v1/ask", json={"question": QUESTION}).json()
    url = f"/v1/answers/{answer['answer_id']}/reviews"
    marker = answer["sentences"][0]["citations"][0]["marker"]
    for body, says in (
            ({"outcome": "approved", "rulings": [{"sentence": 9, "marker": "[1]", "action": "accept"}]},
             "sentence 9 has no citation [1]"),
            ({"outcome": "approved", "rulings": [{"sentence": 1, "marker": marker, "action": "reject"}]},
             "needs a reason"),
            ({"outcome": "approved", "accept_all": True,
              "rulings": [{"sentence": 1, "marker": marker, "action": "correct", "correction": "nope"}]},
             "no clause 'nope'"),
            ({"outcome": "approved_with_corrections", "accept_all": True}, "the outcome is approved")):
        response = http.post(url, json=body)
        assert response.status_code == 422 and says in response.json()["error"]["message"], response.text
    decided = http.post(url, json={"outcome": "rejected", "accept_all": True, "comment": "too short",
                                   "rulings": [{"sentence": 1, "marker": marker, "action": "reject",
                                                "reason": "does_not_support"}]})
    assert decided.status_code == 201 and decided.json()["state"] == "rejected"
    assert decided.json()["rulings"][0]["reason"] == "does_not_support"


def test_openai_reply_takes_the_last_user_message_and_adds_the_verified_answer_only_when_it_differs(client):
    http, _ = client
    messages = [ChatMessage(role="user", content="first"), ChatMessage(role="assistant", content="…"),
                ChatMessage(role="user", content=[{"type": "text", "text": "second"}, {"type": "image_url"}])]
    assert last_question(messages) == "second"
    record = _record(http)
    assert stream_tail(record.text, record).startswith("\n\n**Sources**")
    assert stream_tail("a draft the verifier rewrote", record).startswith(f"\n\n**Verified answer**\n\n{record.text}")
    refused = http.post("/v1/chat/completions", json={"model": "regcite", "messages": [{"role": "system",
                                                                                         "content": "hi"}]})
    assert refused.status_code == 422 and "no user message" in refused.json()["error"]["message"]


def _record(http):
    from rag.records.answers import load_answer

    answer_id = http.post("/v1/ask", json={"question": QUESTION}).json()["answer_id"]
    return load_answer(http.app.state.service.book, answer_id)


def test_health_and_search_answer_while_a_slow_answer_runs(rule_dir, tmp_path):
    """Answers run one at a time in a worker; the rest of the API does not wait for them."""
    started, release = threading.Event(), threading.Event()

    def slow_reply(messages):
        started.set()
        release.wait(30)
        return "A creditor shall notify an applicant within 30 days [1]."

    client, book = _client(rule_dir, tmp_path, backend=ScriptedBackend([slow_reply]))
    with client:
        asking = threading.Thread(target=lambda: client.post("/v1/ask", json={"question": QUESTION}))
        asking.start()
        assert started.wait(30)
        t = time.perf_counter()
        assert client.get("/v1/health").status_code == 200
        assert client.get("/v1/search", params={"q": "notify"}).status_code == 200
        waited = time.perf_counter() - t
        release.set()
        asking.join(30)
    book.db.dispose()
    assert waited < 2.0, f"health and search took {waited:.2f} s behind a running answer"


def test_a_new_generation_is_served_without_a_restart(tmp_path):
    from ingest.pipeline import ingest_paths

    folder, data = tmp_path / "rule", tmp_path / "data"
    folder.mkdir()
    settings = load_settings(env={}, overrides={"data_dir": data})
    for year in ("2020", "2021"):
        (folder / f"12cfr1099_{year}.md").write_text(VERSIONS[year], encoding="utf-8")
    ingest_paths([folder], settings, progress=False, embedder=HashEmbedder())
    client, book = _client(data, tmp_path)
    with client:
        before = client.get("/v1/health").json()["index_generation"]
        assert client.get("/docs").status_code == 200 and "/v1/ask" in client.get("/openapi.json").json()["paths"]
        (folder / "12cfr1099_2022.md").write_text(VERSIONS["2022"], encoding="utf-8")
        ingest_paths([folder], settings, progress=False, embedder=HashEmbedder())
        time.sleep(1.1)  # the served snapshot is at most GENERATION_CHECK_S behind the committed one
        after = client.get("/v1/health").json()["index_generation"]
        versions = client.get(f"/v1/documents/{DOC}/versions").json()["versions"]
    book.db.dispose()
    assert after > before and [v["effective_from"] for v in versions][-1] == "2022-01-01"


def _events(client, body) -> list[tuple[str, dict]]:
    import json

    events, name = [], None
    with client.stream("POST", "/v1/ask", json=body | {"stream": True}) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line[len("event: "):]
            elif line.startswith("data: "):
                events.append((name, json.loads(line[len("data: "):])))
    return events


def test_a_stream_that_fails_midway_ends_with_an_error_event_and_records_nothing(rule_dir, tmp_path):
    from rag.records.queue import QueueFilter, list_answers

    def broken(messages):
        raise RuntimeError("the model server sent garbage")

    client, book = _client(rule_dir, tmp_path, backend=ScriptedBackend([broken]))
    with client:
        events = _events(client, {"question": QUESTION})
    assert events[-1][0] == "error" and "unexpected RuntimeError" in events[-1][1]["error"]["message"]
    assert list_answers(book, QueueFilter(states=())) == []
    book.db.dispose()


def test_a_stream_states_the_fallback_when_the_backend_is_down(rule_dir, tmp_path):
    client, book = _client(rule_dir, tmp_path, backend=ScriptedBackend(error="connection refused", name="openai"))
    with client:
        events = _events(client, {"question": QUESTION})
    book.db.dispose()
    streamed = "".join(d["text"] for n, d in events if n == "token")
    answer = events[-1][1]
    assert streamed.startswith("[openai backend unavailable (scripted backend: connection refused)")
    assert answer["backend"] == "extractive" and answer["fallback_reason"].startswith("openai backend unavailable")


def test_the_source_list_shows_document_markup_as_text(client):
    import dataclasses

    from api.openai_compat import sources

    http, _ = client
    record = _record(http)
    hostile = '<img src=x onerror="alert(1)"> [click](http://evil.example)'
    sentences = tuple(dataclasses.replace(s, citations=tuple(dataclasses.replace(c, document_title=hostile)
                                                             for c in s.citations)) for s in record.sentences)
    listed = sources(dataclasses.replace(record, sentences=sentences))
    import re

    title = listed.split(" — ")[1]
    assert not re.search(r"(?<!\\)[<>\[\]]", title), title  # every bracket escaped: nothing renders as markup
    assert '\\<img src=x onerror="alert(1)"\\> \\[click\\](http://evil.example)' in listed


def test_an_oversized_body_is_413_before_it_is_read(client):
    from api.app import MAX_BODY_BYTES

    http, _ = client
    response = http.post("/v1/chat/completions", content=b'{"model": "regcite", "messages": ["' + b"x" *
                         MAX_BODY_BYTES + b'"]}', headers={"content-type": "application/json"})
    assert response.status_code == 413 and response.json()["error"]["code"] == "too_large"


def test_a_chunked_body_growing_past_the_limit_is_413(client):
    from api.app import MAX_BODY_BYTES

    http, _ = client

    def parts():
        yield b'{"question": "'
        for _ in range(MAX_BODY_BYTES // 65536 + 1):
            yield b"x" * 65536
        yield b'"}'

    response = http.post("/v1/ask", content=parts(), headers={"content-type": "application/json"})
    assert response.status_code == 413 and response.json()["error"]["code"] == "too_large"


def test_a_queued_stream_sends_keepalive_comments_until_its_answer_starts(rule_dir, tmp_path, monkeypatch):
    monkeypatch.setattr("api.streaming.KEEPALIVE_S", 0.05)

    def slow_reply(messages):
        time.sleep(0.5)
        return "A creditor shall notify an applicant within 30 days [1]."

    client, book = _client(rule_dir, tmp_path, backend=ScriptedBackend([slow_reply]))
    with client, client.stream("POST", "/v1/ask", json={"question": QUESTION, "stream": True}) as response:
        lines = list(response.iter_lines())
    book.db.dispose()
    first_event = next(i for i, line in enumerate(lines) if line.startswith("event: "))
    assert lines[0] == ": waiting" and first_event > 0
    assert lines[first_event:].count("event: answer") == 1


def test_a_stream_withholds_a_sentence_repeating_the_answering_rules(rule_dir, tmp_path):
    from rag.planted import WITHHELD

    echo = ("You answer questions about regulations and filings using only the numbered context below. "
            "A creditor shall notify an applicant within 30 days [1].")
    client, book = _client(rule_dir, tmp_path, backend=ScriptedBackend([echo]))
    with client:
        events = _events(client, {"question": QUESTION})
        chat = client.post("/v1/chat/completions", json={
            "model": "regcite", "stream": True, "messages": [{"role": "user", "content": QUESTION}]}).text
    book.db.dispose()
    streamed = "".join(d["text"] for n, d in events if n == "token")
    assert WITHHELD in streamed and "numbered context below" not in streamed
    assert "30 days" in streamed and events[-1][0] == "answer"
    assert "numbered context below" not in chat and WITHHELD in chat
