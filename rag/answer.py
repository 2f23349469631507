"""The whole question -> Answer path: retrieve, decide relevance, build context, generate, cite, verify."""
from __future__ import annotations

import logging
import time
from typing import Protocol, Sequence

from rag.cite import Check, cite_sentences, is_abstention, parse_markers, render_answer
from rag.config import PACKAGED_EMBEDDER, Settings
from rag.context import ContextBlock, build_context
from rag.embed import base_model_of
from rag.errors import BackendUnavailable, ModelUnavailable
from rag.llm.base import ChatBackend, OnToken
from rag.prompt import ABSTAIN, build_prompt
from rag.text import content_tokens, has_han
from rag.types import Answer, Clause, Filters, Hit
from rag.versions import Unavailable

log = logging.getLogger(__name__)

# Relevance floors, measured on the shared corpus (see tests/rag/test_answer.py and the report): a question is
# answerable when some hit covers this share of its content tokens, or the dense cosine is this high.
COVERAGE_FLOOR = 0.5
DENSE_FLOOR = 0.55


class Retrieves(Protocol):
    """What answering needs of retrieval (rag.retrieve.Retriever is the real one)."""

    def retrieve(self, question: str, filters: Filters, k: int | None) -> list[Hit]: ...

    def parent_lead_in(self, child: Clause) -> Clause | None: ...

    def admitted_doc_ids(self, filters: Filters) -> list[str]: ...

    def unavailable_on(self, question: str, filters: Filters) -> list[Unavailable]: ...


class Verifies(Protocol):
    """Checks one sentence against one cited block (rag.verify.Verifier is the real one)."""

    def check(self, sentence: str, block: ContextBlock) -> Check: ...


def coverage(question: str, hit: Hit) -> float:
    """Share of the question's content tokens found in the clause, its reference and its heading trail."""
    wanted = content_tokens(question)
    if not wanted:
        return 0.0
    c = hit.clause
    have = content_tokens(f"{c.text} {c.reference} {' '.join(c.headings)} {hit.document.title}")
    return len(wanted & have) / len(wanted)


def relevance(question: str, hits: Sequence[Hit], settings: Settings) -> tuple[bool, float]:
    """(answerable, best evidence). A clause named in the question always counts. The packaged English embedder's
    cosines say nothing about Chinese text, and tuning on English questions does not teach it Chinese, so for a
    Chinese question only lexical coverage counts with it or a model tuned from it."""
    if not hits:
        return False, 0.0
    if any(h.via == "reference" for h in hits):
        return True, 1.0
    trust_dense = base_model_of(settings.embed_model) != PACKAGED_EMBEDDER or not has_han(question)
    best = 0.0
    for h in hits:
        best = max(best, coverage(question, h))
        if trust_dense and h.dense_score is not None:
            best = max(best, h.dense_score * COVERAGE_FLOOR / DENSE_FLOOR)  # on the coverage scale
    floor = settings.abstain_below if settings.abstain_below > 0 else COVERAGE_FLOOR
    return best >= floor, best


def searched(admitted: Sequence[str], filters: Filters) -> str:
    """What an abstention searched: the admitted documents (a few named) and the filters."""
    admitted = sorted(admitted)
    names = ", ".join(admitted[:6]) + (f" and {len(admitted) - 6} more" if len(admitted) > 6 else "")
    parts = [f"Searched {len(admitted)} document{'s' if len(admitted) != 1 else ''}" + (f" ({names})" if admitted else "")]
    active = [f"{k}={','.join(str(getattr(x, 'value', x)) for x in v)}" for k, v in
              (("doc", filters.doc_ids), ("jurisdiction", filters.jurisdictions), ("kind", filters.kinds),
               ("lang", filters.languages)) if v]
    if filters.as_of:
        active.append(f"as of {filters.as_of.isoformat()}")
    if active:
        parts.append("with filters " + ", ".join(active))
    return " ".join(parts) + "."


