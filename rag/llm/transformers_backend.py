"""In-process generation with transformers from a local model folder or GGUF file; the model loads on first use."""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from rag.config import Settings
from rag.errors import BackendUnavailable
from rag.llm.base import Completion, OnToken, Prompt
from rag.prompt import messages_sha256
from rag.llm.profiles import StreamFilter, choose_profile, prepare_messages, split_reasoning
from rag.models import resolve_device

log = logging.getLogger(__name__)


class TransformersBackend:
    """bf16 on CUDA, float32 on CPU; streams through TextIteratorStreamer. Load or generation failures become
    BackendUnavailable so the answer falls back visibly instead of crashing."""

    name = "transformers"

    def __init__(self, settings: Settings):
        self.model = settings.llm_model
        self.profile = choose_profile(settings.llm_profile, settings.llm_model)
        self._settings = settings
        self._loaded = None  # (tokenizer, model, device)
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._loaded is None:
                self._loaded = _load(self.model, self._settings.device)
            return self._loaded

    def complete(self, prompt: Prompt, on_token: OnToken | None = None) -> Completion:
        started = time.perf_counter()
        tokenizer, model, device = self._load()
        from transformers import TextIteratorStreamer

        s = self._settings
        prepared = [{"role": m.role, "content": m.content} for m in prepare_messages(prompt.messages, self.profile)]
        try:
            inputs = tokenizer.apply_chat_template(prepared, add_generation_prompt=True, return_tensors="pt",
                                                   return_dict=True).to(device)
        except Exception as e:  # a tokenizer without a chat template, or a malformed one
            raise BackendUnavailable(f"{self.model}: cannot apply the chat template ({e})") from None
        temperature = s.llm_temperature if s.llm_temperature >= 0 else self.profile.temperature
        sampling = {"do_sample": True, "temperature": temperature, "top_p": 0.95} if temperature > 0 else \
            {"do_sample": False}
        streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True,
                                        timeout=s.llm_timeout_s)
        failure: list[BaseException] = []

        def generate():
            try:
                model.generate(**inputs, max_new_tokens=s.llm_max_tokens, streamer=streamer,
                               pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id, **sampling)
            except BaseException as e:  # reported to the caller's thread below
                failure.append(e)
                streamer.end()

        worker = threading.Thread(target=generate, daemon=True)
        worker.start()
        raw: list[str] = []
        stream = StreamFilter(self.profile)
        first_token = None
        try:
            for piece in streamer:
                if not piece:
                    continue
                if first_token is None:
                    first_token = time.perf_counter()
                raw.append(piece)
                visible = stream.feed(piece)
                if visible and on_token:
                    on_token(visible)
        except Exception:  # queue.Empty: no token within the timeout
            raise BackendUnavailable(f"{self.model}: no token within {s.llm_timeout_s:g} s") from None
        worker.join(timeout=s.llm_timeout_s)
        if failure:
            raise BackendUnavailable(f"{self.model}: generation failed ({failure[0]})")
        tail = stream.flush()
        if tail and on_token:
            on_token(tail)
        text, reasoning = split_reasoning("".join(raw))
        n_prompt = int(inputs["input_ids"].shape[-1])
        n_out = len(tokenizer("".join(raw), add_special_tokens=False)["input_ids"])
        timings = {"total": (time.perf_counter() - started) * 1000}
        if first_token is not None:
            timings["first_token"] = (first_token - started) * 1000
        finish = "length" if n_out >= s.llm_max_tokens else "stop"
        return Completion(text=text, reasoning=reasoning, model=self.model, backend=self.name, finish_reason=finish,
                          usage={"prompt_tokens": n_prompt, "completion_tokens": n_out}, timings=timings,
                          prompt_sha256=messages_sha256(prepared))


def _load(name: str, device_setting: str):
    path = Path(name).expanduser()
    if not path.exists():
        raise BackendUnavailable(f"transformers backend: no model folder or GGUF file at {path}")
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as e:
        raise BackendUnavailable(f"transformers backend needs torch and transformers: {e}") from None
    device = resolve_device(device_setting)
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    folder, extra = (path.parent, {"gguf_file": path.name}) if path.suffix == ".gguf" else (path, {})
    started = time.perf_counter()
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, **extra)
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype, **extra).to(device)
    except Exception as e:  # corrupt files, unknown architecture, missing gguf/accelerate
        raise BackendUnavailable(f"transformers backend cannot load {path}: {e}") from None
    model.eval()
    log.info("loaded %s on %s (%s) in %.1f s", path, device, dtype, time.perf_counter() - started)
    return tokenizer, model, device
