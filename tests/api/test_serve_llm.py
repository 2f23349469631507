"""`regcite serve` in front of a real OpenAI-compatible LLM server (llama.cpp with SmolLM2-135M) on loopback: the
model's tokens stream through the OpenAI endpoint as they come, and what is recorded is the verified answer. (POST
/v1/ask streams through the same code: tests/api/test_serve_clients.py and test_app.py.)"""
from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import REG_B_QUESTION, recorded_answers, server_settings, start_server, stop_server
from tests.rag.test_llm_contract import llama_server  # noqa: F401 - the fixture, shared with the backend contract

pytestmark = [pytest.mark.e2e, pytest.mark.slow]  # a real model, on CPU


@pytest.fixture
def fronted(sample_data_dir, tmp_path, llama_server):  # noqa: F811
    settings = server_settings(sample_data_dir, tmp_path, llm_backend="openai", llm_model="smollm2",
                               llm_base_url=llama_server, llm_max_tokens=32, llm_timeout_s=300.0,
                               top_k=3, context_tokens=400)  # a short prompt: the model reads it on 2 CPU cores
    server = start_server(settings, tmp_path / "serve.log")
    yield server
    stop_server(server)


def test_a_real_models_tokens_stream_through_the_openai_endpoint(fronted):
    from openai import OpenAI

    health = httpx.get(f"{fronted.v1}/health", timeout=10).json()
    assert health["backend"]["reachable"] is True and health["status"] == "ok"
    client = OpenAI(base_url=fronted.v1, api_key="none", max_retries=0, timeout=300)
    chunks = list(client.chat.completions.create(model="regcite", stream=True,
                                                 messages=[{"role": "user", "content": REG_B_QUESTION}]))
    deltas = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    regcite = chunks[-1].model_extra["regcite"]
    assert regcite["backend"] == "openai" and regcite["model"] == "smollm2" and not regcite["fallback_reason"]
    assert len(deltas) >= 2  # the model's text as it came (a sentence at a time), then the verified tail
    shown = " ".join("".join(deltas).split())
    assert " ".join(regcite["text"].split()) in shown  # as streamed, or under "Verified answer" if verification
    # changed it: what the client shows at the end holds the verified answer
    recorded = recorded_answers(fronted.settings)
    assert [(r.answer_id, r.backend) for r in recorded] == [(regcite["answer_id"], "openai")]

