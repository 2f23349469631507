"""LlamaIndex adapters: regcite's retriever as a BaseRetriever and its cited answering as a query engine.

Nothing in rag imports this module, so llama_index loads only for callers who use it. The adapters hold no
LlamaIndex store: clauses, vectors and BM25 stay in regcite's index; nodes are built per query from typed hits.
Metadata values are flat (str, int, float, bool, None) so the nodes can be handed on to any LlamaIndex store.
"""
from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

from llama_index.core.base.base_query_engine import BaseQueryEngine
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.response.schema import Response
from llama_index.core.callbacks.base import CallbackManager
from llama_index.core.prompts.mixin import PromptMixinType
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from rag.types import Answer, Citation, Filters, Hit

# Shown to an LLM (and embedded) beside the clause text; the rest is provenance for the caller.
_LLM_KEYS = ("reference", "document_title", "pages")


def hit_metadata(hit: Hit) -> dict[str, Any]:
    """The hit's provenance and scores as flat metadata."""
    c, d = hit.clause, hit.document
    return {
        "clause_id": c.clause_id,
        "reference": c.reference,
        "document_title": d.title,
        "doc_id": d.doc_id,
        "version_id": c.version_id,
        "kind": d.kind.value,
        "jurisdiction": d.jurisdiction,
        "language": d.language,
        "page_first": c.page_span.first,  # 1-based, inclusive
        "page_last": c.page_span.last,
        "pages": str(c.page_span),  # "p. 13" or "pp. 13-14"
        "headings": " > ".join(c.headings),
        "part": c.part,
        "via": hit.via,
        "effective_from": d.effective_from.isoformat() if d.effective_from else None,
        "effective_to": d.effective_to.isoformat() if d.effective_to else None,
        "score": hit.score,
        "dense_score": hit.dense_score,
        "lexical_score": hit.lexical_score,
    }


def hit_node(hit: Hit) -> NodeWithScore:
    """A TextNode whose id is the clause_id, scored with the retriever's fused score."""
    metadata = hit_metadata(hit)
    hidden = [k for k in metadata if k not in _LLM_KEYS]
    node = TextNode(id_=hit.clause.clause_id, text=hit.clause.text, metadata=metadata,
                    excluded_llm_metadata_keys=hidden, excluded_embed_metadata_keys=hidden)
    return NodeWithScore(node=node, score=hit.score)


def _dated(filters: Filters, as_of: date | None, access) -> Filters:
    """As the CLI does: the versions in force on as_of, else on the filters' date, else today; from the collections
    `access` reads (a rag.access.Access; None: every collection, an admin's or the local user's reach)."""
    dated = dataclasses.replace(filters, as_of=as_of or filters.as_of or date.today())
    return access.filters(dated) if access is not None else dated


class RegciteRetriever(BaseRetriever):
    """Wraps a regcite Retriever: references named in the question first, then dense + BM25, under filters, from
    the versions in force on `as_of` (default today; superseded versions never come back unless asked for), in the
    collections `access` may read (rag.access.access_for(book, user); pass it for any caller but an admin)."""

    def __init__(self, retriever, filters: Filters = Filters(), k: int | None = None, as_of: date | None = None,
                 callback_manager: CallbackManager | None = None, access=None):
        super().__init__(callback_manager=callback_manager)
        self.retriever = retriever
        self.filters = _dated(filters, as_of, access)
        self.k = k

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return [hit_node(h) for h in self.retriever.retrieve(query_bundle.query_str, self.filters, self.k)]


def _cited_nodes(answer: Answer) -> list[NodeWithScore]:
    """One node per cited clause in order of first citation; verdict and support are its weakest citation's."""
    by_clause: dict[str, list[Citation]] = {}
    for citation in answer.citations:
        by_clause.setdefault(citation.clause_id, []).append(citation)
    hits = {h.clause.clause_id: h for h in answer.hits}
    nodes = []
    for clause_id, citations in by_clause.items():
        first = citations[0]
        weakest = min(citations, key=lambda c: (-c.verdict.severity, c.score))
        hit = hits.get(clause_id)
        metadata = hit_metadata(hit) if hit is not None else {
            "clause_id": clause_id, "reference": first.reference, "document_title": first.document_title,
            "version_id": first.version_id, "page_first": first.page_span.first,
            "page_last": first.page_span.last, "pages": str(first.page_span),
        }
        metadata.update({
            "retrieval_score": metadata.pop("score", None),
            "marker": first.marker,
            "markers": " ".join(dict.fromkeys(c.marker for c in citations)),
            "verdict": weakest.verdict.value,
            "support": weakest.score,  # semantic support, 0..1
            "quote": first.quote,
            "citations": len(citations),
        })
        hidden = [k for k in metadata if k not in (*_LLM_KEYS, "marker")]
        node = TextNode(id_=clause_id, text=hit.clause.text if hit is not None else first.quote, metadata=metadata,
                        excluded_llm_metadata_keys=hidden, excluded_embed_metadata_keys=hidden)
        nodes.append(NodeWithScore(node=node, score=weakest.score))
    return nodes


def answer_response(answer: Answer) -> Response:
    """A LlamaIndex Response for an Answer: the text with markers, cited clauses as source nodes, the Answer kept."""
    metadata = {
        "answer": answer,
        "abstained": answer.abstained,
        "backend": answer.backend,
        "model": answer.model,
        "fallback_reason": answer.fallback_reason,
        "timings_ms": dict(answer.timings_ms),
    }
    return Response(response=answer.text, source_nodes=_cited_nodes(answer), metadata=metadata)


class RegciteQueryEngine(BaseQueryEngine):
    """Answers through a rag.pipeline.Pipeline, so citations are parsed and verified exactly as in the CLI."""

    def __init__(self, pipeline, filters: Filters = Filters(), as_of: date | None = None,
                 callback_manager: CallbackManager | None = None, access=None):
        super().__init__(callback_manager=callback_manager)
        self.pipeline = pipeline
        self.filters = _dated(filters, as_of, access)

    def _get_prompt_modules(self) -> PromptMixinType:
        return {}

    def _query(self, query_bundle: QueryBundle) -> Response:
        return answer_response(self.pipeline.answer(query_bundle.query_str, self.filters))

    async def _aquery(self, query_bundle: QueryBundle) -> Response:
        return self._query(query_bundle)  # synchronous by design (CONVENTIONS: one API until there is a need)
