"""The one narrow LLM interface: a typed Prompt in, a Completion out, tokens optionally streamed to a callback."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol, runtime_checkable

from rag.prompt import Message, Prompt

__all__ = ["ChatBackend", "Completion", "Message", "OnToken", "Prompt"]

OnToken = Callable[[str], None]


@dataclass(frozen=True)
class Completion:
    text: str  # the answer only: reasoning traces are removed
    reasoning: str = ""  # a <think> trace (or a server's reasoning_content), kept apart for the UI
    model: str = ""
    backend: str = ""
    finish_reason: str = ""  # "stop", "length", ... as the backend reports it
    usage: dict[str, int] = field(default_factory=dict)  # prompt_tokens, completion_tokens where known
    timings: dict[str, float] = field(default_factory=dict)  # ms: first_token, total
    prompt_sha256: str = ""  # of the messages as sent (rag.prompt.messages_sha256)


@runtime_checkable
class ChatBackend(Protocol):
    """Completes a prompt (a model reads prompt.messages). Construction is cheap; a model or connection is made on the first call.

    Backends raise rag.errors.BackendUnavailable (server down, timeout, bad response) so the caller can fall back.
    `on_token` receives only answer text: a reasoning trace never reaches it.
    """

    name: str
    model: str

    def complete(self, prompt: Prompt, on_token: OnToken | None = None) -> Completion: ...
