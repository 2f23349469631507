"""Answers as plain JSON values: one shape for `ask --json`, eval results, and every later record of an answer."""
from __future__ import annotations

from datetime import date

from rag.types import Answer, Citation, Filters, Hit, Kind, PageSpan, Sentence, Verdict


def citation_to_dict(citation: Citation) -> dict:
    c = citation
    return {
        "marker": c.marker, "clause_id": c.clause_id, "reference": c.reference, "document_title": c.document_title,
        "version_id": c.version_id, "pages": str(c.page_span),
        "page_span": {"first": c.page_span.first, "last": c.page_span.last},
        "quote": c.quote, "verdict": c.verdict.value, "score": c.score,
        # the cited version: null dates where the range is open or the date unknown
        "effective_from": day_or_none(c.effective_from), "effective_to": day_or_none(c.effective_to),
        "source_path": c.source_path,
    }


def sentence_to_dict(sentence: Sentence) -> dict:
    return {"text": sentence.text, "verdict": sentence.verdict.value, "problems": list(sentence.problems),
            "citations": [citation_to_dict(c) for c in sentence.citations]}


def hit_to_dict(rank: int, hit: Hit) -> dict:
    """A retrieved clause by reference and scores; its text stays in the index (clause_id finds it)."""
    c, d = hit.clause, hit.document
    return {
        "rank": rank, "clause_id": c.clause_id, "reference": c.reference, "doc_id": d.doc_id,
        "version_id": d.version_id, "document_title": d.title, "kind": d.kind.value,
        "jurisdiction": d.jurisdiction, "language": d.language, "pages": str(c.page_span),
        "score": hit.score, "dense_score": hit.dense_score, "lexical_score": hit.lexical_score, "via": hit.via,
        "effective_from": day_or_none(d.effective_from), "effective_to": day_or_none(d.effective_to),
        "status": d.status.value,
    }


def answer_to_dict(answer: Answer) -> dict:
    """Everything an Answer holds, JSON-ready; `citations` repeats the sentences' citations in order."""
    return {
        "question": answer.question, "text": answer.text, "abstained": answer.abstained,
        "sentences": [sentence_to_dict(s) for s in answer.sentences],
        "citations": [citation_to_dict(c) for c in answer.citations],
        "hits": [hit_to_dict(i, h) for i, h in enumerate(answer.hits, 1)],
        "backend": answer.backend, "model": answer.model, "timings_ms": dict(answer.timings_ms),
        "reasoning": answer.reasoning, "fallback_reason": answer.fallback_reason,
        "dropped_markers": answer.dropped_markers, "as_of": day_or_none(answer.as_of), "notes": list(answer.notes),
        "prompt_sha256": answer.prompt_sha256,
    }


def citation_from_dict(row: dict) -> Citation:
    span = row["page_span"]
    return Citation(
        marker=row["marker"], clause_id=row["clause_id"], reference=row["reference"],
        document_title=row["document_title"], version_id=row["version_id"],
        page_span=PageSpan(int(span["first"]), int(span["last"])), quote=row["quote"], verdict=Verdict(row["verdict"]),
        score=float(row["score"]), effective_from=parse_day_or_none(row.get("effective_from")),
        effective_to=parse_day_or_none(row.get("effective_to")), source_path=row.get("source_path", ""),
    )


def sentence_from_dict(row: dict) -> Sentence:
    return Sentence(row["text"], tuple(citation_from_dict(c) for c in row["citations"]), Verdict(row["verdict"]),
                    tuple(row.get("problems", ())))


def filters_to_dict(filters: Filters) -> dict:
    return {"doc_ids": list(filters.doc_ids), "jurisdictions": list(filters.jurisdictions),
            "kinds": [k.value for k in filters.kinds], "languages": list(filters.languages),
            "as_of": day_or_none(filters.as_of)}


def filters_from_dict(row: dict) -> Filters:
    return Filters(tuple(row.get("doc_ids", ())), tuple(row.get("jurisdictions", ())),
                   tuple(Kind(k) for k in row.get("kinds", ())), tuple(row.get("languages", ())),
                   parse_day_or_none(row.get("as_of")))


def day_or_none(value: date | None) -> str | None:
    return value.isoformat() if value else None


def parse_day_or_none(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None
