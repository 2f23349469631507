"""The composition root: the index snapshot, embedder, retriever, backends and verifier, each built once from Settings.

Every entry point (the CLI, the app, the eval runner, tuning, the LlamaIndex adapters) answers and searches through
a Pipeline, so a new concern (an answer record, access rules, another vector engine) is wired here once.
Building one loads no model: the embedder, an NLI model and a local LLM load on first use.
"""
from __future__ import annotations

from dataclasses import dataclass

from rag.config import Settings
from rag.embed import Embedder, load_embedder
from rag.llm import ChatBackend, make_backend
from rag.llm.extractive import ExtractiveBackend
from rag.retrieve import Retriever
from rag.store import Index, open_index
from rag.types import Answer, Filters, Hit
from rag.verify import Verifier


# Settings the embedder, backend and verifier are built from: with_settings may not change them.
_KEPT_PARTS_READ = ("data_dir", "embed_model", "device", "embed_batch_size", "llm_backend", "llm_model",
                    "llm_base_url", "llm_profile", "llm_api_key", "llm_timeout_s", "llm_retries", "llm_max_tokens",
                    "llm_temperature", "nli_model", "allow_model_downloads")


@dataclass(frozen=True)
class Pipeline:
    settings: Settings
    index: Index
    embedder: Embedder
    retriever: Retriever
    backend: ChatBackend  # what settings.llm_backend names
    fallback: ChatBackend  # answers when the backend cannot: extractive, with the embedder
    verifier: Verifier

    def answer(self, question: str, filters: Filters = Filters(), on_token=None) -> Answer:
        from rag.answer import answer_question

        return answer_question(question, self.retriever, self.backend, self.verifier, self.settings, filters,
                               on_token, fallback=self.fallback)

    def search(self, question: str, filters: Filters = Filters(), k: int | None = None) -> list[Hit]:
        return self.retriever.retrieve(question, filters, k or self.settings.top_k)

    def with_settings(self, settings: Settings) -> "Pipeline":
        """The same snapshot, embedder, backend and verifier under other retrieval settings (an eval mode)."""
        changed = [f for f in _KEPT_PARTS_READ if getattr(settings, f) != getattr(self.settings, f)]
        if changed:
            raise ValueError(f"with_settings keeps the embedder, backend and verifier; {', '.join(changed)} "
                             "changed, so open a new pipeline with open_pipeline(settings)")
        return _assemble(settings, self.index, self.embedder, self.backend, self.verifier)

    def with_embedder(self, embedder: Embedder) -> "Pipeline":
        """The same snapshot with another query embedder (a cache in front of it, a tuned query model)."""
        self.index.check_model(embedder.name)
        return _assemble(self.settings, self.index, embedder, self.backend, None)


def open_pipeline(settings: Settings, *, index: Index | None = None, embedder: Embedder | None = None,
                  backend: ChatBackend | None = None) -> Pipeline:
    """A pipeline over the last committed generation (or the snapshot given), checked against the embedder.

    Raises IndexMissing before the first ingest and ModelMismatch when the index was built by another model.
    Callers that cache (the app) pass the parts they keep across generations: the embedder and the backend.
    """
    index = index if index is not None else open_index(settings)
    embedder = embedder if embedder is not None else load_embedder(settings)
    index.check_model(embedder.name)
    return _assemble(settings, index, embedder, backend, None)


def _assemble(settings: Settings, index: Index, embedder: Embedder, backend: ChatBackend | None,
              verifier: Verifier | None) -> Pipeline:
    return Pipeline(
        settings=settings, index=index, embedder=embedder, retriever=Retriever(index, embedder, settings),
        backend=backend if backend is not None else make_backend(settings, embedder),
        fallback=ExtractiveBackend(embedder),
        verifier=verifier if verifier is not None else Verifier(embedder, settings),
    )
