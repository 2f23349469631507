"""The core's frozen dataclasses as the API's response models, through rag.serialize's one JSON shape of each."""
from __future__ import annotations

from datetime import date

from api.errors import bad_input
from api.schemas import (AnswerOut, ClauseOut, DecisionOut, DecisionSummary, DocumentOut, FiltersIn, HitOut,
                         RetrievedOut, RulingOut, SentenceOut, VersionOut)
from rag.records.answers import AnswerRecord
from rag.serialize import citation_to_dict, filters_to_dict, hit_to_dict, sentence_to_dict
from rag.types import Filters, Hit, Kind


def filters_of(given: FiltersIn, as_of: date | None, index) -> Filters:
    """Request filters as the core's Filters, dated today unless told; unknown instruments are named, not ignored."""
    known = {v.doc_id for v in index.documents.values()}
    unknown = [d for d in given.doc_ids if d not in known]
    if unknown:
        raise bad_input(f"no indexed document {', '.join(map(repr, unknown))}; GET /v1/documents lists them")
    return Filters(doc_ids=tuple(given.doc_ids), jurisdictions=tuple(given.jurisdictions),
                   kinds=tuple(Kind(k) for k in given.kinds), languages=tuple(given.languages),
                   as_of=as_of or date.today())


def answer_out(record: AnswerRecord, decisions=(), state: str = "pending") -> AnswerOut:
    sentences = [sentence_to_dict(s) for s in record.sentences]
    return AnswerOut(
        answer_id=record.answer_id, asked_at=record.asked_at, user=record.user, entry=record.entry,
        question=record.question, filters=filters_to_dict(record.filters), as_of=record.filters.as_of,
        text=record.text, sentences=[SentenceOut.model_validate(s) for s in sentences],
        citations=[citation_to_dict(c) for s in record.sentences for c in s.citations],
        abstained=record.abstained, backend=record.backend, model=record.model,
        fallback_reason=record.fallback_reason, notes=list(record.notes), timings_ms=dict(record.timings_ms),
        reasoning=record.reasoning, dropped_markers=record.dropped_markers, index_generation=record.generation,
        retrieved=[RetrievedOut(rank=r.rank, clause_id=r.clause_id, version_id=r.version_id, doc_id=r.doc_id,
                                reference=r.reference, score=r.score, via=r.via) for r in record.retrieved],
        state=state,
        decisions=[DecisionSummary(decision_id=d.decision_id, reviewer=d.reviewer, decided_at=d.decided_at,
                                   outcome=d.outcome.value, comment=d.comment) for d in decisions],
    )


def hit_out(rank: int, hit: Hit) -> HitOut:
    return HitOut.model_validate(hit_to_dict(rank, hit) | {"text": hit.clause.text})


def documents_out(index) -> list[DocumentOut]:
    from rag.versions import chain

    counts: dict[str, int] = {}
    for c in index.clauses:
        counts[c.version_id] = counts.get(c.version_id, 0) + 1
    out = []
    for doc_id in sorted({d.doc_id for d in index.documents.values()}):
        versions = chain(index.documents, doc_id)
        latest = versions[-1]
        out.append(DocumentOut(
            doc_id=doc_id, title=latest.title, kind=latest.kind.value, jurisdiction=latest.jurisdiction,
            language=latest.language,
            versions=[VersionOut(version_id=v.version_id, effective_from=v.effective_from, effective_to=v.effective_to,
                                 effective_source=v.effective_source or None, status=v.status.value, pages=v.pages,
                                 clauses=counts.get(v.version_id, 0), ingested_at=v.ingested_at,
                                 source_path=v.source_path) for v in versions]))
    return out


def clause_out(index, clause) -> ClauseOut:
    d = index.document_of(clause)
    return ClauseOut(
        clause_id=clause.clause_id, reference=clause.reference, path=list(clause.path), headings=list(clause.headings),
        text=clause.text, pages=str(clause.page_span),
        page_span={"first": clause.page_span.first, "last": clause.page_span.last}, part=clause.part,
        doc_id=d.doc_id, version_id=d.version_id, document_title=d.title, effective_from=d.effective_from,
        effective_to=d.effective_to, status=d.status.value)


def decision_out(decision, state) -> DecisionOut:
    return DecisionOut(
        decision_id=decision.decision_id, answer_id=decision.answer_id, reviewer=decision.reviewer,
        decided_at=decision.decided_at, outcome=decision.outcome.value, comment=decision.comment,
        rulings=[RulingOut(sentence=c.sentence + 1, marker=c.marker, clause_id=c.clause_id, action=c.action.value,
                           reason=c.reason.value if c.reason else None,
                           correction_clause_id=c.correction.clause_id if c.correction else None, comment=c.comment)
                 for c in decision.citations],
        state=state.value)