def answer_question(question: str, retriever: Retrieves, backend: ChatBackend, verifier: Verifies,
                    settings: Settings, filters: Filters = Filters(), on_token: OnToken | None = None,
                    fallback: ChatBackend | None = None) -> Answer:
    """`fallback` answers when `backend` is unavailable (the pipeline passes the extractive backend with its
    embedder); without one, the answer falls back to an extractive backend ranking by word coverage."""
    started = time.perf_counter()
    timings: dict[str, float] = {}
    hits = tuple(retriever.retrieve(question, filters, settings.top_k))
    timings["retrieve"] = _ms(started)

    answerable, evidence = relevance(question, hits, settings)
    log.info("relevance %.2f over %d hits -> %s", evidence, len(hits), "answer" if answerable else "abstain")
    missing = retriever.unavailable_on(question, filters)
    if not answerable:
        return _abstain(question, hits, retriever, filters, backend, timings, started, on_token, missing)

    context = build_context(hits, budget_tokens=settings.context_tokens, lead_in=retriever.parent_lead_in)
    prompt = build_prompt(question, context)
    fallback_reason = ""
    t = time.perf_counter()
    try:
        completion = backend.complete(prompt, on_token)
    except (BackendUnavailable, ModelUnavailable) as e:
        fallback_reason = f"{backend.name} backend unavailable ({e}); answered extractively from the clauses"
        log.warning(fallback_reason)
        if fallback is None:
            from rag.llm.extractive import ExtractiveBackend

            fallback = ExtractiveBackend()
        backend = fallback
        if on_token:
            on_token(f"[{fallback_reason}]\n")
        completion = backend.complete(prompt, on_token)
    timings["generate"] = _ms(t)
    if "first_token" in completion.timings:
        timings["first_token"] = completion.timings["first_token"]

    t = time.perf_counter()
    drafts, dropped = parse_markers(completion.text, len(context.blocks))
    if is_abstention(completion.text) and not any(d.markers for d in drafts):
        timings["verify"] = _ms(t)
        timings["total"] = _ms(started)
        text = _not_in_force(missing) + f"{ABSTAIN} {searched(retriever.admitted_doc_ids(filters), filters)}"
        return Answer(question, text, (), hits, True, completion.backend or backend.name,
                      completion.model or backend.model, timings, completion.reasoning, fallback_reason, dropped,
                      filters.as_of, tuple(str(m) for m in missing), completion.prompt_sha256)
    sentences = cite_sentences(drafts, context, verifier.check)
    timings["verify"] = _ms(t)
    timings["total"] = _ms(started)
    return Answer(
        question=question, text=render_answer(sentences), sentences=sentences, hits=hits, abstained=False,
        backend=completion.backend or backend.name, model=completion.model or backend.model, timings_ms=timings,
        reasoning=completion.reasoning, fallback_reason=fallback_reason, dropped_markers=dropped,
        as_of=filters.as_of, notes=_version_notes(sentences, missing), prompt_sha256=completion.prompt_sha256,
    )


def _not_in_force(missing: Sequence[Unavailable]) -> str:
    """"12 CFR 1016 has no version in force on 2005-01-01; the earliest indexed is effective 2011-12-30. " """
    if not missing:
        return ""
    shown = [str(m) for m in missing[:3]]
    more = f" ({len(missing) - 3} more instruments likewise)" if len(missing) > 3 else ""
    return ". ".join(shown) + f"{more}. "


def _version_notes(sentences, missing: Sequence[Unavailable]) -> tuple[str, ...]:
    notes = [str(m) for m in missing]
    undated = {c.document_title for s in sentences for c in s.citations if c.effective_from is None}
    notes += [f"The effective dates of {title} are unknown: it is cited as indexed, whatever the date asked."
              for title in sorted(undated)]
    return tuple(notes)


def _abstain(question, hits, retriever: Retrieves, filters, backend, timings, started, on_token,
             missing: Sequence[Unavailable]) -> Answer:
    text = _not_in_force(missing) + f"{ABSTAIN} {searched(retriever.admitted_doc_ids(filters), filters)}"
    if hits:
        top = hits[0]
        text += f" The closest clause, {top.clause.reference} ({top.document.title}), does not address the question."
    if on_token:
        on_token(text)
    timings["total"] = _ms(started)
    return Answer(question, text, (), hits, True, backend.name, backend.model, timings, as_of=filters.as_of,
                  notes=tuple(str(m) for m in missing))


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)
