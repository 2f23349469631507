"""A first-class fake backend for tests and demos: fixed, cycling or function-driven replies; records its prompts."""
from __future__ import annotations

import time
from typing import Callable, Sequence

from rag.errors import BackendUnavailable
from rag.llm.base import Completion, Message, OnToken, Prompt
from rag.prompt import messages_sha256
from rag.llm.profiles import PROFILES, Profile, StreamFilter, prepare_messages, split_reasoning

Reply = str | Callable[[list[Message]], str]


class ScriptedBackend:
    """Replies from a script, streamed in small chunks so tag handling across chunk borders is exercised.

    `replies` cycle; a callable reply gets the (profile-prepared) messages. `error` makes every call raise
    BackendUnavailable, like a dead server.
    """

    def __init__(self, replies: Sequence[Reply] = ("",), *, profile: Profile = PROFILES["plain"],
                 model: str = "scripted", chunk_chars: int = 3, error: str = "", name: str = "scripted"):
        self.name = name
        self.model = model
        self.profile = profile
        self.prompts: list[list[Message]] = []  # every call's messages, as the model would have seen them
        self._replies = list(replies) or [""]
        self._chunk = max(1, chunk_chars)
        self._error = error

    def complete(self, prompt: Prompt, on_token: OnToken | None = None) -> Completion:
        started = time.perf_counter()
        prepared = prepare_messages(prompt.messages, self.profile)
        self.prompts.append(prepared)
        if self._error:
            raise BackendUnavailable(f"scripted backend: {self._error}")
        reply = self._replies[(len(self.prompts) - 1) % len(self._replies)]
        raw = reply(prepared) if callable(reply) else reply
        if on_token:
            stream = StreamFilter(self.profile)
            for i in range(0, len(raw), self._chunk):
                visible = stream.feed(raw[i:i + self._chunk])
                if visible:
                    on_token(visible)
            tail = stream.flush()
            if tail:
                on_token(tail)
        text, reasoning = split_reasoning(raw)
        return Completion(text=text, reasoning=reasoning, model=self.model, backend=self.name,
                          finish_reason="stop", timings={"total": (time.perf_counter() - started) * 1000},
                          prompt_sha256=messages_sha256(prepared))
