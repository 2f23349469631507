"""Keys against a real `regcite serve`: none, unknown, revoked, a disabled user's -> 401; an asker on the review
endpoint -> 403; and no refused request leaves an answer in the record book."""
from __future__ import annotations

import httpx
import pytest

from rag.records.api_keys import create_key, revoke_key
from rag.records.book import open_book
from rag.records.users import LOCAL_USER, Role, add_user, disable_user
from tests.api.conftest import REG_B_QUESTION, recorded_answers, server_settings, start_server, stop_server
from tests.grants import let_read

pytestmark = pytest.mark.e2e


@pytest.fixture
def keyed(sample_data_dir, tmp_path):
    """A server whose records hold an admin, an asker, a reviewer and a soon-disabled asker, each with a key."""
    settings = server_settings(sample_data_dir, tmp_path)
    book = open_book(settings)
    ada = add_user(book, "ada", Role.ADMIN, "correct horse battery", by=LOCAL_USER)
    keys = {}
    for name, role in (("ann", Role.ASKER), ("rita", Role.REVIEWER), ("bob", Role.ASKER), ("cara", Role.ASKER)):
        add_user(book, name, role, f"{name}'s long password", by=ada)
        keys[name] = create_key(book, name, "tests", by=ada)
    let_read(book, "ann", "rita", "cara")  # bob reads nothing: no collection is granted to him
    keys["ann-old"] = create_key(book, "ann", "revoked before use", by=ada)
    revoke_key(book, keys["ann-old"].key.key_id, by=ada)
    server = start_server(settings, tmp_path / "serve.log")
    yield server, book, ada, {name: made.secret for name, made in keys.items()}, keys
    stop_server(server)
    book.db.dispose()


def _ask(server, secret: str | None):
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    return httpx.post(f"{server.v1}/ask", json={"question": REG_B_QUESTION}, headers=headers, timeout=60)


def test_refused_keys_get_401_403_and_record_no_answer(keyed):
    server, book, ada, secret, keys = keyed
    assert "every request needs an API key" in server.output()
    health = httpx.get(f"{server.v1}/health", timeout=10)
    assert health.status_code == 200 and health.json()["auth"] == "api_keys"  # health needs no key

    for given in (None, "rgc_not-a-key", secret["ann-old"]):
        response = _ask(server, given)
        assert response.status_code == 401, (given, response.text)
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["error"]["code"] == "unauthorized"
    chat = httpx.post(f"{server.v1}/chat/completions", timeout=60,
                      json={"model": "regcite", "messages": [{"role": "user", "content": REG_B_QUESTION}]})
    assert chat.status_code == 401 and "Authorization: Bearer" in chat.json()["error"]["message"]
    assert recorded_answers(server.settings) == []

    asked = _ask(server, secret["ann"])
    assert asked.status_code == 200 and asked.json()["user"] == "ann"
    answer_id = asked.json()["answer_id"]
    review = {"outcome": "approved", "accept_all": True}
    refused = httpx.post(f"{server.v1}/answers/{answer_id}/reviews", json=review,
                         headers={"Authorization": f"Bearer {secret['ann']}"}, timeout=30)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert "reviewer or admin role" in refused.json()["error"]["message"]
    other_asker = httpx.get(f"{server.v1}/answers/{answer_id}", timeout=10,
                            headers={"Authorization": f"Bearer {secret['cara']}"})
    assert other_asker.status_code == 403  # an asker sees only their own answers
    no_grant = httpx.get(f"{server.v1}/answers/{answer_id}", headers={"Authorization": f"Bearer {secret['bob']}"},
                         timeout=10)
    assert no_grant.status_code == 404  # drawn from a collection bob may not read: as if never recorded
    bob = {"Authorization": f"Bearer {secret['bob']}"}
    assert httpx.get(f"{server.v1}/documents", headers=bob, timeout=10).json()["documents"] == []
    searched = httpx.get(f"{server.v1}/search", params={"q": "adverse action"}, headers=bob, timeout=10)
    assert searched.json()["hits"] == []
    cited = asked.json()["citations"][0]["clause_id"]
    assert httpx.get(f"{server.v1}/clauses/{cited}", headers=bob, timeout=10).status_code == 404
    assert httpx.get(f"{server.v1}/clauses/{cited}", headers={"Authorization": f"Bearer {secret['ann']}"},
                     timeout=10).json()["reference"] == asked.json()["citations"][0]["reference"]

    revoke_key(book, keys["bob"].key.key_id, by=ada)  # takes effect at once, server running
    assert _ask(server, secret["bob"]).status_code == 401
    disable_user(book, "rita", by=ada)
    assert _ask(server, secret["rita"]).status_code == 401
    assert [(r.answer_id, r.user) for r in recorded_answers(server.settings)] == [(answer_id, "ann")]
    assert asked.json()["citations"], asked.json()["text"]


def test_a_reviewer_key_records_a_decision(keyed):
    server, book, ada, secret, _ = keyed
    asked = _ask(server, secret["ann"]).json()
    url = f"{server.v1}/answers/{asked['answer_id']}/reviews"
    headers = {"Authorization": f"Bearer {secret['rita']}"}
    wrong = httpx.post(url, json={"outcome": "approved"}, headers=headers, timeout=30)
    assert wrong.status_code == 422 and "every citation needs a ruling" in wrong.json()["error"]["message"]
    rulings = [{"sentence": i + 1, "marker": c["marker"], "action": "accept"}
               for i, s in enumerate(asked["sentences"]) for c in s["citations"]]
    decided = httpx.post(url, json={"outcome": "approved", "rulings": rulings}, headers=headers, timeout=30)
    assert decided.status_code == 201, decided.text
    assert decided.json()["state"] == "approved" and decided.json()["reviewer"] == "rita"
    again = httpx.post(url, json={"outcome": "approved", "accept_all": True}, headers=headers, timeout=30)
    assert again.status_code == 409 and "review is complete" in again.json()["error"]["message"]
    shown = httpx.get(f"{server.v1}/answers/{asked['answer_id']}", headers=headers, timeout=10).json()
    assert shown["state"] == "approved" and [d["reviewer"] for d in shown["decisions"]] == ["rita"]
