"""Any OpenAI-compatible chat server (vLLM, llama.cpp's server, Ollama) through the `openai` client."""
from __future__ import annotations

import logging
import time

from rag.config import Settings
from rag.errors import BackendUnavailable
from rag.llm.base import Completion, OnToken, Prompt
from rag.prompt import messages_sha256
from rag.llm.profiles import StreamFilter, choose_profile, prepare_messages, split_reasoning

log = logging.getLogger(__name__)


class OpenAIBackend:
    """Streams from /chat/completions; the client is built on the first call. All failures -> BackendUnavailable."""

    name = "openai"

    def __init__(self, settings: Settings):
        self.model = settings.llm_model
        self.base_url = settings.llm_base_url
        self.profile = choose_profile(settings.llm_profile, settings.llm_model)
        self._settings = settings
        self._client = None

    def _connect(self):
        if self._client is None:
            import openai

            s = self._settings
            self._client = openai.OpenAI(base_url=s.llm_base_url, api_key=s.llm_api_key or "EMPTY",
                                         timeout=s.llm_timeout_s, max_retries=s.llm_retries)
        return self._client

    def complete(self, prompt: Prompt, on_token: OnToken | None = None) -> Completion:
        import openai

        s = self._settings
        temperature = s.llm_temperature if s.llm_temperature >= 0 else self.profile.temperature
        prepared = [{"role": m.role, "content": m.content} for m in prepare_messages(prompt.messages, self.profile)]
        started = time.perf_counter()
        first_token = None
        raw: list[str] = []
        server_reasoning: list[str] = []
        finish, usage = "", {}
        served_model = self.model
        stream = StreamFilter(self.profile)
        try:
            chunks = self._connect().chat.completions.create(
                model=self.model, messages=prepared, temperature=temperature, max_tokens=s.llm_max_tokens,
                stream=True, stream_options={"include_usage": True},
            )
            for chunk in chunks:
                served_model = chunk.model or served_model
                if chunk.usage:
                    usage = {"prompt_tokens": chunk.usage.prompt_tokens,
                             "completion_tokens": chunk.usage.completion_tokens}
                if not chunk.choices:
                    continue
                choice = chunk.choices[0]
                finish = choice.finish_reason or finish
                delta = choice.delta
                # vLLM's reasoning parsers send the trace in a separate field
                thought = getattr(delta, "reasoning_content", None) or getattr(delta, "reasoning", None)
                if thought:
                    server_reasoning.append(thought)
                if delta.content:
                    if first_token is None:
                        first_token = time.perf_counter()
                    raw.append(delta.content)
                    visible = stream.feed(delta.content)
                    if visible and on_token:
                        on_token(visible)
        except openai.APITimeoutError:
            raise BackendUnavailable(f"{self.base_url}: no answer within {s.llm_timeout_s:g} s") from None
        except openai.APIConnectionError as e:
            raise BackendUnavailable(f"{self.base_url}: cannot connect ({e.__cause__ or e})") from None
        except openai.APIStatusError as e:
            raise BackendUnavailable(f"{self.base_url}: HTTP {e.status_code} {e.message}") from None
        except openai.OpenAIError as e:
            raise BackendUnavailable(f"{self.base_url}: {e}") from None
        tail = stream.flush()
        if tail and on_token:
            on_token(tail)
        text, reasoning = split_reasoning("".join(raw))
        reasoning = "\n\n".join(r for r in ("".join(server_reasoning).strip(), reasoning) if r)
        done = time.perf_counter()
        timings = {"total": (done - started) * 1000}
        if first_token is not None:
            timings["first_token"] = (first_token - started) * 1000
        return Completion(text=text, reasoning=reasoning, model=served_model, backend=self.name,
                          finish_reason=finish or "", usage=usage, timings=timings,
                          prompt_sha256=messages_sha256(prepared))
