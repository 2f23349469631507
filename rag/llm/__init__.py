"""LLM backends behind one interface: openai-compatible server, in-process transformers, extractive."""
from __future__ import annotations

from rag.config import Settings
from rag.llm.base import ChatBackend, Completion, Message, Prompt

__all__ = ["ChatBackend", "Completion", "Message", "Prompt", "make_backend"]


def make_backend(settings: Settings, embedder=None) -> ChatBackend:
    """The backend named by settings.llm_backend; builds no client and loads no model yet.

    `embedder` is what the extractive backend ranks sentences with (without one it ranks by word coverage)."""
    if settings.llm_backend == "openai":
        from rag.llm.openai_backend import OpenAIBackend

        return OpenAIBackend(settings)
    if settings.llm_backend == "transformers":
        from rag.llm.transformers_backend import TransformersBackend

        return TransformersBackend(settings)
    from rag.llm.extractive import ExtractiveBackend

    return ExtractiveBackend(embedder)
