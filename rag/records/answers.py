"""Answer records: what a user was shown, from which clauses of which versions, kept so it can be shown again."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date

from rag.errors import ReviewError
from rag.records.chain import Kind, Record, append, load_record
from rag.records.users import User
from rag.serialize import (day_or_none, parse_day_or_none, filters_from_dict, filters_to_dict, sentence_from_dict,
                           sentence_to_dict)
from rag.types import Answer, Filters, PageSpan, Sentence


@dataclass(frozen=True)
class RetrievedClause:
    rank: int
    clause_id: str
    version_id: str
    doc_id: str
    reference: str
    text_sha256: str
    score: float
    via: str


@dataclass(frozen=True)
class CitedClause:
    """A cited clause as it read in the cited version: its text is kept, so the record outlives an amendment."""

    clause_id: str
    version_id: str
    doc_id: str
    reference: str
    document_title: str
    text: str
    page_span: PageSpan
    effective_from: date | None
    effective_to: date | None
    source_path: str


@dataclass(frozen=True)
class AnswerRecord:
    answer_id: str
    seq: int
    asked_at: str
    user: str
    entry: str  # "cli", "app", "api"
    question: str
    filters: Filters
    backend: str
    model: str
    profile: str
    prompt_sha256: str
    generation: int  # the index generation that answered
    retrieved: tuple[RetrievedClause, ...]
    cited: tuple[CitedClause, ...]
    text: str
    sentences: tuple[Sentence, ...]
    abstained: bool
    fallback_reason: str = ""
    notes: tuple[str, ...] = ()
    timings_ms: dict[str, float] = field(default_factory=dict)
    record_hash: str = ""
    reasoning: str = ""  # a model's <think> trace, shown apart from the answer
    dropped_markers: int = 0

    def cited_clause(self, clause_id: str) -> CitedClause | None:
        return next((c for c in self.cited if c.clause_id == clause_id), None)

    @property
    def doc_ids(self) -> tuple[str, ...]:
        """The documents the answer cites, else (an abstention) those it retrieved from."""
        cited = sorted({c.doc_id for c in self.cited})
        return tuple(cited or sorted({r.doc_id for r in self.retrieved}))


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def answer_body(answer: Answer, filters: Filters, *, entry: str, generation: int, profile: str,
                index=None) -> dict:
    """The record of an answer: everything needed to show it again, and the hashes that tie it to the index.
    A cited clause comes from the retrieved hits, else from `index` (the snapshot that answered)."""
    by_id = {h.clause.clause_id: (h.clause, h.document) for h in answer.hits}
    cited = []
    for clause_id in dict.fromkeys(c.clause_id for c in answer.citations):
        if clause_id not in by_id and index is not None:
            clause = index.clause(clause_id)
            by_id[clause_id] = (clause, index.document_of(clause))
        c, d = by_id[clause_id]
        cited.append({"clause_id": c.clause_id, "version_id": d.version_id, "doc_id": d.doc_id,
                      "reference": c.reference, "document_title": d.title, "text": c.text,
                      "page_span": {"first": c.page_span.first, "last": c.page_span.last},
                      "effective_from": day_or_none(d.effective_from), "effective_to": day_or_none(d.effective_to),
                      "source_path": d.source_path})
    return {
        "entry": entry, "question": answer.question, "filters": filters_to_dict(filters),
        "backend": answer.backend, "model": answer.model, "profile": profile,
        "prompt_sha256": answer.prompt_sha256, "index_generation": generation,
        "retrieved": [{"rank": i, "clause_id": h.clause.clause_id, "version_id": h.document.version_id,
                       "doc_id": h.document.doc_id, "reference": h.clause.reference,
                       "text_sha256": sha256_text(h.clause.text), "score": round(float(h.score), 6), "via": h.via}
                      for i, h in enumerate(answer.hits, 1)],
        "cited": cited,
        "text": answer.text, "sentences": [sentence_to_dict(s) for s in answer.sentences],
        "abstained": answer.abstained, "fallback_reason": answer.fallback_reason, "notes": list(answer.notes),
        "dropped_markers": answer.dropped_markers, "reasoning": answer.reasoning,
        "timings_ms": {k: round(float(v), 2) for k, v in answer.timings_ms.items()},
    }


def record_answer(book, user: User, answer: Answer, filters: Filters, *, entry: str, generation: int,
                  profile: str = "", index=None) -> AnswerRecord:
    """Append the answer to the chain (and to the queue's index of answers); the record names the user."""
    from sqlalchemy import insert

    from rag.records.tables import answers

    body = answer_body(answer, filters, entry=entry, generation=generation, profile=profile, index=index)

    def index_row(conn, record: Record):
        view = answer_from_record(record)
        conn.execute(insert(answers).values(
            answer_id=record.record_id, seq=record.seq, asked_at=record.at, user_name=record.user,
            question=view.question, backend=view.backend, model=view.model,
            doc_ids="|" + "|".join(view.doc_ids) + "|", abstained=view.abstained, state="pending"))

    record = append(book.db, book.checkpoints, Kind.ANSWER, user.name, body, also=index_row)
    return answer_from_record(record)


def ask_and_record(pipeline, book, user: User, question: str, filters: Filters, on_token=None, *,
                   entry: str) -> AnswerRecord:
    """What every entry point that shows an answer calls: answer through the pipeline from the collections `user`
    may read (rag.access.reader_filters), then record it."""
    from rag.access import reader_filters

    filters = reader_filters(book, user, filters)
    return record_shown(pipeline, book, user, pipeline.answer(question, filters, on_token), filters, entry=entry)


def record_shown(pipeline, book, user: User, answer: Answer, filters: Filters, *, entry: str) -> AnswerRecord:
    """Record an answer the pipeline gave, for an entry point that shows more of the Answer than the record keeps."""
    profile = getattr(getattr(pipeline.backend, "profile", None), "name", "") or pipeline.settings.llm_profile
    return record_answer(book, user, answer, filters, entry=entry, generation=pipeline.index.generation,
                         profile=profile, index=pipeline.index)


def load_answer(book, answer_id: str) -> AnswerRecord:
    record = load_record(book.db, record_id=answer_id)
    if record is None or record.kind != Kind.ANSWER:
        raise ReviewError(f"no recorded answer {answer_id!r}; `regcite review list` shows them")
    return answer_from_record(record)


def answer_from_record(record: Record) -> AnswerRecord:
    b = record.body
    return AnswerRecord(
        answer_id=record.record_id, seq=record.seq, asked_at=record.at, user=record.user, entry=b["entry"],
        question=b["question"], filters=filters_from_dict(b["filters"]), backend=b["backend"], model=b["model"],
        profile=b.get("profile", ""), prompt_sha256=b.get("prompt_sha256", ""),
        generation=int(b.get("index_generation", 0)),
        retrieved=tuple(RetrievedClause(**r) for r in b["retrieved"]),
        cited=tuple(CitedClause(
            c["clause_id"], c["version_id"], c["doc_id"], c["reference"], c["document_title"], c["text"],
            PageSpan(c["page_span"]["first"], c["page_span"]["last"]), parse_day_or_none(c["effective_from"]),
            parse_day_or_none(c["effective_to"]), c["source_path"]) for c in b["cited"]),
        text=b["text"], sentences=tuple(sentence_from_dict(s) for s in b["sentences"]), abstained=b["abstained"],
        fallback_reason=b.get("fallback_reason", ""), notes=tuple(b.get("notes", ())),
        timings_ms=dict(b.get("timings_ms", {})), record_hash=record.hash, reasoning=b.get("reasoning", ""),
        dropped_markers=int(b.get("dropped_markers", 0)),
    )
